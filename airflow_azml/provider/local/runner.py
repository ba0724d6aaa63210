"""``python -m airflow_azml.provider.local.runner``: run one DAG in the embedded Airflow, ready tasks at once.

Writes a status file the caller polls: the run id as soon as it is known, then every task's
state as it changes, then the final state of the run (``canceled`` after SIGTERM/SIGINT).
The warm local server (``local/server.py``) calls :func:`main` in a forked child instead of
starting this module, so both ways run the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_azml.provider.local.loop import (
    LocalDagRun,
    parse_dag,
    preload_task_modules,
    warm_task_api,
    write_status,
)

__all__ = ["main", "default_parallelism", "PARALLELISM_ENV", "PARALLELISM_KEY"]

#: how many tasks of a local run may run at the same time (default: the machine's cores)
PARALLELISM_ENV = "AZML_LOCAL_PARALLELISM"
#: the same in the workspace file, in its ``airflow`` section (beside ``forward_network``)
PARALLELISM_KEY = "local_parallelism"


def default_parallelism(workspace: dict[str, Any] | None = None) -> int:
    """``$AZML_LOCAL_PARALLELISM``, else the workspace file's ``airflow.local_parallelism``
    (``workspace``: a plan's workspace spec), else the number of cores this process may use.
    (``azml run --parallelism`` comes before all of them.)"""
    from airflow_azml.exceptions import UserErrorException, WorkspaceConfigError

    value = os.environ.get(PARALLELISM_ENV, "").strip()
    if value:
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            raise UserErrorException(f"{PARALLELISM_ENV}={value!r}: use a whole number of tasks, 1 or more.")
        return number
    config = (workspace or {}).get("config") or {}
    setting = (config.get("airflow") or {}).get(PARALLELISM_KEY)
    if setting is not None:
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
            where = (workspace or {}).get("config_path") or "the workspace file"
            raise WorkspaceConfigError(
                f'{where}: "airflow": {{"{PARALLELISM_KEY}": {json.dumps(setting)}}} must be a whole number '
                "of steps at the same time, 1 or more."
            )
        return setting
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _EarlyCancel:
    """SIGTERM/SIGINT before the run's loop takes them over (a submit interrupted while the DAG is parsed or
    the run created): remembered, so the run ends canceled before it starts a task instead of dying half made."""

    def __init__(self) -> None:
        self.requested = False
        self.run: LocalDagRun | None = None
        signal.signal(signal.SIGTERM, self)
        signal.signal(signal.SIGINT, self)

    def __call__(self, signum: int, frame: Any) -> None:
        self.requested = True
        if self.run is not None:
            self.run.cancel_requested = True  # its loop cancels at its first turn, before launching a task


def main(argv: list[str] | None = None) -> int:
    early = _EarlyCancel()
    parser = argparse.ArgumentParser(prog="airflow_azml.provider.local.runner")
    parser.add_argument("--dag-file", required=True, type=Path)
    parser.add_argument("--dag-id")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--status-file", required=True, type=Path)
    parser.add_argument(
        "--parallelism", type=int, help=f"tasks at once (default: ${PARALLELISM_ENV} or cores)"
    )
    args = parser.parse_args(argv)
    parallelism = args.parallelism or default_parallelism()

    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    dag = parse_dag(args.dag_file.resolve(), args.dag_id)
    logical_date = datetime.now(UTC)
    run_id = DagRun.generate_run_id(
        run_type=DagRunType.MANUAL, logical_date=logical_date, run_after=logical_date
    )
    if early.requested:  # canceled before the run existed: it never starts
        ended = {"dag_id": dag.dag_id, "run_id": run_id, "state": "canceled", "tasks": {}}
        write_status(args.status_file, ended)
        return 1
    write_status(args.status_file, {"dag_id": dag.dag_id, "run_id": run_id, "state": "queued"})
    local_run = LocalDagRun(dag, args.status_file, parallelism)
    early.run = local_run
    local_run.cancel_requested = early.requested
    local_run.start(logical_date, run_id, json.loads(args.conf))
    warm_task_api()  # no-ops on the warm server, where they were done once
    preload_task_modules()
    listeners = _listeners()
    listeners.on_starting(component=local_run)
    try:
        state = local_run.run()
    finally:
        # as Airflow's jobs do: a listener's pool (OpenLineage's ProcessPoolExecutor for DAG-run events)
        # is shut down here; this process ends with os._exit on the warm server, which would orphan it
        listeners.before_stopping(component=local_run)
    return 0 if state == "success" else 1


def _listeners() -> Any:
    from airflow.listeners.listener import get_listener_manager

    return get_listener_manager().hook


if __name__ == "__main__":
    raise SystemExit(main())
