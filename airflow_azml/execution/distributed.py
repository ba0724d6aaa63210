"""Distributed training on one node: N processes with the environment launchers set up.

``process_count_per_node > 1`` with an Mpi, Gloo, Nccl or PyTorch distribution starts that many
copies of the step's process, each with the variables torch.distributed (RANK, LOCAL_RANK,
WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, NODE_RANK) and MPI-style code
(OMPI_COMM_WORLD_*, PMI_RANK/PMI_SIZE) read. Every log line carries its rank. The step
succeeds only if every rank exits 0; the first failing rank stops the others.

Several nodes would need a compute target that places one task per node and a rendezvous
across hosts; none is available here, so ``node_count > 1`` runs every node's ranks on the one
worker (``node_count × process_count_per_node`` processes, NODE_RANK / LOCAL_RANK as each node
would see them) and the step log says so (see :func:`multi_node_note`).
"""

from __future__ import annotations

import collections
import socket
import threading
import time
from pathlib import Path
from typing import IO, Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.execution.process import StepProcess

__all__ = [
    "BACKENDS",
    "MULTI_NODE_TARGETS",
    "multi_node_note",
    "check_distribution",
    "rank_env",
    "free_port",
    "RankProcess",
    "DistributedLaunch",
    "launch_process",
]

BACKENDS = ("mpi", "gloo", "nccl", "pytorch")
#: compute target types that could run one step over several nodes (none in this deployment)
MULTI_NODE_TARGETS: tuple[str, ...] = ()


def multi_node_note(step: str, node_count: int, per_node: int) -> str:
    """What the step log says when ``node_count > 1`` runs on one worker, and how to get several hosts."""
    can = ", ".join(MULTI_NODE_TARGETS) or "none here"
    return (
        f"Step {step!r} asks for node_count={node_count}: one step runs as one Airflow task on one worker and no "
        f"compute target spans hosts ({can}), so the {node_count} nodes' {node_count * per_node} ranks run on this "
        "worker, each with the NODE_RANK / LOCAL_RANK it would have on its node. For training across hosts, run it "
        "on Databricks (DatabricksStep)."
    )


def check_distribution(dist: dict[str, Any] | None, step: str) -> None:
    """Refuse what cannot run: a count below 1, an unknown backend with several ranks."""
    if not dist:
        return
    nodes = int(dist.get("node_count") or 1)
    count = int(dist.get("process_count_per_node") or 1)
    if count < 1 or nodes < 1:
        raise UserErrorException(f"Step {step!r}: node_count and process_count_per_node must be >= 1.")
    backend = (dist.get("backend") or "mpi").lower()
    if count * nodes > 1 and backend not in BACKENDS:
        raise UserErrorException(
            f"Step {step!r}: distributed backend {backend!r} cannot start {count} processes; use one of "
            f"{', '.join(BACKENDS)} (Mpi(), Gloo(), Nccl() or PyTorchConfiguration())."
        )


