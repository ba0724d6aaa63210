"""One-node distributed launch: real rank processes, a real TCP rendezvous, failure and timeout handling."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.core.runconfig import MpiConfiguration, PyTorchConfiguration, RunConfiguration
from airflow_azml.exceptions import ActivityFailedException, UserErrorException
from airflow_azml.execution.distributed import DistributedLaunch, check_distribution, launch_process, rank_env
from airflow_azml.execution.process import StepProcess
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import EstimatorStep
from airflow_azml.train.dnn import Gloo, Mpi, PyTorch
from airflow_azml.train.estimator import Estimator
from tests.conftest import write

# torch is not installed: the ranks meet over a plain TCP rendezvous at MASTER_ADDR:MASTER_PORT.
RENDEZVOUS = """
import os, socket, sys, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
assert os.environ["OMPI_COMM_WORLD_RANK"] == os.environ["PMI_RANK"] == os.environ["LOCAL_RANK"] == str(rank)
assert os.environ["OMPI_COMM_WORLD_SIZE"] == os.environ["PMI_SIZE"] == os.environ["LOCAL_WORLD_SIZE"] == str(world)
if rank == 0:
    server = socket.create_server((addr, port))
    server.settimeout(60)
    met = []
    for _ in range(world - 1):
        conn, _ = server.accept()
        met.append(int(conn.recv(16).decode()))
        conn.sendall(b"0")
    print(f"rank 0 met ranks {sorted(met)} on port {port}")
    if os.environ.get("AZML_RUN_CONTEXT"):
        from airflow_azml.core import Run
        Run.get_context().log("world", world)
else:
    for _ in range(600):
        try:
            sock = socket.create_connection((addr, port))
            break
        except OSError:
            time.sleep(0.05)
    sock.sendall(str(rank).encode())
    print(f"rank {rank} met rank {sock.recv(16).decode()}")
"""

# rank 1 fails as soon as rank 0 has started its child (so the pids are known); rank 0 would sleep for a
# minute and leave that child behind unless stopped.
ONE_FAILS = """
import os, subprocess, sys, time
rank = int(os.environ["RANK"])
if rank == 1:
    for _ in range(600):
        if os.path.exists(os.path.join(sys.argv[1], "pids_0")):
            break
        time.sleep(0.05)
    print("rank one gives up", file=sys.stderr)
    sys.exit(3)
child = subprocess.Popen(["sleep", "300"])
tmp = os.path.join(sys.argv[1], f".pids_{rank}")
open(tmp, "w").write(f"{os.getpid()} {child.pid}")
os.replace(tmp, os.path.join(sys.argv[1], f"pids_{rank}"))
time.sleep(60)
"""

# every rank starts a grandchild and sleeps past the step's max_run_duration_seconds.
HANGS = """
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "300"])
open(os.path.join(sys.argv[1], "pids_" + os.environ["RANK"]), "w").write(f"{os.getpid()} {child.pid}")
print("sleeping", flush=True)
time.sleep(300)
"""


def _dead(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return True
        time.sleep(0.1)
    return False


def _pids(folder: Path) -> list[int]:
    return [int(p) for f in sorted(folder.glob("pids_*")) for p in f.read_text().split()]


def _launch(tmp_path: Path, script: str, count: int, caplog: pytest.LogCaptureFixture) -> tuple[int, Path]:
    write(tmp_path / "src" / "job.py", script)
    caplog.set_level(logging.INFO, logger="dist")
    launch = launch_process(
        [sys.executable, "job.py", str(tmp_path)],
        cwd=tmp_path / "src",
        env=dict(os.environ),
        log=logging.getLogger("dist"),
        logdir=tmp_path / "logs",
        distribution={"node_count": 1, "process_count_per_node": count, "backend": "gloo"},
        step="job",
    )
    assert isinstance(launch, DistributedLaunch)
    return launch.run(), tmp_path / "logs"


def test_rank_environment():
    env = rank_env({"KEEP": "1"}, 1, 4, 29500, "nccl")
    assert env["KEEP"] == "1"
    assert (env["RANK"], env["LOCAL_RANK"], env["WORLD_SIZE"], env["LOCAL_WORLD_SIZE"]) == (
        "1",
        "1",
        "4",
        "4",
    )
    assert (env["MASTER_ADDR"], env["MASTER_PORT"], env["NODE_RANK"]) == ("127.0.0.1", "29500", "0")
    assert (env["OMPI_COMM_WORLD_RANK"], env["OMPI_COMM_WORLD_SIZE"], env["OMPI_COMM_WORLD_LOCAL_RANK"]) == (
        "1",
        "4",
        "1",
    )
    assert (env["PMI_RANK"], env["PMI_SIZE"]) == ("1", "4")


def test_single_process_when_one_rank(tmp_path):
    proc = launch_process(
        ["true"],
        cwd=tmp_path,
        env={},
        log=logging.getLogger("x"),
        logdir=tmp_path,
        distribution={"node_count": 1, "process_count_per_node": 1, "backend": "mpi"},
        step="s",
    )
    assert type(proc) is StepProcess


def test_two_ranks_rendezvous(tmp_path, caplog):
    code, logs = _launch(tmp_path, RENDEZVOUS, 2, caplog)
    assert code == 0, caplog.text
    out = (logs / "stdout.txt").read_text()
    assert "[rank 0] rank 0 met ranks [1]" in out
    assert "[rank 1] rank 1 met rank 0" in out
    assert "[rank 1] rank 1 met rank 0" in caplog.text
    assert "all 2 ranks finished successfully" in caplog.text


def test_failing_rank_stops_the_others(tmp_path, caplog):
    started = time.monotonic()
    code, logs = _launch(tmp_path, ONE_FAILS, 2, caplog)
    assert code == 3
    assert time.monotonic() - started < 30, "rank 0 must be stopped, not waited for"
    assert "rank 1 exited with code 3; stopping the other ranks" in caplog.text
    assert "[rank 1] rank one gives up" in (logs / "stderr.txt").read_text()
    pids = _pids(tmp_path)
    assert pids and all(_dead(p) for p in pids), "rank 0 and its child must be gone"


NODE_ENV = """
import os
keys = ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "AZUREML_NODE_COUNT",
        "OMPI_COMM_WORLD_NODE_RANK")
