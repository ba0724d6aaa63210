"""Ctrl-C twice (issue #14): a second (and third) SIGINT that comes while the first one's cancel is being
carried out does not cut it short. The driver (``wait_for_completion``, or ``azml run``) still waits until
the run has ended Canceled, every step's process group ended and nothing partial published, and the
KeyboardInterrupt (``azml run``: exit code 130) still reaches the user.

The step ignores SIGTERM, so the cancel lasts until its group's SIGKILL (``execution/process.py``, 5 s
after the SIGTERM): the driver's "Canceling run" line tells the test the cancel has begun, and the next
SIGINTs are sent at once, inside it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_azml.core import Workspace
from airflow_azml.execution.records import RunRecords
from tests.conftest import REPO, write
from tests.support.processes import wait_no_holders
from tests.support.steps import HANG

pytestmark = pytest.mark.slow

# test_local_cancel's hanging step, made deaf to SIGTERM: only its group's SIGKILL ends it, so the cancel takes a while
STUBBORN = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + HANG

PIPELINE = """
from airflow_azml.core import Experiment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config({ws!r})
out = PipelineData("stubborn_out")
step = PythonScriptStep("stubborn.py", name="stubborn", source_directory={src!r}, arguments=["--out", out],
                        outputs=[out], allow_reuse=False)
pipeline = Pipeline(ws, [step])
"""

API_DRIVER = """
run = Experiment(ws, {dag_id!r}).submit(pipeline)
print("RUN", run.id, flush=True)
run.wait_for_completion(show_output=True)
"""

DAG_FILE = """
dag = pipeline.to_dag({dag_id!r})
"""


@pytest.mark.parametrize("driver", ["wait_for_completion", "azml-run"])
def test_ctrl_c_during_the_cancel_does_not_stop_it(embedded_airflow_home, workspace_dir, tmp_path, driver):
    pids = tmp_path / "pids"
    pids.mkdir()
    write(tmp_path / "src" / "stubborn.py", STUBBORN)
    dag_id = f"local_cancel_twice_{driver.replace('-', '_')}"
    pipeline = PIPELINE.format(ws=str(workspace_dir), src=str(tmp_path / "src"))
    env = {**os.environ, "AZML_TEST_PIDS": str(pids), "PYTHONPATH": str(REPO)}
    if driver == "wait_for_completion":
        script = write(tmp_path / "driver.py", pipeline + API_DRIVER.format(dag_id=dag_id))
        argv = [sys.executable, str(script)]
    else:  # stdout is a pipe: the plain status lines of wait_for_completion, inside azml run's own scope
        dag_file = write(tmp_path / "dags" / f"{dag_id}.py", pipeline + DAG_FILE.format(dag_id=dag_id))
        argv = [sys.executable, "-m", "airflow_azml.cli", "run", str(dag_file)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(workspace_dir)
    )
    deadline = time.monotonic() + 300
    while not list(pids.iterdir()) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    scripts = [int(p.name) for p in pids.iterdir()]
    assert len(scripts) == 1, (
        proc.communicate(timeout=30)[0] if proc.poll() is not None else "no step started"
    )

    proc.send_signal(signal.SIGINT)  # Ctrl-C: the cancel begins
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Canceling run "):
            break
    assert seen and seen[-1].startswith("Canceling run "), "".join(seen)
    proc.send_signal(signal.SIGINT)  # Ctrl-C again, and again, while the run is being canceled
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out = "".join(seen) + proc.communicate(timeout=120)[0]

    # the cancel ran to its end: the run's final status was printed, the user still got the interrupt
    assert "PipelineRun Status: Canceled" in out and re.search(r"stubborn +Canceled", out), out
    assert "During handling of the above exception" not in out, out  # no second KeyboardInterrupt
    if driver == "wait_for_completion":
        assert proc.returncode != 0 and out.rstrip().endswith("KeyboardInterrupt"), out
    else:
        assert proc.returncode == 130 and "Traceback" not in out, out

    _assert_canceled_cleanly(Path(embedded_airflow_home), workspace_dir, dag_id, scripts)


def _assert_canceled_cleanly(
    airflow_home: Path, workspace_dir: Path, dag_id: str, scripts: list[int]
) -> None:
    """No runner or task left, the step's process gone, the run and its record Canceled, nothing published."""
    runs = airflow_home / "azml_runs"
    assert wait_no_holders(f"{runs}/{dag_id}-", timeout=10) == [], "the runner (or a task) was left running"
    for pid in scripts:  # the step's process group ended
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    statuses = [json.loads(p.read_text()) for p in runs.glob(f"{dag_id}-*.json")]
    assert len(statuses) == 1 and statuses[0]["state"] == "canceled", statuses
    assert {t["state"] for t in statuses[0]["tasks"].values()} == {"skipped"}, statuses
    store = Workspace.from_config(workspace_dir).get_default_datastore().store
    records = RunRecords(store, dag_id, statuses[0]["run_id"]).steps()
    assert [r["status"] for r in records.values()] == ["Canceled"] and records["stubborn"]["outputs"] == {}
    root = Path(store.local_path(""))
    assert [p for p in root.rglob("partial.txt") if "staging" not in p.parts] == [], (
        "partial output published"
    )