def free_port() -> int:
    """A TCP port nobody listens on right now (the rendezvous port of rank 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rank_env(
    env: dict[str, str], rank: int, world: int, port: int, backend: str, per_node: int | None = None
) -> dict[str, str]:
    """``env`` plus what torch.distributed, Horovod/MPI and PMI-based launchers read for ``rank``
    (``per_node`` ranks to a node; all of them on one node when not given)."""
    out = dict(env)
    per_node = per_node or world
    local, node = rank % per_node, rank // per_node
    values = {
        "RANK": rank,
        "LOCAL_RANK": local,
        "WORLD_SIZE": world,
        "LOCAL_WORLD_SIZE": per_node,
        "NODE_RANK": node,
        "GROUP_RANK": node,
        "AZUREML_NODE_COUNT": world // per_node,
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": port,
        "OMPI_COMM_WORLD_RANK": rank,
        "OMPI_COMM_WORLD_SIZE": world,
        "OMPI_COMM_WORLD_LOCAL_RANK": local,
        "OMPI_COMM_WORLD_LOCAL_SIZE": per_node,
        "OMPI_COMM_WORLD_NODE_RANK": node,
        "PMI_RANK": rank,
        "PMI_SIZE": world,
        "AZML_DISTRIBUTED_BACKEND": backend,
    }
    out.update({k: str(v) for k, v in values.items()})
    return out


class RankProcess(StepProcess):
    """One rank: like StepProcess, but its log files and tail lines carry the rank prefix."""

    def __init__(self, *args: Any, tail: collections.deque[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shared_tail = tail

    def _pump(self, stream: IO[bytes] | None, path: Path, is_err: bool) -> None:
        if stream is None:
            return
        with path.open("ab") as fh:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                fh.write(f"{self.prefix}{line}\n".encode())
                fh.flush()
                if is_err:
                    self.stderr_tail.append(line)
                    self.shared_tail.append(f"{self.prefix}{line}")
                self.log.info("%s%s", self.prefix, line)


class DistributedLaunch:
    """``process_count`` ranks of ``argv`` on this node; ``run()`` returns 0 only if all succeed."""

    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        log: Any,
        logdir: Path,
        process_count: int,
        backend: str,
        step: str = "?",
        per_node: int | None = None,
    ):
        self.log = log
        self.step = step
        self.backend = backend
        self.port = free_port()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self.ranks = [
            RankProcess(
                argv,
                cwd=cwd,
                env=rank_env(env, r, process_count, self.port, backend, per_node),
                log=log,
                logdir=logdir,
                prefix=f"[rank {r}] ",
                tail=self.stderr_tail,
            )
            for r in range(process_count)
        ]
        self.codes: dict[int, int] = {}
        self._changed = threading.Event()

    def _run_rank(self, rank: int) -> None:
        try:
            self.codes[rank] = self.ranks[rank].run()
        except BaseException as exc:  # a rank that cannot even start counts as failed
            self.log.error("[rank %d] could not run: %s", rank, exc)
            self.stderr_tail.append(f"[rank {rank}] {exc}")
            self.codes[rank] = 127
        self._changed.set()

    def run(self) -> int:
        self.log.info(
            "Step %r: starting %d ranks (backend %s, MASTER_ADDR=127.0.0.1, MASTER_PORT=%d)",
            self.step,
            len(self.ranks),
            self.backend,
            self.port,
        )
        threads = [
            threading.Thread(target=self._run_rank, args=(r,), daemon=True) for r in range(len(self.ranks))
        ]
        for t in threads:
            t.start()
        try:
            code = self._watch()
        except BaseException:
            self.kill()
            raise
        for t in threads:
            t.join(timeout=15)
        return code

    def _watch(self) -> int:
        """Wait for every rank; on the first failure stop the others and return its exit code."""
        while True:
            self._changed.wait(timeout=0.5)
            self._changed.clear()
            failed = sorted((r, c) for r, c in list(self.codes.items()) if c != 0)
            if failed:
                rank, code = failed[0]
                self.log.error(
                    "Step %r: rank %d exited with code %d; stopping the other ranks.", self.step, rank, code
                )
                self.kill()
                return code
            if len(self.codes) == len(self.ranks):
                self.log.info("Step %r: all %d ranks finished successfully.", self.step, len(self.ranks))
                return 0

    def kill(self) -> None:
        """Stop every rank's process group (a rank not yet started is stopped as soon as it is)."""
        deadline = time.monotonic() + 10
        for rank, proc in enumerate(self.ranks):
            while proc.proc is None and rank not in self.codes and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.kill()


def launch_process(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    log: Any,
    logdir: Path,
    distribution: dict[str, Any] | None,
    step: str,
) -> StepProcess | DistributedLaunch:
    """A single process, or one per rank when the step asks for several (nodes × processes per node)."""
    check_distribution(distribution, step)
    count = int((distribution or {}).get("process_count_per_node") or 1)
    nodes = int((distribution or {}).get("node_count") or 1)
    if count * nodes == 1:
        return StepProcess(argv, cwd=cwd, env=env, log=log, logdir=logdir)
    if nodes > 1:
        log.warning("%s", multi_node_note(step, nodes, count))
    backend = str((distribution or {}).get("backend") or "mpi").lower()
    return DistributedLaunch(
        argv,
        cwd=cwd,
        env=env,
        log=log,
        logdir=logdir,
        process_count=count * nodes,
        backend=backend,
        step=step,
        per_node=count,
    )
