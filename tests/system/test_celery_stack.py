"""The distributed topology of docker-compose.yaml, natively: CeleryExecutor on Redis, metadata on
PostgreSQL, Azurite as the default Blob datastore, two Celery workers (queues cpu and gpu) — and the
faults it must survive: a worker SIGKILLed mid-step, the scheduler killed and restarted mid-run,
Azurite stalled during an upload, 20 runs triggered at once.

Every figure lands in a summary printed at the end of the module and written to
tests/system/artifacts/celery_summary.json.
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import secrets
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_azml.execution.records import RunRecords, run_slug
from tests.support.azurite import AzuriteServer, require_azurite
from tests.support.celery_stack import BLOB_CONN_ID, CONTAINER, Worker, celery_stack, workspace_config
from tests.support.live_airflow import LiveAirflow, free_port

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ARTIFACT = HERE / "artifacts" / "celery_summary.json"
CPU, GPU = Worker("cpu", queues=("cpu", "batch")), Worker("gpu", queues=("gpu", "batch"))
TARGETS = {
    name: {"type": "AmlCompute", "queue": name, "retries": 2, "retry_delay": 2}
    for name in ("cpu", "gpu", "batch")
}  # batch: a cluster of both workers (the ParallelRunStep's nodes)
DAGS = ("celery_routes", "celery_slow", "celery_chain", "celery_many", "celery_upload", "celery_parallel")


class Summary:
    """What the module held, injected and checked; printed and written when the module ends."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.figures: dict[str, Any] = {
            "runs_held": 0,
            "faults_injected": 0,
            "faults_survived": 0,
            "outputs_checked": 0,
            "data_lost": 0,
            "faults": {},
        }

    def output(self, ok: bool) -> bool:
        """Count one checked output; a wrong or missing one is data lost."""
        self.figures["outputs_checked"] += 1
        self.figures["data_lost"] += 0 if ok else 1
        return ok

    def fault(self, name: str, figures: dict[str, Any]) -> None:
        self.figures["faults"][name] = figures
        print(f"\n[{name}] " + json.dumps(figures, default=str))

    def write(self) -> dict[str, Any]:
        self.figures["module_seconds"] = round(time.monotonic() - self.began, 1)
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(json.dumps(self.figures, indent=1, default=str))
        return self.figures


