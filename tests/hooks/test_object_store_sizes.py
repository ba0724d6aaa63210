"""ObjectStore.sizes: file sizes below a path from one listing (the asset events' ``size``), on Azurite."""

from __future__ import annotations

from pathlib import Path

from airflow_azml.execution.lineage_events import content_stat
from airflow_azml.provider.hooks.object_store import ObjectStore


def test_sizes_of_a_committed_folder_and_a_file(blob_conn: str, container: str, tmp_path: Path) -> None:
    store = ObjectStore(blob_conn, container)
    src = tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_bytes(b"a,b\n1,2\n")
    (src / "sub" / "b.bin").write_bytes(b"\x00" * 5000)
    store.commit(src, "azureml/r1/prep/out")  # with its manifest: markers are not counted
    assert store.sizes("azureml/r1/prep/out") == {
        "azureml/r1/prep/out/a.csv": 8,
        "azureml/r1/prep/out/sub/b.bin": 5000,
    }
    assert store.sizes("azureml/r1/prep/out/a.csv") == {"azureml/r1/prep/out/a.csv": 8}
    stat = content_stat(store, "azureml/r1/prep/out")
    assert stat == {"size": 5008, "files": 2, "version": store.version("azureml/r1/prep/out")}
