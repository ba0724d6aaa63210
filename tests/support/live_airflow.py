"""A real, running Airflow for system tests: api-server, scheduler, dag-processor, triggerer.

Each ``LiveAirflow`` gets a temporary AIRFLOW_HOME, a free loopback port, the simple auth
manager with the users ``admin:admin`` and ``viewer1:viewer`` (passwords written to a file the
test knows), ``airflow db migrate`` first, and one log file per process. Everything it started
is killed by process group when it stops; on a failure the tails of the logs are printed.

Usage::

    from tests.support.live_airflow import LiveAirflow

    with LiveAirflow(dags_folder=folder, extra_env={"AZML_HOME": str(home)}) as af:
        af.wait_dag("seed_pipeline")
        run_id = af.trigger("seed_pipeline", {"min_rows": 5})
        assert af.wait_run("seed_pipeline", run_id) == "success"

For a CeleryExecutor + PostgreSQL deployment pass ``executor="CeleryExecutor"``,
``db_url="postgresql+psycopg2://postgres@127.0.0.1:5432/<db>"``, the broker settings in
``extra_env`` and ``processes=(..., ("celery-worker", ["celery", "worker"]))``; ``process_env``
gives single processes extra variables (``{"celery-worker": {"AZML_WORKER_NAME": ...}}``).
``kill(name)`` SIGKILLs a process and everything below it (a lost machine), ``restart(name)``
starts it again with the same arguments (see tests/support/celery_stack.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = ["LiveAirflow", "LiveAirflowError", "PASSWORDS", "DEFAULT_PROCESSES", "free_port", "live_airflow"]

#: user -> password written to the simple auth manager's passwords file
PASSWORDS = {"admin": "admin-pw", "viewer1": "viewer-pw"}
#: (name, airflow CLI arguments) of the processes a deployment runs; the api-server comes first
DEFAULT_PROCESSES: tuple[tuple[str, list[str]], ...] = (
    ("scheduler", ["scheduler"]),
    ("dag-processor", ["dag-processor"]),
    ("triggerer", ["triggerer"]),
)
_TERMINAL = ("success", "failed")


class LiveAirflowError(RuntimeError):
    """The deployment did not come up, or a DAG/run did not reach the expected state."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveAirflow:
    """A running Airflow deployment owned by one test module (see the module docstring)."""

    def __init__(
        self,
        dags_folder: str | Path,
        *,
        executor: str = "LocalExecutor",
        db_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        parallelism: int = 4,
        home: str | Path | None = None,
        processes: Sequence[tuple[str, list[str]]] = DEFAULT_PROCESSES,
        startup_timeout: float = 120,
        process_env: dict[str, dict[str, str]] | None = None,
    ):
        self.dags_folder = Path(dags_folder).resolve()
        self.executor = executor
        self._own_home = home is None
        self.home = Path(home or tempfile.mkdtemp(prefix="live_airflow_")).resolve()
        self.db_url = db_url or f"sqlite:///{self.home / 'airflow.db'}"
        self.extra_env = dict(extra_env or {})
        self.parallelism = parallelism
        self.processes_spec = list(processes)
        #: extra environment of single processes by name (e.g. one Celery worker's identity)
        self.process_env = {name: dict(env) for name, env in (process_env or {}).items()}
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self.env = self._environment()

    # -- environment ---------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        pw_file = self.home / "passwords.json"
        pw_file.write_text(json.dumps(PASSWORDS))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
                "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer1:viewer",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs" / "tasks"),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            }
        )
        env.update(self.extra_env)
        return env

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> LiveAirflow:
        try:
            self._airflow_cli("db-migrate", ["db", "migrate"])
            self._spawn("api-server", ["api-server", "--port", str(self.port), "--host", "127.0.0.1"])
            for name, args in self.processes_spec:
                self._spawn(name, args)
            self._wait_health()
        except BaseException:
            self.print_log_tails()
            self.stop()
            raise
        return self

    def _airflow_cli(self, name: str, args: list[str]) -> None:
        log = self.home / "logs" / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=300,
            )
        if proc.returncode != 0:
            raise LiveAirflowError(f"`airflow {' '.join(args)}` failed:\n{_tail(log)}")

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.home / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, **self.process_env.get(name, {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def _wait_health(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                resp = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=2)
                if resp.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise LiveAirflowError(
            f"The api-server did not answer /api/v2/monitor/health within {self.startup_timeout} s."
        )

    def check_alive(self) -> None:
        """Raise (with the process's log tail) when a process of the deployment has died."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise LiveAirflowError(
                    f"Airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}"
                )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """Signal process ``name`` and every process below it, as if its machine died.

        Step processes run in sessions of their own, so signalling the process group alone
        would leave them behind; the whole tree is collected first. Returns the pids hit.
        """
        proc = self.procs[name]
        pids = [proc.pid, *_descendants(proc.pid)]
        _signal_group(proc.pid, sig)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        if sig in (signal.SIGKILL, signal.SIGTERM):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        return pids

    def restart(self, name: str, sig: int = signal.SIGTERM) -> None:
        """Stop process ``name`` with ``sig`` (its whole tree) if it runs, then start it again."""
        args = dict(self.processes_spec)[name]
        if self.procs[name].poll() is None:
            self.kill(name, sig)
        self.start_process(name, args)

    def start_process(self, name: str, args: list[str]) -> None:
        """Start (or start again) process ``name``: ``airflow <args>``, logging to ``<name>.log``."""
        if name in self.procs and self.procs[name].poll() is None:
            raise LiveAirflowError(f"Airflow {name} is already running (pid {self.procs[name].pid}).")
        if name not in dict(self.processes_spec):
            self.processes_spec.append((name, list(args)))
        self._spawn(name, args)

    def stop(self) -> None:
        for proc in self.procs.values():
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    def cleanup(self) -> None:
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> LiveAirflow:
        return self.start()

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.print_log_tails()
        self.stop()

    # -- logs ------------------------------------------------------------------------------
    def log_tail(self, name: str, chars: int = 4000) -> str:
        return _tail(self.home / "logs" / f"{name}.log", chars)

    def print_log_tails(self, chars: int = 3000) -> None:
        for path in sorted((self.home / "logs").glob("*.log")):
            print(f"\n===== {path.name} (tail) =====\n{_tail(path, chars)}", file=sys.stderr)

    # -- REST helpers ------------------------------------------------------------------------
    def token(self, user: str = "admin", password: str | None = None) -> str:
        password = password if password is not None else PASSWORDS[user]
        key = (user, password)
        if key not in self._tokens:
            resp = httpx.post(
                f"{self.base_url}/auth/token", json={"username": user, "password": password}, timeout=30
            )
            if resp.status_code not in (200, 201):
                raise LiveAirflowError(f"POST /auth/token for {user!r}: {resp.status_code} {resp.text}")
            self._tokens[key] = resp.json()["access_token"]
        return self._tokens[key]

    def api(self, method: str, path: str, *, user: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def wait_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the dag-processor has parsed ``dag_id``; import errors fail fast."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            resp = self.api("GET", f"/api/v2/dags/{dag_id}")
            if resp.status_code == 200:
                return resp.json()
            errors = self.api("GET", "/api/v2/importErrors").json().get("import_errors", [])
            if errors:
                raise LiveAirflowError(
                    f"DAG {dag_id!r} not loaded; import errors:\n"
                    + "\n".join(f"{e['filename']}: {e['stack_trace'][-1500:]}" for e in errors)
                )
            time.sleep(1)
        raise LiveAirflowError(
            f"DAG {dag_id!r} was not parsed within {timeout} s.\n{self.log_tail('dag-processor')}"
        )

    def unpause(self, dag_id: str) -> None:
        resp = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        resp.raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Unpause and trigger ``dag_id``; returns the run id."""
        self.unpause(dag_id)
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        resp = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        if resp.status_code != 200:
            raise LiveAirflowError(f"Trigger {dag_id}: {resp.status_code} {resp.text}")
        return str(resp.json()["dag_run_id"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Wait for a run to end; returns its state ('success' or 'failed')."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            resp.raise_for_status()
            state = resp.json()["state"]
            if state in _TERMINAL:
                return str(state)
            self.check_alive()
            time.sleep(0.5)
        raise LiveAirflowError(
            f"Run {dag_id}/{run_id} did not end within {timeout} s.\n{self.log_tail('scheduler')}"
        )

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        resp.raise_for_status()
        return list(resp.json()["dag_runs"])


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (read from /proc; children first found, then theirs)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def live_airflow(dags_folder: Path, *, wait_dag: str | None = None, **kwargs: Any) -> Iterator[LiveAirflow]:
    """Generator for a pytest fixture: ``yield from live_airflow(folder, extra_env=...)``; with
    ``wait_dag`` it yields once the dag-processor has parsed that DAG."""
    af = LiveAirflow(dags_folder, **kwargs)
    try:
        af.start()
        if wait_dag:
            af.wait_dag(wait_dag)
    except LiveAirflowError as exc:
        af.stop()
        pytest.fail(str(exc))
    try:
        yield af
    finally:
        af.stop()
        af.cleanup()
