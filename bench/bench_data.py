"""Data passing: handoff on the local datastore, a Blob datastore on Azurite, DataTransferStep.

1. **local handoff**: a step's 1 GiB output is published (OutputStager.commit: a rename) and
   the next step's input resolved (InputResolver: read in place) — against ``cp`` of the same
   file. Target: under 5% of the copy (i.e. no copy at all).
2. **blob datastore**: the same bytes published to an Azurite Blob datastore (ObjectStore.commit:
   parallel-block upload under a hidden prefix, server-side copy, manifest) and read back by
   the consumer (cached_copy) — against azure-storage-blob ``upload_blob`` + ``download_blob``
   (both with max_concurrency=4 per blob). Ratio = SDK time / ours; target ≥ 0.8.
3. **DataTransferStep**: copy_files blob -> blob (what the operator runs). Same account: Blob
   server-side copies, against the SDK's ``start_copy_from_url``; across accounts (another
   connection): through the worker, against the SDK's download_blob + upload_blob.
   Ratio = SDK time / ours.

``AZML_BENCH_DATA_BYTES`` sets the size (default 1 GiB); tests run it with a few MiB.
Run: ``python -m bench.bench_data``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import REPO, report

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SIZE = int(os.environ.get("AZML_BENCH_DATA_BYTES", str(1 << 30)))


class _Log:
    def info(self, *a: Any) -> None: ...

    def warning(self, *a: Any) -> None: ...


def _make_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= len(block)
    return path


def _drop(path: Path) -> None:
    subprocess.run(["rm", "-rf", str(path)], check=False)


def local_handoff(tmp: Path) -> dict[str, Any]:
    """Publish + resolve through the real execution classes vs ``cp``."""
    os.environ["AZML_HOME"] = str(tmp / "home")
    from airflow_azml.core.workspace import Workspace
    from airflow_azml.execution.inputs import InputResolver
    from airflow_azml.execution.outputs import OutputStager

    ws = Workspace()
    spec = {"name": "big", "kind": "pipeline_data", "datastore": None, "mode": "mount"}
    stager = OutputStager(ws, tmp / "work", "run1", "produce", "try_1", "bench")
    staged = stager.prepare(spec)
    _make_file(staged / "data.bin", SIZE)
    began = time.perf_counter()
    published = stager.commit(_Log())
    resolver = InputResolver(ws, tmp / "work2", {}, {"produce": published}, "consume")
    given, _record = resolver.resolve(
        {"name": "big", "source": "step_output", "step": "produce", "output": "big", "mode": "mount"}
    )
    handoff = time.perf_counter() - began
    src = Path(given["path"]) / "data.bin"
    assert src.stat().st_size == SIZE
    began = time.perf_counter()
    subprocess.run(["cp", str(src), str(tmp / "copy.bin")], check=True)
    copy = time.perf_counter() - began
    _drop(tmp / "copy.bin")
    _drop(tmp / "home")
    return {
        "what": "local handoff vs cp",
        "bytes": SIZE,
        "handoff_s": handoff,
        "cp_s": copy,
        "ratio": handoff / copy,
        "target": "< 0.05",
    }


def _azurite_env(azurite: Any) -> None:
    os.environ.update(azurite.airflow_conn_env("bench_blob", "wasb"))


def blob_datastore(tmp: Path, azurite: Any) -> dict[str, Any]:
    from airflow_azml.data.cache import cached_copy
    from airflow_azml.provider.hooks.object_store import ObjectStore

    azurite.create_container("bench")
    os.environ["AZML_HOME"] = str(tmp / "home")
    store = ObjectStore("bench_blob", "bench")
    store.fs  # noqa: B018 - build the client (and import Airflow) outside the timing
    staged = _make_file(tmp / "staged" / "data.bin", SIZE)
    began = time.perf_counter()
    store.commit(staged.parent, "azureml/run1/produce/big")
    local = cached_copy(store, "azureml/run1/produce/big")
    ours = time.perf_counter() - began
    assert (local / "data.bin").stat().st_size == SIZE
    _drop(tmp / "home")
    container = azurite.blob_service_client().get_container_client("bench")
    began = time.perf_counter()
    with open(staged, "rb") as fh:
        container.get_blob_client("sdk/data.bin").upload_blob(fh, overwrite=True, max_concurrency=4)
    with open(tmp / "sdk_dl.bin", "wb") as fh:
        container.get_blob_client("sdk/data.bin").download_blob(max_concurrency=4).readinto(fh)
    sdk = time.perf_counter() - began
    _drop(tmp / "sdk_dl.bin")
    return {
        "what": "blob datastore publish+read vs azure-storage-blob",
        "bytes": SIZE,
        "ours_s": ours,
        "sdk_s": sdk,
        "ratio": sdk / ours,
        "target": ">= 0.8",
    }


def transfer(tmp: Path, azurite: Any) -> list[dict[str, Any]]:
    """Same account (server-side Copy Blob) and across accounts (through the worker), each vs the SDK."""
    from airflow_azml.provider.hooks.object_store import ObjectStore
    from airflow_azml.provider.operators.data_transfer import copy_files

    azurite.create_container("bench2")
    os.environ.update(azurite.airflow_conn_env("bench_blob_other", "wasb"))  # "another account"
    src = ObjectStore("bench_blob", "bench")
    service = azurite.blob_service_client()
    rows = []
    for label, dest in (
        ("same account", ObjectStore("bench_blob", "bench2")),
        ("other account", ObjectStore("bench_blob_other", "bench2")),
    ):
        staging = tmp / f"xfer_{label.replace(' ', '_')}"
        staging.mkdir(parents=True)
        began = time.perf_counter()
        stats = copy_files(
            src, "azureml/run1/produce/big", dest, f"copies/{label}", "directory", None, staging
        )
        ours = time.perf_counter() - began
        assert stats["bytes"] == SIZE
        _drop(staging)
        sdk = _sdk_copy(tmp, service, server_side=label == "same account")
        rows.append(
            {
                "what": f"DataTransferStep blob->blob, {label}",
                "bytes": SIZE,
                "ours_s": ours,
                "sdk_s": sdk,
                "sdk_way": "start_copy_from_url" if label == "same account" else "download_blob+upload_blob",
                "MiB_per_s": SIZE / ours / (1 << 20),
                "ratio": sdk / ours,
                "target": ">= 0.8",
            }
        )
    return rows


def _sdk_copy(tmp: Path, service: Any, *, server_side: bool) -> float:
    source = service.get_blob_client("bench", "sdk/data.bin")
    target = service.get_blob_client("bench2", f"sdk/{'server' if server_side else 'worker'}.bin")
    began = time.perf_counter()
    if server_side:
        target.start_copy_from_url(source.url)
        while target.get_blob_properties().copy.status == "pending":
            time.sleep(0.1)
    else:
        with open(tmp / "sdk_x.bin", "wb") as fh:
            source.download_blob(max_concurrency=4).readinto(fh)
        with open(tmp / "sdk_x.bin", "rb") as fh:
            target.upload_blob(fh, overwrite=True, max_concurrency=4)
    elapsed = time.perf_counter() - began
    _drop(tmp / "sdk_x.bin")
    return elapsed


def main() -> int:
    from tests.support.azurite import AzuriteServer, azurite_missing_reason

    logging.getLogger("azure").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="azml-bench-data-") as tmp_name:
        tmp = Path(tmp_name)
        rows.append(local_handoff(tmp / "local"))
        reason = azurite_missing_reason()
        if reason:
            print(f"(skipping the Blob figures: {reason})")
        else:
            with AzuriteServer(location=tmp / "azurite") as azurite:
                _azurite_env(azurite)
                rows.append(blob_datastore(tmp / "blob", azurite))
                rows += transfer(tmp / "blob", azurite)
    name = os.environ.get("AZML_BENCH_DATA_NAME", "data")
    report(name, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
