"""``python -m airflow_azml.provider.local.server``: the warm local runner of one embedded Airflow home.

A local run started from a fresh process pays Airflow's import, its configuration and the
in-process Execution API's route generation (about 5 s of CPU) before its first task. The first
local run starts this server in the background; it pays those once, then forks one child per
local run that runs :func:`airflow_azml.provider.local.runner.main` with the caller's environment, working
folder and log file, in a session of its own. The child keeps the caller's connection open:
it sends its pid when it starts and its exit code when it ends, so the caller sees the run end
even if it crashes.

The server serves one Airflow home, one Python and one set of ``AIRFLOW__*`` settings (the
socket's name is a digest of them), only callers of its own user, and stops by itself:
after ``$AZML_LOCAL_SERVER_IDLE`` seconds (default 600) without a run, when its home is
deleted, when the process named by ``$AZML_LOCAL_OWNER_PID`` (if set when it started) is
gone, or when the installed airflow-azml or Airflow changes (the next run starts a new one).
``AZML_LOCAL_SERVER_IDLE=0`` turns it off: each run then starts the runner cold.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["socket_name", "code_stamp", "idle_seconds", "serve", "IDLE_ENV", "OWNER_ENV"]

IDLE_ENV = "AZML_LOCAL_SERVER_IDLE"
OWNER_ENV = "AZML_LOCAL_OWNER_PID"
DEFAULT_IDLE_S = 600.0


def idle_seconds(env: dict[str, str] | None = None) -> float:
    """How long the server waits for a run before it stops; 0 = no server."""
    value = (env if env is not None else os.environ).get(IDLE_ENV, "").strip()
    if not value:
        return DEFAULT_IDLE_S
    try:
        return max(0.0, float(value))
    except ValueError:
        raise SystemExit(
            f"{IDLE_ENV}={value!r}: use a number of seconds (0 turns the warm server off)."
        ) from None


def socket_name(env: dict[str, str]) -> str:
    """The abstract Unix socket of the server for this home, Python and Airflow settings."""
    settings = sorted(
        (k, v) for k, v in env.items() if k.startswith("AIRFLOW__") and k != "AIRFLOW__CORE__DAGS_FOLDER"
    )
    key = json.dumps([env.get("AIRFLOW_HOME"), sys.executable, os.getuid(), settings])
    return "\0airflow-azml-local-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def code_stamp() -> str:
    """Changes when a module of airflow-azml this process has loaded, or the installed Airflow, changes
    (the modules it has not loaded are read fresh by each run anyway)."""
    from importlib.metadata import version

    stamps = []
    for name, module in sorted(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.split(".")[0] == "airflow_azml" and path:
            try:
                stamps.append(f"{path}:{os.stat(path).st_mtime_ns}")
            except OSError:
                stamps.append(f"{path}:gone")
    digest = hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]
    return f"{version('apache-airflow')}:{digest}"


def _warm() -> None:
    """Import and build here what every local run needs, so the forked children start ready."""
    import airflow.models.dagrun  # noqa: F401
    import airflow.sdk.definitions.dag  # noqa: F401
    import airflow.sdk.execution_time.task_runner  # noqa: F401
    from airflow.dag_processing.dagbag import BundleDagBag  # noqa: F401

    import airflow_azml.provider.local.runner  # noqa: F401
    import airflow_azml.provider.operators.render  # noqa: F401
    from airflow_azml.provider.local.loop import preload_task_modules, warm_task_api

    warm_task_api()
    preload_task_modules()
    try:  # what parsing a DAG file loads first: the plugins (providers' and ours)
        from airflow import plugins_manager
        from airflow.dag_processing import collection  # noqa: F401
        from airflow.sdk import plugins_manager as sdk_plugins

        plugins_manager.ensure_plugins_loaded()
        sdk_plugins.integrate_macros_plugins()
    except Exception as exc:  # a broken plugin shows up again (with its error) when a run parses its DAG
        print(f"(plugins not preloaded: {exc})", flush=True)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[2]


def _send(conn: socket.socket, data: dict[str, Any]) -> None:
    conn.sendall((json.dumps(data) + "\n").encode())


def _run_child(conn: socket.socket, request: dict[str, Any]) -> None:
    """In the forked child: become the caller's run (its env, folder, log), send pid then exit code."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        from airflow import settings

        settings.configure_vars()  # the caller's dags folder
        from airflow_azml.provider.local.runner import main

        _send(conn, {"pid": os.getpid()})
        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            _send(conn, {"rc": code})
        finally:
            os._exit(code)


def serve(env: dict[str, str]) -> int:
    idle = idle_seconds(env)
    home = Path(env["AIRFLOW_HOME"])
    owner = int(env[OWNER_ENV]) if env.get(OWNER_ENV, "").isdigit() else None
    _warm()
    stamp = code_stamp()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(socket_name(env))
    except OSError:  # another server of this home is already up
        return 0
    server.listen(16)
    print(f"airflow-azml local server {os.getpid()} ready for {home}", flush=True)
    children: set[int] = set()
    last_used = time.monotonic()
    last_check = 0.0
    while True:
        ready, _, _ = select.select([server], [], [], 1.0)
        while children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                break
            if not pid:
                break
            children.discard(pid)
            last_used = time.monotonic()
        if ready:
            conn, _ = server.accept()
            with conn:
                last_used = time.monotonic()
                if _peer_uid(conn) != os.getuid():
                    continue
                try:
                    request = json.loads(conn.makefile("r").readline() or "{}")
                except ValueError:  # cut short: the caller was interrupted while sending it
                    continue
                if "argv" not in request:
                    continue
                if code_stamp() != stamp:
                    _send(conn, {"error": "stale"})
                    break
                pid = os.fork()
                if pid == 0:
                    server.close()
                    _run_child(conn, request)
                children.add(pid)
            continue
        now = time.monotonic()
        if now - last_check > 5:
            last_check = now
            gone = owner is not None and not _alive(owner)
            if gone or not home.is_dir():
                break
        if not children and now - last_used > idle:
            break
    server.close()  # new runs start a new server; the running ones finish on their own
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    raise SystemExit(serve(dict(os.environ)))