KERNEL_CELL = """
run = Experiment(ws, {dag_id!r}).submit(pipeline)
run.wait_for_completion(show_output=True)
"""


def test_interrupting_a_kernel_during_the_cancel_does_not_stop_it(
    embedded_airflow_home, workspace_dir, tmp_path
):
    """The notebook's "interrupt the kernel" pressed again while the first interrupt's cancel runs."""
    manager = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    pids = tmp_path / "pids"
    pids.mkdir()
    write(tmp_path / "src" / "stubborn.py", STUBBORN)
    dag_id = "local_cancel_twice_kernel"
    cell = PIPELINE.format(ws=str(workspace_dir), src=str(tmp_path / "src")) + KERNEL_CELL.format(
        dag_id=dag_id
    )
    env = {**os.environ, "AZML_TEST_PIDS": str(pids), "PYTHONPATH": str(REPO)}
    km, kc = manager.start_new_kernel(kernel_name="python3", env=env, cwd=str(workspace_dir))
    try:
        msg_id = kc.execute(cell)
        deadline = time.monotonic() + 300
        while not list(pids.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        scripts = [int(p.name) for p in pids.iterdir()]
        assert len(scripts) == 1, "the step never started"

        km.interrupt_kernel()
        out, interrupted_again = [], False
        while True:  # the cell's output until it ends; interrupted twice more once the cancel has begun
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
                if not interrupted_again and "Canceling run " in "".join(out):
                    interrupted_again = True
                    km.interrupt_kernel()
                    time.sleep(0.05)
                    km.interrupt_kernel()
            elif msg["msg_type"] == "error":
                out.append(msg["content"]["ename"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        text = "".join(out)
        assert interrupted_again, text
        assert "PipelineRun Status: Canceled" in text and re.search(r"stubborn +Canceled", text), text
        assert text.rstrip().endswith("KeyboardInterrupt") and text.count("KeyboardInterrupt") == 1, text
        assert km.is_alive()
        _assert_canceled_cleanly(Path(embedded_airflow_home), workspace_dir, dag_id, scripts)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


SCOPES = """
import os, signal, threading, time
from airflow_azml.core._interrupt import held_back, interrupt_scope

def ctrl_c():  # a real SIGINT to this process, handled as soon as the main thread can
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)

log = []
def cancel():
    log.append("cancel")
    ctrl_c()  # Ctrl-C again during the cancel: held back
    ctrl_c()
    log.append("canceled")

try:  # armed in an inner scope that has ended, canceled by a Ctrl-C in the outer one
    with interrupt_scope():
        with interrupt_scope(cancel):
            pass
        ctrl_c()
        log.append("not reached")
except KeyboardInterrupt:
    log.append("KeyboardInterrupt")
print(1, log, signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)

log = []
try:  # a held-back section ends, then the Ctrl-C it held is raised and cancels
    with interrupt_scope(lambda: log.append("cancel")):
        with held_back():
            ctrl_c()
            log.append("section ended")
        log.append("not reached")
except KeyboardInterrupt:
    log.append("KeyboardInterrupt")
print(2, log, flush=True)

log = []
def in_thread():  # not the main thread: a plain block, Python's handler untouched
    with interrupt_scope(lambda: log.append("cancel")):
        log.append(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
thread = threading.Thread(target=in_thread)
thread.start()
thread.join()
print(3, log, flush=True)

log = []
signal.signal(signal.SIGINT, lambda s, f: log.append("own handler"))
with interrupt_scope(lambda: log.append("cancel")):  # the program's own handler: left alone
    ctrl_c()
print(4, log, flush=True)
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    ctrl_c()
except KeyboardInterrupt:
    print(5, "Ctrl-C works as before", flush=True)
"""


def test_interrupt_scopes_in_a_process(tmp_path):
    """``core/_interrupt.py`` on real SIGINTs: the first raises, later ones wait for the cancel, a held-back
    section raises at its end, another thread or the program's own handler is left alone."""
    script = write(tmp_path / "scopes.py", SCOPES)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "1 ['cancel', 'canceled', 'KeyboardInterrupt'] True",
        "2 ['section ended', 'cancel', 'KeyboardInterrupt']",
        "3 [True]",
        "4 ['own handler']",
        "5 Ctrl-C works as before",
    ], proc.stdout + proc.stderr
