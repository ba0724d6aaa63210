"""Start a local, running Airflow for v1 code that talks to a remote service (REST submit, published
pipelines, endpoints, schedules), print the environment variables that point such code at it, and
keep it running until interrupted.

Usage: .venv/bin/python tools/live_airflow.py [--azml-home DIR] [--env-file FILE] [--home DIR]

  --azml-home DIR  the AZML_HOME the notebook or script uses (default: $AZML_HOME, else ~/.azml). The
                   deployment reads the publish registry of that home's default workspace, so both sides
                   must share it.
  --env-file FILE  also write the variables as `export` lines to FILE (to `source` it from a script)
  --home DIR       AIRFLOW_HOME of the deployment (default: a temporary folder, removed at the end)

The deployment is tests/support/live_airflow.py's: api-server, scheduler, dag-processor and triggerer on a
free loopback port, LocalExecutor on SQLite, the simple auth manager with the user admin. Its dags folder
holds only the published-pipelines loader (azml_published.py). Once it answers, the script prints

    export AZML_HOME=...
    export AZML_AIRFLOW_URL=http://127.0.0.1:PORT
    export AZML_AIRFLOW_USERNAME=admin
    export AZML_AIRFLOW_PASSWORD=...

then waits; Ctrl-C (or SIGTERM) stops every process it started. Example, running two notebooks against it:

    .venv/bin/python tools/live_airflow.py --env-file /tmp/af.env &
    while [ ! -s /tmp/af.env ]; do sleep 2; done; source /tmp/af.env
    python ../shared/tools/run_v1_notebook.py MIRROR aml-pipelines-publish-and-run-using-rest-endpoint
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_azml.pipeline.core.published_loader import write_loader  # noqa: E402
from tests.support.live_airflow import PASSWORDS, LiveAirflow, LiveAirflowError  # noqa: E402


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--azml-home", default=os.environ.get("AZML_HOME") or str(Path.home() / ".azml"))
    parser.add_argument("--env-file")
    parser.add_argument("--home")
    parser.add_argument(
        "--db-url",
        help="Airflow's metadata DB (default SQLite; a PostgreSQL URL such as "
        "postgresql+psycopg2://postgres@127.0.0.1:5432/azml_live stands up to concurrent runs better)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _arguments(argv)
    azml_home = Path(args.azml_home).resolve()
    azml_home.mkdir(parents=True, exist_ok=True)
    dags = Path(tempfile.mkdtemp(prefix="azml_live_dags_"))
    write_loader(dags)
    env = {"AZML_HOME": str(azml_home)}
    af = LiveAirflow(dags, home=args.home, extra_env=env, db_url=args.db_url)
    try:
        af.start()
    except LiveAirflowError as exc:
        print(f"Airflow did not start: {exc}", file=sys.stderr)
        return 1
    exports = {
        **env,
        "AZML_AIRFLOW_URL": af.base_url,
        "AZML_AIRFLOW_USERNAME": "admin",
        "AZML_AIRFLOW_PASSWORD": PASSWORDS["admin"],
    }
    text = "".join(f"export {key}={value}\n" for key, value in exports.items())
    print(text, end="", flush=True)
    print(f"# Airflow home {af.home}, dags folder {dags}; Ctrl-C stops it", file=sys.stderr, flush=True)
    if args.env_file:
        Path(args.env_file).write_text(text)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(5):
            af.check_alive()
    except LiveAirflowError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        af.stop()
        af.cleanup()
        shutil.rmtree(dags, ignore_errors=True)
        if args.env_file:
            Path(args.env_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
