"""The distributed topology of docker-compose.yaml, started natively for system tests.

Airflow metadata on the PostgreSQL server at 127.0.0.1:5432 (a fresh database, dropped
afterwards), CeleryExecutor with broker and result backend on the Redis server at
127.0.0.1:6379 (a DB index of its own, flushed afterwards), Azurite as the default Blob
datastore, an api-server, scheduler and dag-processor (no triggerer: nothing defers), and one
Celery worker per :class:`Worker` with its own queues, Celery hostname and ``AZML_HOME``. Each
worker exports ``AZML_WORKER_NAME`` (its Celery hostname), which the step execution writes into
the run record as ``worker``: both workers share this machine's ``socket.gethostname()``.

Usage::

    with celery_stack(dags, root, azurite, workers=(Worker("cpu"), Worker("gpu"))) as af:
        run_id = af.trigger("my_dag")
        af.kill("worker-cpu"); af.restart("worker-cpu")
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.azurite import AzuriteServer, blob_datastore
from tests.support.live_airflow import LiveAirflow, LiveAirflowError

__all__ = [
    "BLOB_CONN_ID",
    "CONTAINER",
    "PG_ADMIN_DSN",
    "REDIS_HOST",
    "REDIS_PORT",
    "Worker",
    "celery_stack",
    "claim_redis_db",
    "fresh_postgres_database",
    "workspace_config",
]

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BLOB_CONN_ID = "azml_blob"
CONTAINER = "azml"
_CLAIM_KEY = "azml:celery_stack:claimed_by"


@dataclass(frozen=True)
class Worker:
    """One ``airflow celery worker`` serving ``queues`` (defaults to a queue named like it)."""

    name: str
    queues: tuple[str, ...] = ()
    concurrency: int = 2

    @property
    def process(self) -> str:
        return f"worker-{self.name}"

    @property
    def celery_hostname(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    def args(self, home: Path) -> list[str]:
        queues = ",".join(self.queues or (self.name,))
        return [
            "celery", "worker", "--queues", queues, "--concurrency", str(self.concurrency),
            "--celery-hostname", self.celery_hostname, "--pid", str(home / f"{self.process}.pid"),
            "--skip-serve-logs", "--without-mingle", "--without-gossip",
        ]  # fmt: skip


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "azml_celery") -> Iterator[str]:
    """Create a uniquely named database on the local server; yield its SQLAlchemy URL; drop it."""
    import psycopg2

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def claim_redis_db() -> Iterator[int]:
    """Claim an empty Redis DB index (1..n-1, starting from this pid) and flush only it afterwards.

    Other test runs on this machine use Redis too: an index counts as free when it is empty,
    and a claim key set with NX makes two runs that probe at the same moment pick different ones.
    """
    import redis

    probe = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    count = int(probe.config_get("databases").get("databases", 16))
    probe.close()
    start = os.getpid() % (count - 1)
    for offset in range(count - 1):
        index = 1 + (start + offset) % (count - 1)
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index)
        if client.dbsize() == 0 and client.set(_CLAIM_KEY, os.getpid(), nx=True):
            try:
                yield index
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    raise LiveAirflowError(f"Every Redis DB index 1..{count - 1} on {REDIS_HOST}:{REDIS_PORT} is in use.")


def workspace_config(compute_targets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A workspace file whose default datastore is the Azurite container ``azml``."""
    return {
        "workspace_name": "celery-system",
        "default_datastore": "blobstore",
        "datastores": {"blobstore": blob_datastore(CONTAINER, BLOB_CONN_ID)},
        "compute_targets": compute_targets,
    }


def _environment(broker: str, azurite: AzuriteServer, config: Path, root: Path) -> dict[str, str]:
    return {
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": broker,
        "AIRFLOW__CELERY__OPERATION_TIMEOUT": "10",
        # A task whose worker died stops heartbeating: fail it (and retry it) after 15 s, not 300 s.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        # A scheduler that stopped heartbeating is dead after 15 s; its tasks are adopted.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
        "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "32",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "32",
        "AZML_WORKSPACE_CONFIG": str(config),
        "AZML_HOME": str(root / "azml_home" / "control"),
        **azurite.airflow_conn_env(BLOB_CONN_ID, conn_type="wasb"),
    }


@contextlib.contextmanager
def celery_stack(
    dags: Path,
    root: Path,
    azurite: AzuriteServer,
    *,
    workers: Sequence[Worker],
    parallelism: int = 8,
) -> Iterator[LiveAirflow]:
    """Start the whole topology (see the module docstring); tear all of it down afterwards.

    ``dags/config.json`` must be the workspace file (see :func:`workspace_config`).
    """
    azurite.create_container(CONTAINER)
    with fresh_postgres_database() as db_url, claim_redis_db() as redis_db:
        broker = f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}"
        home = root / "airflow"
        processes = [("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"])]
        processes += [(w.process, w.args(home)) for w in workers]
        af = LiveAirflow(
            dags,
            executor="CeleryExecutor",
            db_url=db_url,
            home=home,
            parallelism=parallelism,
            processes=processes,
            extra_env=_environment(broker, azurite, dags / "config.json", root),
            process_env={
                w.process: {
                    "AZML_WORKER_NAME": w.celery_hostname,
                    "AZML_HOME": str(root / "azml_home" / w.name),
                }
                for w in workers
            },
            startup_timeout=180,
        )
        af.redis_db = redis_db  # type: ignore[attr-defined]
        try:
            af.start()
            yield af
        finally:
            for w in workers:  # the whole tree: step processes live in sessions of their own
                if w.process in af.procs and af.procs[w.process].poll() is None:
                    af.kill(w.process, 15)
            af.stop()
