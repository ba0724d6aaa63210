"""Run pipelines through the embedded Airflow without importing Airflow in the caller.

The caller (a notebook, ``azml run``, ``Experiment.submit``) hands the run to the warm local
server of its Airflow home (``local/server.py``, started on first use) or, with
``AZML_LOCAL_SERVER_IDLE=0``, starts ``python -m airflow_azml.provider.local.runner`` itself, with an
environment that points Airflow at a project-local home: SQLite metadata DB, no examples. The
runner (``local/runner.py``, ``local/loop.py``) runs the ready tasks at once, up to
``$AZML_LOCAL_PARALLELISM`` or the workspace file's ``airflow.local_parallelism`` (default: the
cores), each through Airflow's task runner — the same operators, XCom, retries and DB as a deployment.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.core._interrupt import held_back, interrupt_scope
from airflow_azml.exceptions import AzmlError

__all__ = [
    "airflow_home",
    "embedded_env",
    "ensure_db",
    "LocalRunHandle",
    "cancel_process",
    "runner_argv",
    "start_local_run",
    "LOADER_NAME",
]

LOADER_NAME = "azml_submitted_dags.py"
_LOADER = '''"""DAGs submitted from Python with Experiment.submit (written by airflow-azml)."""
from airflow_azml.provider.operators.render import load_submitted_dags

globals().update(load_submitted_dags(__file__))
'''


def airflow_home() -> Path:
    """``$AZML_AIRFLOW_HOME``, else ``$AZML_HOME/airflow``: the embedded Airflow's home (SQLite DB)."""
    override = os.environ.get("AZML_AIRFLOW_HOME")
    return Path(override).resolve() if override else azml_home() / "airflow"


def embedded_env(dags_folder: Path) -> dict[str, str]:
    home = airflow_home()
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "airflow_azml.provider.local.SQLITE_CONNECT_ARGS",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AZML_HOME": str(azml_home()),
        }
    )
    return env


def ensure_db(env: dict[str, str]) -> None:
    """``airflow db migrate`` once per home (and again after an Airflow upgrade), under a lock."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    marker = home / f".migrated-{version('apache-airflow')}"
    if marker.exists():
        _use_wal(home)
        return
    with open(home / ".migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise AzmlError(
                f"Could not create the embedded Airflow database in {home}:\n{proc.stderr[-3000:]}"
            )
        marker.write_text(time.ctime())
    _use_wal(home)


def _use_wal(home: Path) -> None:
    """Write-ahead logging on the embedded DB (once per home): the tasks of local runs read and write it
    at the same time, and with WAL a reader never waits for a writer."""
    done = home / ".wal"
    if done.exists() or not (home / "airflow.db").exists():
        return
    import sqlite3

    with open(home / ".migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = sqlite3.connect(home / "airflow.db", timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        done.write_text(time.ctime())


class LocalRunHandle:
    """A running (or finished) local run: the runner process and the status file it keeps. ``request``: the
    connection to the warm server (and its reply so far), set before it connects; a cancel before ``proc``
    is set ends the request and cancels the run the reply names."""

    def __init__(self, proc: Any, status_file: Path, log_file: Path):
        self.proc = proc
        self.status_file = status_file
        self.log_file = log_file
        self.request: tuple[socket.socket, bytearray] | None = None

    def status(self) -> dict[str, Any]:
        # whether the runner has exited is asked BEFORE the file is read: the runner writes its final
        # state, then exits, so a file read after an exit seen here is final (asked after the read, a
        # run that ended between the two looked failed)
        exited = self.proc is not None and self.proc.poll() is not None
        data: dict[str, Any] = {}
        if self.status_file.exists():
            try:
                data = json.loads(self.status_file.read_text())
            except ValueError:
                data = {}
        if exited and data.get("state") in (None, "running", "queued"):
            tail = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            data = {
                **data,
                "state": "failed",
                "error": f"The local runner exited with {self.proc.returncode}:\n{tail}",
            }
        return data

    def wait_for_run_id(self, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st.get("run_id"):
                return str(st["run_id"])
            if st.get("state") == "failed":
                raise AzmlError(st.get("error", "The local run failed to start."))
            time.sleep(0.1)
        raise AzmlError(f"The local runner did not start a run within {timeout} s; see {self.log_file}.")

    def cancel(self) -> None:
        """SIGTERM to the runner: it ends every running step's process group, marks the run canceled
        and exits; killed if it has not after 60 s. Again: nothing more to do."""
        if self.proc is None and self.request is not None:  # sent to the server, its reply not taken
            request, self.request = self.request, None
            self.proc = _cancel_unanswered(*request)
        cancel_process(self.proc)


def cancel_process(proc: Any) -> None:
    """End a runner (a ``Popen`` or a ``ServedRun``) as a cancel does, and wait for it."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


