"""bench/bench_data.py runs end to end at a tiny size (the figures themselves are not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.azurite import AzuriteServer, require_azurite


def test_bench_data_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_azurite()
    import bench.bench_data as bench

    monkeypatch.setattr(bench, "SIZE", 3 << 20)
    monkeypatch.setenv("AZML_HOME", str(tmp_path / "home"))
    local = bench.local_handoff(tmp_path / "local")
    assert local["bytes"] == 3 << 20 and local["handoff_s"] > 0 and local["cp_s"] > 0
    with AzuriteServer() as azurite:
        for key, value in azurite.airflow_conn_env("bench_blob", "wasb").items():
            monkeypatch.setenv(key, value)
        blob = bench.blob_datastore(tmp_path / "blob", azurite)
        same, other = bench.transfer(tmp_path / "blob", azurite)
    assert blob["ratio"] > 0 and same["ratio"] > 0 and other["bytes"] == 3 << 20
