"""Canceling local runs (issue #14): Ctrl-C (a real SIGINT to a driver process) while a run is waited
for or still being submitted, and a Jupyter kernel's interrupt, end every step process, leave the run and its
records Canceled and publish no partial output."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_azml.core import Workspace
from airflow_azml.execution.records import RunRecords
from tests.conftest import REPO, write
from tests.support.processes import holders
from tests.support.steps import HANG

pytestmark = pytest.mark.slow

DRIVER = """
import sys
from airflow_azml.core import Experiment, Workspace
from airflow_azml.execution.records import RunRecords
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config(sys.argv[1])
steps = []
for name in ("slow1", "slow2"):
    out = PipelineData(name + "_out")
    steps.append(PythonScriptStep("hang.py", name=name, source_directory=sys.argv[2], arguments=["--out", out],
                                  outputs=[out], allow_reuse=False))
run = Experiment(ws, "local_cancel").submit(Pipeline(ws, steps))
print("RUN", run.id, flush=True)
run.wait_for_completion(show_output=True)
"""


def test_ctrl_c_cancels_the_run_cleanly(embedded_airflow_home, workspace_dir, tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    pids.mkdir()
    write(tmp_path / "src" / "hang.py", HANG)
    driver = write(tmp_path / "driver.py", DRIVER)
    env = {**os.environ, "AZML_TEST_PIDS": str(pids), "AZML_LOCAL_PARALLELISM": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(workspace_dir), str(tmp_path / "src")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 300
    while len(list(pids.iterdir())) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    scripts = [int(p.name) for p in pids.iterdir()]
    assert len(scripts) == 2, (
        proc.communicate(timeout=30)[0] if proc.poll() is not None else "steps never started"
    )

    proc.send_signal(signal.SIGINT)  # what Ctrl-C on a terminal sends the driver
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0 and "KeyboardInterrupt" in out, out
    assert "PipelineRun Status: Canceled" in out, out
    assert re.search(r"slow1 +Canceled", out) and re.search(r"slow2 +Canceled", out), out
    for pid in scripts:  # every step's process group ended
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("RUN "))
    status = next(
        json.loads(p.read_text())
        for p in (Path(embedded_airflow_home) / "azml_runs").glob("local_cancel-*.json")
        if json.loads(p.read_text()).get("run_id") == run_id
    )
    assert status["state"] == "canceled" and {t["state"] for t in status["tasks"].values()} == {"skipped"}
    store = Workspace.from_config(workspace_dir).get_default_datastore().store
    records = RunRecords(store, "local_cancel", run_id)
    steps = records.steps()  # what StepRun, `azml runs` and the UI read: Canceled as the status says
    assert sorted(steps) == ["slow1", "slow2"], steps
    for task_id, record in steps.items():
        assert record["status"] == "Canceled" and record["outputs"] == {}, (task_id, record)
        assert "canceled" in record["error"].lower() and "exited with code" not in record["error"], record
    assert records.failed_steps() == [], "a canceled step was marked failed"
    root = Path(store.local_path(""))
    published = [p for p in root.rglob("partial.txt") if "staging" not in p.parts]
    assert published == [], "a canceled step's partial output was published"


SUBMIT_DRIVER = """
import os, socket, sys, time
from airflow_azml.core import Experiment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.provider.local import embedded

def hold(what):  # the test sends SIGINT when it reads this line: the KeyboardInterrupt is raised right here
    print("INTERRUPT", what, flush=True)
    time.sleep(600)

if sys.argv[3] == "sent":  # the run's request is with the warm server, its reply not read yet
    real_sendall = socket.socket.sendall
    def sendall(self, data, *args):
        real_sendall(self, data, *args)
        if b'"argv"' in data:
            hold("sent")
    socket.socket.sendall = sendall
elif sys.argv[3] == "reply":  # the server's reply (the run's pid) is read, the run's handle does not hold it yet
    real_init = embedded.ServedRun.__init__
    def served_run(self, *args):
        real_init(self, *args)
        if not os.environ.get("HELD"):  # once: a cancel builds one too
            os.environ["HELD"] = "1"
            hold("reply")
    embedded.ServedRun.__init__ = served_run
