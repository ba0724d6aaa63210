"""The registry of published pipelines, endpoints, schedules, drafts and modules: one place for ids,
read, list, write and delete of records on the workspace's default datastore."""

from __future__ import annotations

import json

import pytest

from airflow_azml.core.workspace import Workspace
from airflow_azml.pipeline.core import registry


@pytest.fixture
def ws(tmp_path):
    store = tmp_path / "store"
    config = {
        "workspace_name": "ws",
        "datastores": {"workspaceblobstore": {"type": "local", "path": str(store)}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    return Workspace.from_config(tmp_path / "config.json")


@pytest.mark.parametrize(
    ("text", "ident"),
    [("train pipe-v1", "train_pipe-v1"), ("__x__", "x"), ("a/b\\c", "a_b_c"), ("", "x"), ("ok.v2", "ok.v2")],
)
def test_ids_are_safe_and_stable(text, ident):
    assert registry.safe_id(text) == ident
    assert registry.safe_id(ident) == ident


def test_every_kind_has_one_folder():
    assert registry.record_path("pipelines", "p v1") == ".azml/published/pipelines/p_v1.json"
    assert registry.record_path("modules", "abc") == ".azml/modules/abc.json"
    assert set(registry.KINDS) == {"pipelines", "submitted", "endpoints", "schedules", "drafts", "modules"}


def test_records_round_trip_on_the_default_datastore(ws, tmp_path):
    assert registry.entries(ws, "drafts") == [] and registry.read(ws, "drafts", "d1") is None
    registry.write(ws, "drafts", "d 1", {"id": "d 1", "n": 1})
    registry.write(ws, "drafts", "d2", {"id": "d2", "n": 2})
    (tmp_path / "store" / ".azml/published/drafts/nested").mkdir()
    (tmp_path / "store" / ".azml/published/drafts/nested/not_a_record.json").write_text("{}")
    assert (tmp_path / "store" / ".azml/published/drafts/d_1.json").is_file()
    assert registry.read(ws, "drafts", "d 1") == {"id": "d 1", "n": 1}
    assert registry.exists(ws, "drafts", "d 1") and not registry.exists(ws, "drafts", "d3")
    assert sorted(e["n"] for e in registry.entries(ws, "drafts")) == [1, 2]
    registry.delete(ws, "drafts", "d 1")
    assert [e["id"] for e in registry.entries(ws, "drafts")] == ["d2"]
    assert registry.entries(ws, "schedules") == []
