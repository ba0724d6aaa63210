"""Serve the fake Databricks REST server (tests/fakes/databricks_server.py) for v1 Databricks code.

No Databricks workspace is reachable from a laptop or CI; this plays the Jobs and DBFS endpoints the
Airflow Databricks provider calls (see docs/databricks-testing.md) and gives the settings v1's
Databricks sample code reads from the environment:

  DATABRICKS_COMPUTE_NAME        compute target name            (databricks)
  DATABRICKS_RESOURCE_GROUP      recorded only                  (fake-rg)
  DATABRICKS_WORKSPACE_NAME      the server's URL               (http://127.0.0.1:PORT)
  DATABRICKS_ACCESS_TOKEN        the bearer token it accepts    (--token, default fake-token)
  DATABRICKS_NOTEBOOK_PATH       /Shared/azml-demo
  DATABRICKS_PYTHON_SCRIPT_PATH  dbfs:/azml/demo/train.py
  DATABRICKS_JAR_LIB_PATH        dbfs:/azml/demo/main.jar

Usage:
  python tools/databricks_fake.py [--port N] [--token T] [--slow] [--log FILE] -- COMMAND [ARG ...]
      start the server, run COMMAND with those variables set, stop; exits with COMMAND's status
  python tools/databricks_fake.py [--port N] [--token T] [--slow] [--log FILE]
      print them as `export` lines, then serve until interrupted

Runs end TERMINATED/SUCCESS at their first poll (--slow: PENDING, RUNNING, then SUCCESS, which with
the provider's default 30 s polling takes about a minute per run). --log FILE writes every request
the server received (method, path, query, JSON body; no token) as JSON lines when it stops.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fakes.databricks_server import SUCCESS, FakeDatabricks  # noqa: E402


def settings(fake: FakeDatabricks) -> dict[str, str]:
    """The environment variables v1's Databricks sample reads, pointing at ``fake``."""
    return {
        "DATABRICKS_COMPUTE_NAME": "databricks",
        "DATABRICKS_RESOURCE_GROUP": "fake-rg",
        "DATABRICKS_WORKSPACE_NAME": f"http://127.0.0.1:{fake.port}",
        "DATABRICKS_ACCESS_TOKEN": fake.token,
        "DATABRICKS_NOTEBOOK_PATH": "/Shared/azml-demo",
        "DATABRICKS_PYTHON_SCRIPT_PATH": "dbfs:/azml/demo/train.py",
        "DATABRICKS_JAR_LIB_PATH": "dbfs:/azml/demo/main.jar",
    }


def write_log(fake: FakeDatabricks, path: str | None) -> None:
    if not path:
        return
    with open(path, "w") as fh:
        for r in fake.requests:
            fh.write(
                json.dumps({"method": r.method, "path": r.path, "query": r.query, "body": r.body}) + "\n"
            )
    print(f"databricks_fake: {len(fake.requests)} request(s) written to {path}", file=sys.stderr)


def main(argv: list[str]) -> int:
    own, command = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--token", default="fake-token", help="the access token the server accepts")
    parser.add_argument("--slow", action="store_true", help="runs go PENDING, RUNNING, then SUCCESS")
    parser.add_argument("--log", help="write every request received as JSON lines to this file at the end")
    args = parser.parse_args(own)
    states = None if args.slow else [SUCCESS]
    with FakeDatabricks(token=args.token, states=states, port=args.port) as fake:
        env = settings(fake)
        try:
            if command:
                return subprocess.run(command, env={**os.environ, **env}).returncode
            for key, value in env.items():
                print(f"export {key}={value}", flush=True)
            print(f"databricks_fake: serving on 127.0.0.1:{fake.port}; Ctrl-C stops", file=sys.stderr)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            return 0
        finally:
            write_log(fake, args.log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