elif sys.argv[3] == "returned":  # the run and its PipelineRun exist, Experiment.submit has not returned it
    from airflow_azml.pipeline.core.run import PipelineRun
    real_run = PipelineRun.__init__
    def pipeline_run(self, *args, **kwargs):
        real_run(self, *args, **kwargs)
        hold(self.id)
    PipelineRun.__init__ = pipeline_run
else:  # the runner has started the run (its id is known), Experiment.submit has not returned
    real_wait = embedded.LocalRunHandle.wait_for_run_id
    def wait_for_run_id(self, *args):
        run_id = real_wait(self, *args)
        hold(run_id)
        return run_id
    embedded.LocalRunHandle.wait_for_run_id = wait_for_run_id

ws = Workspace.from_config(sys.argv[1])
out = PipelineData("hang_out")
step = PythonScriptStep("hang.py", name="hang", source_directory=sys.argv[2], arguments=["--out", out],
                        outputs=[out], allow_reuse=False)
try:
    Experiment(ws, sys.argv[4]).submit(Pipeline(ws, [step]))
    print("SUBMITTED", flush=True)
except KeyboardInterrupt as exc:  # like a notebook kernel: alive, the interrupted frames kept by the traceback
    print("CAUGHT", type(exc).__name__, flush=True)
    sys.stdin.read()  # until the test has looked
    raise
"""


def _read_until(proc: subprocess.Popen, seen: list[str], prefix: str) -> str:
    """The driver's next line starting with ``prefix`` (the lines before it go to ``seen`` too)."""
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(prefix):
            return line
    raise AssertionError("".join(seen) + proc.communicate(timeout=60)[0])


@pytest.mark.parametrize(
    "moment, idle",
    [("sent", None), ("reply", None), ("run_id", None), ("run_id", "0"), ("returned", None)],
    ids=[
        "request-sent-to-server",
        "reply-read-not-yet-held",
        "run-started-on-server",
        "run-started-cold",
        "run-made-not-yet-returned",
    ],
)
def test_ctrl_c_while_submitting_cancels_the_run(
    embedded_airflow_home, workspace_dir, tmp_path, moment, idle
):
    """Ctrl-C while Experiment.submit is still submitting (the warm server has the request but its reply
    is unread; or the reply is read but the run's handle does not hold it yet; or the run exists but submit
    has not returned it, also once its PipelineRun is made; or the runner was started cold with
    AZML_LOCAL_SERVER_IDLE=0): the run ends canceled or never starts, no step process starts, nothing
    partial is published, and the KeyboardInterrupt reaches the caller. The reply and returned moments were
    the unprotected windows of the submit path (between the handled regions)."""
    pids = tmp_path / "pids"
    pids.mkdir()
    write(tmp_path / "src" / "hang.py", HANG)
    driver = write(tmp_path / "driver.py", SUBMIT_DRIVER)
    dag_id = f"local_submit_{moment}_{'cold' if idle == '0' else 'served'}"
    env = {**os.environ, "AZML_TEST_PIDS": str(pids), "PYTHONPATH": str(REPO)}
    env.update({} if idle is None else {"AZML_LOCAL_SERVER_IDLE": idle})
    argv = [sys.executable, str(driver), str(workspace_dir), str(tmp_path / "src"), moment, dag_id]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    seen: list[str] = []
    held = _read_until(proc, seen, "INTERRUPT ")  # the driver holds at the moment under test
    proc.send_signal(signal.SIGINT)  # what Ctrl-C on a terminal (or a kernel's interrupt) sends the driver
    assert _read_until(proc, seen, "CAUGHT ") == "CAUGHT KeyboardInterrupt\n", "".join(seen)

    runs = Path(embedded_airflow_home) / "azml_runs"
    deadline = time.monotonic() + 10  # the runner has ended (submit waited for it); its exit may be finishing
    while holders(f"{runs}/{dag_id}-") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert holders(f"{runs}/{dag_id}-") == [], "the interrupted submit left its runner (or a task) running"
    assert list(pids.iterdir()) == [], "a step started after the submit was interrupted"
    statuses = [json.loads(p.read_text()) for p in runs.glob(f"{dag_id}-*.json")]
    if moment in ("run_id", "returned"):  # the run existed when Ctrl-C came: it ended canceled
        assert [s["run_id"] for s in statuses] == [held.split()[1]], statuses
    assert all(s["state"] == "canceled" for s in statuses), statuses
    assert all(t["state"] == "skipped" for s in statuses for t in s.get("tasks", {}).values()), statuses
    db = sqlite3.connect(Path(embedded_airflow_home) / "airflow.db")
    try:  # the embedded Airflow has no run of it still going (a canceled run ends failed there)
        states = {row[0] for row in db.execute("SELECT state FROM dag_run WHERE dag_id = ?", (dag_id,))}
    finally:
        db.close()
    assert states <= {"failed"}, states
    root = Path(Workspace.from_config(workspace_dir).get_default_datastore().store.local_path(""))
    assert [p for p in root.rglob("partial.txt") if "staging" not in p.parts] == []
    out = "".join(seen) + proc.communicate("", timeout=60)[0]  # the driver ends with the KeyboardInterrupt
    assert proc.returncode != 0 and "KeyboardInterrupt" in out and "SUBMITTED" not in out, out