class ServedRun:
    """The runner child of the warm local server, seen like a ``Popen``: its pid, whether it ended
    and its exit code (from the connection it keeps open: it sends the code, or just closes when it dies)."""

    def __init__(self, conn: socket.socket, pid: int, buffered: bytes = b""):
        self.conn = conn
        self.pid = pid
        self.returncode: int | None = None
        self._buf = buffered

    def _read(self, timeout: float) -> None:
        while self.returncode is None:
            ready, _, _ = select.select([self.conn], [], [], timeout)
            if not ready:
                return
            data = self.conn.recv(4096)
            if not data:
                self.returncode = -1  # gone without saying how: killed
                break
            self._buf += data
            for line in self._buf.split(b"\n")[:-1]:
                message = json.loads(line or b"{}")
                if "rc" in message:
                    self.returncode = int(message["rc"])
            self._buf = self._buf.rsplit(b"\n", 1)[-1]
            timeout = 0
        if self.returncode is not None:
            self.conn.close()

    def poll(self) -> int | None:
        self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"local run {self.pid}", timeout or 0)
            self._read(1.0 if left is None else min(1.0, left))
        return int(self.returncode)  # type: ignore[arg-type]

    def _signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


def _connect(name: str, handle: LocalRunHandle | None = None) -> socket.socket | None:
    """A connection to ``name``; with ``handle``: its ``request`` before it connects (a cancel needs it)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if handle is not None:
        handle.request = (sock, bytearray())
    try:
        sock.connect(name)
    except OSError:
        sock.close()
        return None
    return sock


def _server_connection(env: dict[str, str], handle: LocalRunHandle) -> socket.socket | None:
    """A connection to the warm server of this home; started (and waited for) when none answers."""
    from airflow_azml.provider.local.server import socket_name

    name = socket_name(env)
    conn = _connect(name, handle)
    if conn is not None:
        return conn
    home = Path(env["AIRFLOW_HOME"])
    with open(home / ".server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = _connect(name, handle)
        if conn is not None:
            return conn
        with open(home / "azml-server.log", "ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "airflow_azml.provider.local.server"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            conn = _connect(name, handle)
            if conn is not None or server.poll() is not None:
                return conn
            time.sleep(0.05)
    return None


def _start_on_server(env: dict[str, str], argv: list[str], log_file: Path, handle: LocalRunHandle) -> None:
    """Hand the run to the warm server (a new one when the old one runs older code); ``handle.proc`` stays
    None: run cold. A Ctrl-C at any point cancels through ``handle`` (its request, then its proc)."""
    request = {"argv": argv, "env": env, "cwd": os.getcwd(), "log": str(log_file)}
    for _ in range(3):
        conn = _server_connection(env, handle)
        if conn is None:
            return
        buffered = handle.request[1]  # type: ignore[index]  # _connect set it, conn first
        conn.sendall((json.dumps(request) + "\n").encode())
        _read_reply(conn, buffered)
        line, _, rest = bytes(buffered).partition(b"\n")
        reply = json.loads(line) if line.strip() else {}
        if "pid" in reply:
            handle.proc = ServedRun(conn, int(reply["pid"]), rest)
            return
        conn.close()
        time.sleep(0.2)  # stale server stopping (code changed) or a lost connection: try a new one


def _read_reply(conn: socket.socket, buffered: bytearray) -> None:
    """Read the server's one-line reply into ``buffered`` (kept by the handle when this is interrupted)."""
    while b"\n" not in buffered:
        ready, _, _ = select.select([conn], [], [], 60)
        data = conn.recv(4096) if ready else b""
        if not data:
            return
        buffered += data


