"""Partitioned datasets: partition_format, partition_keys, get_partition_key_values, filter and
partition_by, on a real local datastore folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from airflow_azml.core import Dataset, Workspace
from airflow_azml.data import DataPath
from airflow_azml.data.partitions import parse_partition_format
from airflow_azml.exceptions import UserErrorException

USERS = {"alice": ["01", "02"], "bob": ["02"]}


@pytest.fixture
def ws(azml_home) -> Workspace:
    workspace = Workspace()
    root = Path(workspace.get_default_datastore().store.local_path(""))
    for user, days in USERS.items():
        for day in days:
            path = root / "events" / user / "2024" / "05" / day / "events.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"amount,kind\n{len(user)},buy\n{int(day)},sell\n")
    (root / "events" / "README.txt").write_text("not a partition")
    return workspace


def _events(ws: Workspace, kind: str = "tabular"):
    store = ws.get_default_datastore()
    fmt = "/{userid}/{year}/{month}/{day}/*.csv"
    if kind == "file":
        return Dataset.File.from_files((store, "events/**/*.csv"), partition_format=fmt)
    return Dataset.Tabular.from_delimited_files((store, "events/**/*.csv"), partition_format=fmt)


def test_format_reads_values_from_the_tail_of_a_path():
    fmt = parse_partition_format("/{Department}/{PartitionDate:yyyy/MM/dd}/data.parquet")
    assert fmt.keys == ("Department", "PartitionDate")
    assert fmt.values("/raw/Accounts/2019/01/31/data.parquet") == {
        "Department": "Accounts",
        "PartitionDate": dt.datetime(2019, 1, 31),
    }
    assert fmt.values("/raw/Accounts/2019/01/31/other.parquet") is None
    one_level = parse_partition_format("/{region}/*.csv")  # '*' stays inside one folder
    assert one_level.values("/x/eu/a/c.csv") == {"region": "a"}
    two_levels = parse_partition_format("/{region}/*/*.csv")
    assert two_levels.values("/x/eu/a/c.csv") == {"region": "eu"}
    assert parse_partition_format("/{{raw}}/{k}.csv").values("/{raw}/v1.csv") == {"k": "v1"}
    folder_first = parse_partition_format("dataset_partition_test/{user}/{season}/{genres}.wav")
    assert folder_first.values("/dataset_partition_test/user1/winter/disco.wav") == {
        "user": "user1",
        "season": "winter",
        "genres": "disco",
    }


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/data/*.csv", "names no partition key"),
        ("/{}/x.csv", "no column name"),
        ("/{a:yyyy}/{b:MM}/x", "only one part"),
        ("/{d:MM/dd}/x", "needs 'yyyy'"),
        ("/{a/x.csv", "pairs"),
        ("/{d:}/x", "no date format"),
    ],
)
def test_bad_formats_are_refused_when_the_dataset_is_built(text, why, azml_home):
    with pytest.raises(UserErrorException, match=why):
        Dataset.File.from_files("https://example.invalid/a.csv", partition_format=text)


def test_tabular_rows_carry_their_partition_columns(ws):
    ds = _events(ws)
    assert ds.partition_keys == ["userid", "year", "month", "day"]
    frame = ds.to_pandas_dataframe()
    assert len(frame) == 6
    assert set(frame.columns) == {"amount", "kind", "userid", "year", "month", "day"}
    assert frame[frame["userid"] == "bob"]["day"].tolist() == ["02", "02"]


def test_get_partition_key_values(ws):
    ds = _events(ws)
    assert ds.get_partition_key_values(["userid"]) == [{"userid": "alice"}, {"userid": "bob"}]
    assert {tuple(v.values()) for v in ds.get_partition_key_values()} == {
        ("alice", "2024", "05", "01"),
        ("alice", "2024", "05", "02"),
        ("bob", "2024", "05", "02"),
    }
    with pytest.raises(UserErrorException, match="not partition keys"):
        ds.get_partition_key_values(["country"])
    plain = Dataset.Tabular.from_delimited_files((ws.get_default_datastore(), "events/**/*.csv"))
    with pytest.raises(UserErrorException, match="no partition keys"):
        plain.get_partition_key_values()


def test_filters_on_partitions_and_on_columns(ws):
    ds = _events(ws)
    only_bob = ds.filter(ds["userid"] == "bob")
    assert only_bob.get_partition_key_values(["userid"]) == [{"userid": "bob"}]
    assert only_bob.to_pandas_dataframe()["amount"].tolist() == [3, 2]
    mixed = ds.filter((ds["day"] == "02") & (ds["kind"] == "sell"))
    assert mixed.to_pandas_dataframe()[["userid", "amount"]].values.tolist() == [["alice", 2], ["bob", 2]]
    text = ds.filter(ds["userid"].starts_with("al") & ~(ds["day"] == "01"))
    assert text.to_pandas_dataframe()["userid"].unique().tolist() == ["alice"]
    assert len(ds.filter(ds["amount"] > 4).take(1).to_pandas_dataframe()) == 1
    with pytest.raises(UserErrorException, match="not columns"):
        ds.filter(ds["nope"] == 1).to_pandas_dataframe()
    with pytest.raises(UserErrorException, match="no truth value"):
        ds.filter(ds["a"] == 1 and ds["b"] == 2)


def test_file_dataset_partitions_filter_and_metadata(ws, tmp_path):
    files = _events(ws, "file")
    assert files.partition_keys == ["userid", "year", "month", "day"]
    alice = files.filter(files["userid"] == "alice")
    assert alice.to_path() == ["/01/events.csv", "/02/events.csv"]
    assert [Path(p).parent.name for p in alice.download(str(tmp_path / "dl"))] == ["01", "02"]
    big = files.filter(files.file_metadata("Size") > 1000)
    assert big.to_path() == []
    csv = files.filter(files.file_metadata("Extension") == "csv")
    assert len(csv.to_path()) == 3
    with pytest.raises(UserErrorException, match="partition keys"):
        files.filter(files["amount"] > 1).to_path()


def test_filtered_dataset_registers_and_comes_back_filtered(ws):
    ds = _events(ws)
    ds.filter(ds["userid"] == "bob").register(ws, "bob_events")
    back = Dataset.get_by_name(ws, "bob_events")
    assert back.partition_keys == ["userid", "year", "month", "day"]
    assert back.to_pandas_dataframe()["userid"].unique().tolist() == ["bob"]


def test_partition_by_writes_parquet_folders_and_registers(ws, capsys):
    store = ws.get_default_datastore()
    source = Dataset.Tabular.from_delimited_files((store, "events/**/*.csv"))
    parted = source.partition_by(["kind", "amount"], target=DataPath(store, "by_kind"), name="by_kind")
    assert (parted.name, parted.version) == ("by_kind", 1)
    assert "Uploading files to workspaceblobstore/by_kind/" in capsys.readouterr().out
    assert parted.partition_keys == ["kind", "amount"]
    assert parted.get_partition_key_values(["kind"]) == [{"kind": "buy"}, {"kind": "sell"}]
    frame = parted.to_pandas_dataframe().sort_values(["kind", "amount"]).reset_index(drop=True)
    assert frame["amount"].dtype == "int64"  # the files keep the key columns with their type
    assert frame[["kind", "amount"]].values.tolist() == [
        ["buy", 3], ["buy", 5], ["buy", 5], ["sell", 1], ["sell", 2], ["sell", 2],
    ]  # fmt: skip
    root = Path(store.store.local_path("by_kind"))
    (guid,) = [p.name for p in root.iterdir()]
    assert (root / guid / "buy" / "5" / "part-00000.parquet").is_file()
    again = Dataset.get_by_name(ws, "by_kind")
    assert len(again.to_pandas_dataframe()) == 6


def test_partition_by_as_file_dataset_and_dates(ws):
    store = ws.get_default_datastore()
    root = Path(store.store.local_path(""))
    pd.DataFrame(
        {"when": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]), "v": [1, 2, 3]}
    ).to_parquet(root / "dated.parquet", index=False)
    source = Dataset.Tabular.from_parquet_files((store, "dated.parquet"))
    files = source.partition_by(
        ["when"], target=(store, "dated_parts"), show_progress=False, partition_as_file_dataset=True
    )
    assert type(files).__name__ == "FileDataset" and files.name is None
    assert files.get_partition_key_values() == [
        {"when": dt.datetime(2024, 1, 1)},
        {"when": dt.datetime(2024, 2, 1)},
    ]
    assert all(p.startswith("/2024") for p in files.to_path())
    with pytest.raises(UserErrorException, match="not columns"):
        source.partition_by(["missing"], target=store, show_progress=False)
    with pytest.raises(UserErrorException, match="cannot be empty"):
        source.partition_by([], target=store, show_progress=False)
    with pytest.raises(UserErrorException, match="not supported"):
        source.partition_by(["v"], target="somewhere", show_progress=False)