KERNEL_SUBMIT = """
from airflow_azml.core import Experiment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config({ws!r})
out = PipelineData("long_out")
step = PythonScriptStep("hang.py", name="long", source_directory={src!r}, arguments=["--out", out],
                        outputs=[out], allow_reuse=False)
run = Experiment(ws, "local_kernel").submit(Pipeline(ws, [step]))
print("RUN", run.id, flush=True)
run.wait_for_completion(show_output=True)
"""


def _execute(client, code: str, timeout: float = 300) -> tuple[dict, str]:
    """Run ``code`` in the kernel; its execute_reply content and everything it printed or raised."""
    msg_id = client.execute(code)
    text = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        content = msg["content"]
        if msg["msg_type"] == "stream":
            text.append(content["text"])
        elif msg["msg_type"] == "error":
            text.append(f"{content['ename']}: {content['evalue']}")
        elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
            break
    return _reply(client, msg_id, timeout), "".join(text)


def _reply(client, msg_id: str, timeout: float) -> dict:
    """The execute_reply to ``msg_id`` (the shell channel may still hold the kernel_info_reply)."""
    while True:
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def test_interrupting_a_jupyter_kernel_cancels_its_run(embedded_airflow_home, workspace_dir, tmp_path):
    """The notebook's "interrupt the kernel" (SIGINT to the kernel) during wait_for_completion."""
    manager = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    pids = tmp_path / "pids"
    pids.mkdir()
    write(tmp_path / "src" / "hang.py", HANG)
    env = {**os.environ, "AZML_TEST_PIDS": str(pids), "PYTHONPATH": str(REPO)}
    km, kc = manager.start_new_kernel(kernel_name="python3", env=env, cwd=str(workspace_dir))
    try:
        msg_id = kc.execute(KERNEL_SUBMIT.format(ws=str(workspace_dir), src=str(tmp_path / "src")))
        deadline = time.monotonic() + 300
        while not list(pids.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        scripts = [int(p.name) for p in pids.iterdir()]
        assert len(scripts) == 1, "the step never started"

        time.sleep(1.5)  # the runner has published the step Running
        km.interrupt_kernel()  # what the notebook's "interrupt the kernel" does: SIGINT to the kernel
        out = []
        while True:  # the cell ends with the KeyboardInterrupt, after the cancel
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append(msg["content"]["ename"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        out_text = "".join(out)
        reply = _reply(kc, msg_id, 60)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", (reply, out_text)
        assert "KeyboardInterrupt" in out_text and "PipelineRun Status: Canceled" in out_text, out_text
        assert re.search(r"long +Canceled", out_text), out_text
        for pid in scripts:  # the step's process group ended
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)

        # the kernel is alive and usable: the same run, read from it, ended Canceled, its record too
        assert km.is_alive()
        reply, text = _execute(
            kc, "print(run.get_status(), [(s.get_status(), s.record['status']) for s in run.get_steps()])"
        )
        assert reply["status"] == "ok", text
        assert text.strip() == "Canceled [('Canceled', 'Canceled')]", text
        reply, text = _execute(kc, "print(sum(range(10)))")
        assert reply["status"] == "ok" and text.strip() == "45", text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