def _cancel_unanswered(conn: socket.socket, buffered: bytearray) -> ServedRun | None:
    """Ctrl-C between connecting to the server and taking its reply: end the request (a cut or empty one is
    dropped by the server), read the reply; the run it names (None: no run started)."""
    try:
        conn.shutdown(socket.SHUT_WR)
        _read_reply(conn, buffered)
    except OSError:  # not connected yet, or closed
        pass
    line, _, rest = bytes(buffered).partition(b"\n")
    reply = json.loads(line) if line.strip() else {}
    if "pid" in reply:
        return ServedRun(conn, int(reply["pid"]), rest)
    conn.close()
    return None


def runner_argv(
    dag_file: Path,
    status_file: Path,
    *,
    conf: dict[str, Any] | None = None,
    dag_id: str | None = None,
    parallelism: int | None = None,
) -> list[str]:
    """The command line of ``python -m airflow_azml.provider.local.runner`` for one run of ``dag_file``."""
    argv = [sys.executable, "-m", "airflow_azml.provider.local.runner", "--dag-file", str(dag_file)]
    if conf is not None:
        argv += ["--conf", json.dumps(conf)]
    argv += ["--status-file", str(status_file)]
    if dag_id:
        argv += ["--dag-id", dag_id]
    if parallelism is not None:
        argv += ["--parallelism", str(parallelism)]
    return argv


def start_local_run(
    dag_file: Path,
    dag_id: str | None,
    conf: dict[str, Any],
    *,
    wait: bool = False,
    parallelism: int | None = None,
) -> LocalRunHandle:
    """Start the runner for ``dag_file`` (its folder becomes the dags folder); ``parallelism``: tasks
    at once (see ``runner.default_parallelism``; None: the runner's default)."""
    dag_file = dag_file.resolve()
    env = embedded_env(dag_file.parent)
    ensure_db(env)
    runs = airflow_home() / "azml_runs"
    runs.mkdir(parents=True, exist_ok=True)
    stamp = f"{dag_id or dag_file.stem}-{time.time_ns()}"
    status_file, log_file = runs / f"{stamp}.json", runs / f"{stamp}.log"
    argv = runner_argv(dag_file, status_file, conf=conf, dag_id=dag_id, parallelism=parallelism)
    from airflow_azml.provider.local.server import idle_seconds

    handle = LocalRunHandle(None, status_file, log_file)
    # Ctrl-C from here on cancels the run, until the outermost scope ends (submit_plan, azml run; _interrupt.py)
    with interrupt_scope(handle.cancel):
        if idle_seconds(env) > 0:
            _start_on_server(env, argv[3:], log_file, handle)
        if handle.proc is None:
            with open(log_file, "wb") as log, held_back():  # the runner and the handle's hold on it: one step
                handle.proc = subprocess.Popen(
                    argv,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C reaches the caller, which cancels the run
                )
        if wait:
            handle.proc.wait()
    return handle


def write_submitted_plan(plan: dict[str, Any]) -> Path:
    """Store a plan where the loader DAG file finds it; returns the loader's path."""
    from airflow_azml.compiler import plan_to_json

    dags = airflow_home() / "dags"
    folder = dags / "azml_submitted"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{plan['dag_id']}.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(plan_to_json(plan))
    os.replace(tmp, target)
    loader = dags / LOADER_NAME
    if not loader.exists() or loader.read_text() != _LOADER:
        loader.write_text(_LOADER)
    return loader
