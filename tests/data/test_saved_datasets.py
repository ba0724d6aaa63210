"""Dataset ids: 'name:version' for registered versions, a saved definition for datasets a run used."""

from __future__ import annotations

import pytest

from airflow_azml.core import Dataset, Workspace
from airflow_azml.data.saved import save_datasets
from airflow_azml.exceptions import DatasetNotFoundError


def test_saved_dataset_comes_back_by_id(azml_home):
    ws = Workspace()
    web = Dataset.File.from_files("https://example.invalid/iris/iris.csv")
    with pytest.raises(DatasetNotFoundError, match="No dataset"):
        Dataset.get_by_id(ws, web.id).to_path()  # not saved yet: no run used it
    save_datasets(ws, [web, 3, "text", None])
    back = Dataset.get_by_id(ws, web.id)
    assert back.definition == web.definition and back.id == web.id
    assert back.to_path() == ["/iris.csv"]  # listing a web file fetches nothing


def test_registered_ids_are_name_and_version(azml_home):
    ws = Workspace()
    first = Dataset.File.from_files("https://example.invalid/a.csv").register(ws, "web_files")
    Dataset.File.from_files("https://example.invalid/b.csv").register(
        ws, "web_files", create_new_version=True
    )
    assert first.id == "web_files:1"
    assert Dataset.get_by_id(ws, "web_files:1").to_path() == ["/a.csv"]
    assert Dataset.get_by_id(ws, "web_files").to_path() == ["/b.csv"]  # a bare name: the latest
