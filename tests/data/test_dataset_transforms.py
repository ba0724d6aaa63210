"""Lazy tabular/file transforms as v1 had them: take, skip, random_split, drop/keep columns.

Each returns a new, unregistered dataset whose definition records the step, so the result
survives registration and a trip through a plan; nothing is read until the data is asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Workspace
from airflow_azml.exceptions import UserErrorException


@pytest.fixture
def ws(azml_home) -> Workspace:
    workspace = Workspace()
    root = Path(workspace.get_default_datastore().store.local_path(""))
    (root / "t").mkdir(parents=True)
    (root / "t" / "rows.csv").write_text(
        "id,name,score\n" + "".join(f"{i},n{i},{i * 10}\n" for i in range(20))
    )
    for i in range(6):
        (root / "files").mkdir(parents=True, exist_ok=True)
        (root / "files" / f"f{i}.txt").write_text(str(i))
    return workspace


def _table(ws: Workspace):
    return Dataset.Tabular.from_delimited_files((ws.get_default_datastore(), "t/rows.csv"))


def test_take_skip_and_columns(ws):
    ds = _table(ws)
    assert ds.skip(18).to_pandas_dataframe()["id"].tolist() == [18, 19]
    assert ds.skip(5).take(2).to_pandas_dataframe()["id"].tolist() == [5, 6]
    assert list(ds.drop_columns(["name", "missing"]).to_pandas_dataframe().columns) == ["id", "score"]
    assert list(ds.keep_columns("score").to_pandas_dataframe().columns) == ["score"]
    with pytest.raises(UserErrorException, match="not columns"):
        ds.keep_columns(["nope"]).to_pandas_dataframe()
    assert "transforms" not in ds.definition  # the original is unchanged


def test_random_split_is_a_partition_and_repeatable(ws):
    ds = _table(ws)
    train, test = ds.random_split(0.7, seed=11)
    a, b = train.to_pandas_dataframe()["id"].tolist(), test.to_pandas_dataframe()["id"].tolist()
    assert sorted(a + b) == list(range(20)) and not set(a) & set(b) and a and b
    again, _ = ds.random_split(0.7, seed=11)
    assert again.to_pandas_dataframe()["id"].tolist() == a
    with pytest.raises(UserErrorException, match="between 0 and 1"):
        ds.random_split(1.5)


def test_file_datasets_pick_files(ws):
    files = Dataset.File.from_files((ws.get_default_datastore(), "files"))
    assert files.take(2).to_path() == ["/f0.txt", "/f1.txt"]
    assert files.skip(4).to_path() == ["/f4.txt", "/f5.txt"]
    first, second = files.random_split(0.5, seed=3)
    assert sorted(first.to_path() + second.to_path()) == files.to_path()


def test_transforms_survive_registration(ws):
    _table(ws).skip(10).keep_columns(["id"]).register(ws, "tail_ids")
    back = Dataset.get_by_name(ws, "tail_ids").to_pandas_dataframe()
    assert back.columns.tolist() == ["id"] and back["id"].tolist() == list(range(10, 20))
