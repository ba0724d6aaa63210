"""Local runs on the embedded Airflow (issue #14): independent steps at the same time without losing
outputs, records or reuse entries, two runs of different pipelines at once, and Ctrl-C (a real
SIGINT to a driver process, and a Jupyter kernel's interrupt) canceling a run cleanly."""

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

from airflow_azml.core import Experiment, Workspace
from airflow_azml.execution.records import RunRecords
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import REPO, write

pytestmark = pytest.mark.slow

WORK = """
import argparse, os, time
p = argparse.ArgumentParser(); p.add_argument("--name"); p.add_argument("--out"); p.add_argument("--ins", nargs="*")
a = p.parse_args()
open(os.environ["AZML_TEST_COUNTER"], "a").write(a.name + "\\n")
barrier, expected = os.environ.get("AZML_TEST_BARRIER"), int(os.environ.get("AZML_TEST_BARRIER_N", "0"))
if barrier and not a.ins:  # an independent step waits until every independent step of both runs has started:
    open(os.path.join(barrier, a.name), "w").close()  # it cannot pass unless they all run at the same time
    deadline = time.monotonic() + 300
    while len(os.listdir(barrier)) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sorted(os.listdir(barrier))} started: the steps did not run at the same time")
        time.sleep(0.05)
time.sleep(0.5)
os.makedirs(a.out, exist_ok=True)
seen = [open(os.path.join(i, "v.txt")).read() for i in (a.ins or [])]
open(os.path.join(a.out, "v.txt"), "w").write("+".join(seen + [a.name]))
"""


def _fan_in(ws: Workspace, src: Path, prefix: str, width: int, join: bool) -> Pipeline:
    """``width`` independent steps writing one output each, and (``join``) one step reading them all."""
    outs, steps = [], []
    for i in range(width):
        out = PipelineData(f"{prefix}{i}_out")
        outs.append(out)
        steps.append(
            PythonScriptStep(
                "work.py",
                name=f"{prefix}{i}",
                source_directory=str(src),
                arguments=["--name", f"{prefix}{i}", "--out", out],
                outputs=[out],
            )
        )
    if join:
        total = PipelineData(f"{prefix}_all")
        steps.append(
            PythonScriptStep(
                "work.py",
                name=f"{prefix}_join",
                source_directory=str(src),
                arguments=["--name", f"{prefix}_join", "--out", total, "--ins", *outs],
                inputs=outs,
                outputs=[total],
            )
        )
    return Pipeline(ws, steps)


def test_concurrent_steps_and_runs_lose_nothing(embedded_airflow_home, workspace_dir, tmp_path, monkeypatch):
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("AZML_TEST_COUNTER", str(counter))
    monkeypatch.setenv("AZML_LOCAL_PARALLELISM", "4")
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("AZML_TEST_BARRIER", str(tmp_path / "barrier"))
    monkeypatch.setenv("AZML_TEST_BARRIER_N", "7")  # a0..a3 and b0..b2
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "src" / "work.py", WORK)
    wide = _fan_in(ws, workspace_dir / "src", "a", 4, join=True)
    other = _fan_in(ws, workspace_dir / "src", "b", 3, join=False)

    # two runs of different pipelines at the same time, each with steps at the same time
    runs = [Experiment(ws, "local_wide").submit(wide), Experiment(ws, "local_other").submit(other)]
    assert [r.wait_for_completion(show_output=False, timeout_seconds=600) for r in runs] == ["Finished"] * 2

    steps = {s.name: s for r in runs for s in r.get_steps()}
    assert len(steps) == 8 and all(s.get_status() == "Finished" for s in steps.values())
    spans = {
        prefix: [
            (s.record["start"], s.record["start"] + s.record["duration"])
            for s in run.get_steps()
            if "join" not in s.name
        ]
        for prefix, run in zip("ab", runs, strict=True)
    }
    for prefix, run_spans in spans.items():  # each run's independent steps ran at the same time
        assert max(a for a, _ in run_spans) < min(b for _, b in run_spans), (
            f"{prefix}: no overlap in {run_spans}"
        )
    assert min(a for a, _ in spans["b"]) < max(b for _, b in spans["a"]), "the two runs did not overlap"
    assert sorted(counter.read_text().split()) == sorted(steps)
    dl = tmp_path / "dl"
    joined = Path(runs[0].find_step_run("a_join")[0].get_output_data("a_all").download(str(dl))) / "v.txt"
    assert joined.read_text() == "a0+a1+a2+a3+a_join"
    for name in ("b0", "b1", "b2"):
        got = Path(runs[1].find_step_run(name)[0].get_output_data(f"{name}_out").download(str(dl / name)))
        assert (got / "v.txt").read_text() == name

    # every concurrent step's reuse entry and record was kept: the same pipeline again runs nothing
    counter.unlink()
    again = Experiment(ws, "local_wide").submit(wide)
    assert again.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"
    assert [s.get_status() for s in again.get_steps()] == ["Reused"] * 5
    assert not counter.exists()


HANG = """
import os, sys, time
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "partial.txt"), "w").write("half")
open(os.path.join(os.environ["AZML_TEST_PIDS"], str(os.getpid())), "w").write("")
time.sleep(300)
"""

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


def _holders(prefix: str) -> list[int]:
    """The processes with a file under ``prefix`` open: a run's runner and its tasks keep its log open."""
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd).startswith(prefix) for fd in fd_dir.iterdir()):
                found.append(int(fd_dir.parent.name))
        except OSError:  # gone, or not ours
            continue
    return found


def _read_until(proc: subprocess.Popen, seen: list[str], prefix: str) -> str:
    """The driver's next line starting with ``prefix`` (the lines before it go to ``seen`` too)."""
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(prefix):
            return line
    raise AssertionError("".join(seen) + proc.communicate(timeout=60)[0])


@pytest.mark.parametrize(
    "moment, idle",
    [("sent", None), ("run_id", None), ("run_id", "0")],
    ids=["request-sent-to-server", "run-started-on-server", "run-started-cold"],
)
def test_ctrl_c_while_submitting_cancels_the_run(
    embedded_airflow_home, workspace_dir, tmp_path, moment, idle
):
    """Ctrl-C while Experiment.submit is still submitting (the warm server has the request but its reply
    is unread; or the run exists but submit has not returned; or the runner was started cold with
    AZML_LOCAL_SERVER_IDLE=0): the run ends canceled or never starts, no step process starts, nothing
    partial is published, and the KeyboardInterrupt reaches the caller."""
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
    while _holders(f"{runs}/{dag_id}-") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _holders(f"{runs}/{dag_id}-") == [], "the interrupted submit left its runner (or a task) running"
    assert list(pids.iterdir()) == [], "a step started after the submit was interrupted"
    statuses = [json.loads(p.read_text()) for p in runs.glob(f"{dag_id}-*.json")]
    if moment == "run_id":  # the run existed when Ctrl-C came: it ended canceled (else: none, or canceled)
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


def test_a_task_whose_process_dies_fails_the_run_instead_of_hanging(embedded_airflow_home, workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    # the script SIGKILLs the task process running it: the task never reports an end
    write(workspace_dir / "die" / "die.py", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    step = PythonScriptStep(
        "die.py", name="die", source_directory=str(workspace_dir / "die"), allow_reuse=False
    )
    run = Experiment(ws, "local_lost").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=300, raise_on_error=False) == "Failed"
    assert run.get_steps()[0].get_status() == "Failed"


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