@pytest.fixture(scope="module")
def summary(request: pytest.FixtureRequest) -> Iterator[Summary]:
    result = Summary()
    yield result
    figures = result.write()
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n=== Celery stack summary ===")
        for key in ("runs_held", "faults_injected", "faults_survived", "outputs_checked", "data_lost"):
            print(f"{key:>16}: {figures[key]}")
        for name, fault in figures["faults"].items():
            print(f"{name:>16}: {json.dumps(fault, default=str)}")
        print(f"{'module seconds':>16}: {figures['module_seconds']}  (written to {ARTIFACT})")


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    require_azurite()  # a fixed port and data folder: the "down" fault starts it again on both
    with AzuriteServer(location=tmp_path_factory.mktemp("azurite"), port=free_port()) as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, azurite: AzuriteServer, summary: Summary
) -> Iterator[LiveAirflow]:
    root = tmp_path_factory.mktemp("celery")
    dags = root / "dags"
    shutil.copytree(HERE / "celery_dags", dags, ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    (dags / "config.json").write_text(json.dumps(workspace_config(TARGETS), indent=1))
    mp = pytest.MonkeyPatch()  # this process reads the Blob datastore as a consumer would
    for key, value in azurite.airflow_conn_env(BLOB_CONN_ID, conn_type="wasb").items():
        mp.setenv(key, value)
    began = time.monotonic()
    try:
        with celery_stack(dags, root, azurite, workers=(CPU, GPU)) as af:
            for dag_id in DAGS:
                af.wait_dag(dag_id)
                af.unpause(dag_id)
            summary.figures["startup_seconds"] = round(time.monotonic() - began, 1)
            summary.figures["redis_db"] = af.redis_db
            yield af
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def store(stack: LiveAirflow) -> Any:
    from airflow_azml.provider.hooks.object_store import ObjectStore

    return ObjectStore(BLOB_CONN_ID, CONTAINER)


# -- helpers -------------------------------------------------------------------------------
def records(store: Any, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    return RunRecords(store, dag_id, run_id).steps()


def output_path(record: dict[str, Any], name: str) -> str:
    return str(record["outputs"][name]["path"])


def task_instances(af: LiveAirflow, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
    resp = af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    resp.raise_for_status()
    return {ti["task_id"]: ti for ti in resp.json()["task_instances"]}


def wait_for(what: str, check: Any, timeout: float, af: LiveAirflow, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        af.check_alive()
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def token(store: Any, record: dict[str, Any], name: str) -> str:
    return store.read_bytes(f"{output_path(record, name)}/token.txt").decode()


class Watcher(threading.Thread):
    """Polls what a consumer sees at ``rel`` (ObjectStore.list_files) and keeps every distinct listing."""

    def __init__(self, store: Any, rel: str):
        super().__init__(daemon=True)
        self.store, self.rel = store, rel
        self.seen: list[tuple[str, ...]] = []
        self.polls = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                listing = tuple(self.store.list_files(self.rel))
            except Exception:  # noqa: BLE001 - a listing that fails shows nothing to a consumer
                listing = ()
            self.polls += 1
            if not self.seen or self.seen[-1] != listing:
                self.seen.append(listing)
            time.sleep(0.25)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)


# -- the topology --------------------------------------------------------------------------
def test_steps_run_on_the_worker_serving_their_queue(
    stack: LiveAirflow, store: Any, summary: Summary
) -> None:
    began = time.monotonic()
    run_id = stack.trigger("celery_routes", {"count": 5}, run_id="routes_1")
    assert stack.wait_run("celery_routes", run_id, timeout=180) == "success"
    summary.figures["runs_held"] += 1
    recs = records(store, "celery_routes", run_id)
    tis = task_instances(stack, "celery_routes", run_id)
    expected = {"make": CPU, "square": GPU, "total": CPU}
    assert {t: recs[t]["worker"] for t in expected} == {t: w.celery_hostname for t, w in expected.items()}
    assert {t: tis[t]["queue"] for t in expected} == {t: w.name for t, w in expected.items()}
    assert {recs[t]["status"] for t in expected} == {"Finished"}

    squares = output_path(recs["square"], "squares")
    assert squares.startswith("azureml/") and recs["square"]["outputs"]["squares"]["datastore"] == "blobstore"
    listed = store.list_files(squares)
    assert summary.output(listed == [f"{squares}/{i}.txt" for i in range(5)])
    total = json.loads(store.read_bytes(f"{output_path(recs['total'], 'total')}/total.json"))
    assert summary.output(total["sum"] == sum(i * i for i in range(5)) and len(total["files"]) == 5)
    assert total["worker"] == CPU.celery_hostname  # the script itself ran under the cpu worker
    summary.fault(
        "routing",
        {
            "run_seconds": round(time.monotonic() - began, 1),
            "workers": {t: recs[t]["worker"] for t in expected},
            "queues": {t: tis[t]["queue"] for t in expected},
        },
    )


# -- faults ----------------------------------------------------------------------------------
def test_sigkilled_worker_mid_step_is_retried_and_no_partial_output_shows(
    stack: LiveAirflow, store: Any, summary: Summary
) -> None:
    run_id = "slow_kill_1"
    watcher = Watcher(store, f"azureml/{run_slug(run_id)}/slow/parts")
    watcher.start()
    began = time.monotonic()
    stack.trigger("celery_slow", run_id=run_id)

    def running_two_seconds() -> bool:
        rec = RunRecords(store, "celery_slow", run_id).read_step("slow")
        return bool(rec and rec["status"] == "Running" and time.time() - rec["start"] > 3)

    wait_for("the slow step to be 3 s into its first try", running_two_seconds, 120, stack)
    summary.figures["faults_injected"] += 1
    killed_at = time.monotonic()
    pids = stack.kill(CPU.process)  # the worker, its pool, the task supervisor and the step process
    stack.restart(CPU.process)
    retry = wait_for(
        "the retried try of slow",
        lambda: (
            (r := RunRecords(store, "celery_slow", run_id).read_step("slow")) and r["try_number"] > 1 and r
        ),
        180,
        stack,
        every=0.5,
    )
    retry_started = time.monotonic()
    state = stack.wait_run("celery_slow", run_id, timeout=180)
    watcher.stop()
    assert state == "success"
    summary.figures["runs_held"] += 1
    recs = records(store, "celery_slow", run_id)
    parts = output_path(recs["slow"], "parts")
    expected = [f"{parts}/part_{i}.txt" for i in range(6)]
    complete = store.list_files(parts) == expected and all(
        store.read_bytes(f).decode() == f"part {i}\n" * 1000 for i, f in enumerate(expected)
    )
    assert summary.output(complete)
    check = json.loads(store.read_bytes(f"{output_path(recs['check'], 'summary')}/summary.json"))
    assert summary.output(check["files"] == [f"part_{i}.txt" for i in range(6)])
    partial = [s for s in watcher.seen if s and list(s) != expected]
    assert partial == [], f"a consumer saw partial output: {partial}"
    assert recs["slow"]["worker"] == CPU.celery_hostname and recs["slow"]["status"] == "Finished"
    assert recs["check"]["worker"] == GPU.celery_hostname
    assert task_instances(stack, "celery_slow", run_id)["slow"]["try_number"] == 2  # Airflow retried it
    assert store.list_files(".azml/incoming") == []
    summary.figures["faults_survived"] += 1
    summary.fault("worker_sigkill", {
        "processes_killed": len(pids), "retry_try_number": recs["slow"]["try_number"],
        "kill_to_retry_start_s": round(retry_started - killed_at, 1), "retry_record_worker": retry["worker"],
        "run_seconds": round(time.monotonic() - began, 1), "consumer_polls": watcher.polls,
        "distinct_listings_seen": len(watcher.seen), "partial_listings_seen": len(partial),
    })  # fmt: skip


def test_scheduler_killed_and_restarted_mid_run_the_run_finishes(
    stack: LiveAirflow, store: Any, summary: Summary
) -> None:
    run_id = "chain_restart_1"
    began = time.monotonic()
    stack.trigger("celery_chain", run_id=run_id)
    wait_for("step a to start", lambda: RunRecords(store, "celery_chain", run_id).read_step("a"), 120, stack)
    summary.figures["faults_injected"] += 1
    down_at = time.monotonic()
    stack.kill("scheduler")
    time.sleep(3)
    stack.restart("scheduler")
    downtime = time.monotonic() - down_at
    assert stack.wait_run("celery_chain", run_id, timeout=240) == "success"
    summary.figures["runs_held"] += 1
    recs = records(store, "celery_chain", run_id)
    assert summary.output(token(store, recs["c"], "c_token") == "abc")
    assert [recs[t]["worker"] for t in "abc"] == [
        CPU.celery_hostname,
        GPU.celery_hostname,
        CPU.celery_hostname,
    ]
    summary.figures["faults_survived"] += 1
    summary.fault("scheduler_restart", {
        "scheduler_down_s": round(downtime, 1), "run_seconds": round(time.monotonic() - began, 1),
        "tries": {t: recs[t]["try_number"] for t in "abc"},
    })  # fmt: skip


def _stall(azurite: AzuriteServer, seconds: float) -> None:
    """SIGSTOP: connections stay open, requests hang until SIGCONT."""
    azurite.pause()
    time.sleep(seconds)
    azurite.resume()


def _down(azurite: AzuriteServer, seconds: float) -> None:
    """Stop the service (connections refused), start it again on the same port and data folder."""
    azurite.stop()
    time.sleep(seconds)
    azurite.start()


@pytest.mark.parametrize(("fault", "seed", "seconds"), [("stall", 7, 6.0), ("down", 8, 5.0)])
def test_azurite_fault_during_an_upload_leaves_nothing_half_written(
    stack: LiveAirflow,
    store: Any,
    azurite: AzuriteServer,
    summary: Summary,
    fault: str,
    seed: int,
    seconds: float,
) -> None:
    run_id = f"upload_{fault}_1"
    container = azurite.blob_service_client().get_container_client(CONTAINER)
    began = time.monotonic()
    stack.trigger("celery_upload", {"seed": seed}, run_id=run_id)

    def uploading() -> int:
        return sum(1 for _ in container.list_blobs(name_starts_with=".azml/incoming/"))

    in_flight = wait_for("the bulk step's upload to start", uploading, 180, stack, every=0.05)
    summary.figures["faults_injected"] += 1
    {"stall": _stall, "down": _down}[fault](azurite, seconds)
    assert stack.wait_run("celery_upload", run_id, timeout=240) == "success"
    summary.figures["runs_held"] += 1
    recs = records(store, "celery_upload", run_id)
    blobs = output_path(recs["bulk"], "blobs")
    names = [f"blob_{i:03d}.bin" for i in range(40)]
    assert summary.output(store.list_files(blobs) == [f"{blobs}/{n}" for n in names])
    want = {
        n: hashlib.sha256(random.Random(f"{seed}-{i}").randbytes(2**20)).hexdigest()
        for i, n in enumerate(names)
    }
    got = json.loads(store.read_bytes(f"{output_path(recs['verify'], 'digests')}/digests.json"))
    assert sum(0 if summary.output(got.get(n) == want[n]) else 1 for n in names) == 0
    # half-written uploads may only ever sit under the hidden incoming prefix, never in an output
    leftovers = [b.name for b in container.list_blobs(name_starts_with=".azml/incoming/")]
    pending = [
        b.name for b in container.list_blobs(name_starts_with=blobs) if b.name.endswith("_azml_pending")
    ]
    assert pending == []
    summary.figures["faults_survived"] += 1
    summary.fault(f"azurite_{fault}", {
        "seconds": seconds, "blobs_uploaded_when_hit": in_flight, "bulk_try_number": recs["bulk"]["try_number"],
        "bulk_step_s": recs["bulk"].get("duration"), "run_seconds": round(time.monotonic() - began, 1),
        "hidden_incoming_leftovers": len(leftovers),
    })  # fmt: skip


def test_twenty_runs_at_once_all_finish_with_their_own_outputs(
    stack: LiveAirflow, store: Any, summary: Summary
) -> None:
    tags = {f"many_{i:02d}": f"t{i:02d}-{secrets.token_hex(3)}" for i in range(20)}
    began = time.monotonic()
    for run_id, tag in tags.items():
        stack.trigger("celery_many", {"tag": tag}, run_id=run_id)
    summary.figures["faults_injected"] += 1
    triggered = time.monotonic() - began
    states = {run_id: stack.wait_run("celery_many", run_id, timeout=420) for run_id in tags}
    all_done = time.monotonic() - began
    assert states == dict.fromkeys(tags, "success")
    summary.figures["runs_held"] += len(tags)
    mixed = 0
    for run_id, tag in tags.items():
        recs = records(store, "celery_many", run_id)
        emitted = summary.output(token(store, recs["emit"], "emit_token") == tag)
        echoed = summary.output(token(store, recs["echo"], "echo_token") == f"{tag}|echo")
        mixed += 0 if emitted and echoed else 1
    assert mixed == 0
    runs = {r["dag_run_id"]: r for r in stack.runs("celery_many")}
    durations = []
    for run_id in tags:
        start, end = runs[run_id]["start_date"], runs[run_id]["end_date"]
        durations.append(_seconds(end) - _seconds(start))
    summary.figures["faults_survived"] += 1
    summary.fault("burst_of_20", {
        "trigger_seconds": round(triggered, 1), "all_finished_seconds": round(all_done, 1),
        "run_seconds_min_median_max": [round(min(durations), 1), round(statistics.median(durations), 1),
                                       round(max(durations), 1)],
        "outputs_mixed": mixed,
    })  # fmt: skip


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# -- ParallelRunStep over two nodes -----------------------------------------------------------
def test_parallel_run_step_with_two_node_tasks_on_the_batch_queue(
    stack: LiveAirflow, store: Any, summary: Summary
) -> None:
    for i in range(24):
        store.write_bytes(f"prs_input/doc{i:02d}.txt", f"{i * i}".encode())
    run_id = "parallel_1"
    began = time.monotonic()
    stack.trigger("celery_parallel", {"nodes": 2}, run_id=run_id)  # node_count overridden at submit
    state = stack.wait_run("celery_parallel", run_id, timeout=240)
    if state != "success":
        _print_task_logs(stack, "celery_parallel", run_id)
    assert state == "success"
    summary.figures["runs_held"] += 1
    rec = records(store, "celery_parallel", run_id)["score-files"]
    rows = store.read_bytes(f"{output_path(rec, 'scores')}/parallel_run_step.txt").decode().splitlines()
    assert summary.output(
        sorted(r.rsplit(" ", 1)[0] for r in rows) == [f"doc{i:02d}.txt {i * i}" for i in range(24)]
    )
    tis = task_instances(stack, "celery_parallel", run_id)
    assert {t: tis[t]["queue"] for t in ("score-files", "score-files__nodes")} == dict.fromkeys(
        ("score-files", "score-files__nodes"), "batch"
    )
    assert tis["score-files__nodes"]["map_index"] == 0  # mapped at run time over [1]: one node task
    by_worker = collections.Counter(r.rsplit(" ", 1)[1] for r in rows)
    from airflow_azml.runtime.parallel_progress import parallel_progress

    progress = parallel_progress(store, RunRecords(store, "celery_parallel", run_id).prefix, "score-files")
    nodes = {n: (p.get("host"), p.get("done")) for n, p in progress["nodes"].items()}
    # both nodes (separate task instances, each free to land on either worker of the batch queue: Celery
    # picks, and both on one worker happens) took mini-batches from the shared board; rows name their worker
    assert len(nodes) == 2 and all(done for _, done in nodes.values()), (dict(by_worker), nodes)
    assert set(by_worker) <= {CPU.celery_hostname, GPU.celery_hostname}, dict(by_worker)
    assert progress["done"] == 12 and progress["left"] == 0 and len(progress["nodes"]) == 2
    summary.fault("parallel_two_nodes", {
        "run_seconds": round(time.monotonic() - began, 1), "rows_by_worker": dict(by_worker),
        "mini_batches_by_node": {n: p["done"] for n, p in progress["nodes"].items()}, "nodes_on": nodes,
        "step_seconds": rec.get("duration"),
    })  # fmt: skip


def _print_task_logs(af: LiveAirflow, dag_id: str, run_id: str) -> None:
    """Every task instance's state and log (what a failed system run needs to be understood)."""
    for task, ti in task_instances(af, dag_id, run_id).items():
        resp = af.api(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task}/logs/{max(1, ti['try_number'])}",
            params={"full_content": "true"}, headers={"Accept": "application/json"},
        )  # fmt: skip
        lines = [
            str(e.get("event", e)) if isinstance(e, dict) else str(e) for e in resp.json().get("content", [])
        ]
        text = "\n".join(lines)[-6000:]
        report = f"\n--- {task} ({ti['state']}, try {ti['try_number']}, {ti.get('hostname')}) ---\n{text}"
        print(report)
        with (ARTIFACT.parent / f"{dag_id}_task_logs.txt").open("a") as fh:
            fh.write(report)