print(" ".join(f"{k}={os.environ[k]}" for k in keys))
"""


def test_several_nodes_run_their_ranks_on_this_worker(tmp_path, caplog):
    write(tmp_path / "train.py", "")
    est = Estimator(str(tmp_path), entry_script="train.py", node_count=2)
    assert est.distribution_spec()["node_count"] == 2
    pt = PyTorch(
        str(tmp_path), entry_script="train.py", distributed_training=PyTorchConfiguration(node_count=3)
    )
    assert pt.distribution_spec()["node_count"] == 3
    rc = RunConfiguration()
    rc.node_count = 2
    from airflow_azml.core.runconfig import runconfig_distribution

    assert runconfig_distribution(rc, "cmd")["node_count"] == 2
    with pytest.raises(UserErrorException, match="backend 'horovod'"):
        check_distribution({"node_count": 2, "process_count_per_node": 1, "backend": "horovod"}, "s")

    write(tmp_path / "env.py", NODE_ENV)
    caplog.set_level(logging.INFO)
    launch = launch_process(
        [sys.executable, "env.py"],
        cwd=tmp_path,
        env=dict(os.environ),
        log=logging.getLogger("nodes"),
        logdir=tmp_path / "logs",
        distribution={"node_count": 2, "process_count_per_node": 2, "backend": "mpi"},
        step="train",
    )
    assert isinstance(launch, DistributedLaunch) and launch.run() == 0
    assert "node_count=2" in caplog.text and "4 ranks run on this worker" in caplog.text
    seen = sorted(
        line.split("] ", 1)[1] for line in (tmp_path / "logs" / "stdout.txt").read_text().splitlines()
    )
    assert seen == sorted(
        f"RANK={r} LOCAL_RANK={r % 2} NODE_RANK={r // 2} WORLD_SIZE=4 LOCAL_WORLD_SIZE=2 AZUREML_NODE_COUNT=2 "
        f"OMPI_COMM_WORLD_NODE_RANK={r // 2}"
        for r in range(4)
    )


def test_distribution_specs(tmp_path):
    write(tmp_path / "train.py", "")
    est = PyTorch(str(tmp_path), entry_script="train.py", distributed_training=Mpi(process_count_per_node=3))
    assert est.distribution_spec() == {"node_count": 1, "process_count_per_node": 3, "backend": "mpi"}
    est = PyTorch(
        str(tmp_path), entry_script="train.py", process_count_per_node=2, distributed_training=Gloo()
    )
    assert est.distribution_spec()["backend"] == "gloo"
    from airflow_azml.core.runconfig import runconfig_distribution

    rc = RunConfiguration()
    rc.distributed_job_config = PyTorchConfiguration(communication_backend="Gloo", process_count=4)
    assert runconfig_distribution(rc) == {"node_count": 1, "process_count_per_node": 4, "backend": "pytorch"}
    rc.distributed_job_config = MpiConfiguration(process_count_per_node=2)
    assert runconfig_distribution(rc)["process_count_per_node"] == 2


@pytest.mark.slow
def test_two_rank_estimator_step_through_airflow(embedded_airflow_home, workspace_dir):
    write(workspace_dir / "train" / "train.py", RENDEZVOUS)
    ws = Workspace.from_config(workspace_dir)
    est = PyTorch(
        str(workspace_dir / "train"),
        entry_script="train.py",
        process_count_per_node=2,
        distributed_training=Gloo(),
    )
    run = Experiment(ws, "two_ranks").submit(Pipeline(ws, [EstimatorStep(name="ddp", estimator=est)]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = run.find_step_run("ddp")[0]
    out = step.get_stdout_log()
    assert "[rank 0] rank 0 met ranks [1]" in out and "[rank 1] rank 1 met rank 0" in out
    assert step.get_metrics() == {"world": 2}


@pytest.mark.slow
def test_timeout_kills_every_rank_process_group(embedded_airflow_home, workspace_dir, tmp_path):
    write(workspace_dir / "train" / "hang.py", HANGS)
    ws = Workspace.from_config(workspace_dir)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    est = Estimator(
        str(workspace_dir / "train"),
        entry_script="hang.py",
        script_params={str(pid_dir): ""},
        process_count_per_node=2,
        distributed_training=Mpi(),
        max_run_duration_seconds=4,
    )
    started = time.monotonic()
    run = Experiment(ws, "timeout").submit(Pipeline(ws, [EstimatorStep(name="hang", estimator=est)]))
    with pytest.raises(ActivityFailedException):
        run.wait_for_completion(show_output=False, timeout_seconds=240)
    assert time.monotonic() - started < 200
    assert run.find_step_run("hang")[0].get_status() == "Failed"
    pids = _pids(pid_dir)
    assert len(pids) == 4, "two ranks, each with a child"
    assert all(_dead(p) for p in pids), "the timeout must stop every rank's process group"
