"""``azml runs DAG_ID``: the latest runs of a deployed pipeline, and their steps, from a running Airflow."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "runs", "follow"]


def add_parser(subparsers: Any) -> None:
    from airflow_azml.cli._common import add_common

    p = subparsers.add_parser("runs", help="list runs of a pipeline DAG on a running Airflow (REST API)")
    p.add_argument("dag_id")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--steps", action="store_true", help="also list each run's steps")
    add_common(p)
    p.set_defaults(func=runs)


def runs(args: argparse.Namespace) -> int:
    from airflow_azml.cli._common import client_from_args
    from airflow_azml.pipeline.core.status import airflow_to_v1

    client = client_from_args(args)
    found = client.list_runs(args.dag_id, limit=args.limit)
    if not found:
        print(f"No runs of {args.dag_id}.")
    for run in found:
        status = airflow_to_v1(run.get("state"))
        print(
            f"{run['dag_run_id']:<60} {status:<10} {run.get('start_date') or '-':<33} {run.get('end_date') or '-'}"
        )
        if args.steps:
            for ti in client.task_instances(args.dag_id, run["dag_run_id"]):
                print(f"    {ti['task_id']:<40} {airflow_to_v1(ti.get('state'))}")
    return 0


def follow(client: Any, dag_id: str, run_id: str, poll: float = 1.0) -> int:
    """Print each step's status as it changes until the run ends; 0 when it finished."""
    from airflow_azml.pipeline.core.status import FINISHED, airflow_to_v1, wait_until_ended

    shown: dict[str, str] = {}

    def print_changes(_status: str) -> None:
        for ti in client.task_instances(dag_id, run_id):
            status = airflow_to_v1(ti.get("state"))
            if shown.get(ti["task_id"]) != status:
                shown[ti["task_id"]] = status
                print(f"StepRun({ti['task_id']}) Status: {status}", flush=True)

    status = wait_until_ended(
        lambda: airflow_to_v1(client.get_run(dag_id, run_id).get("state")),
        on_poll=print_changes,
        poll_seconds=poll,
    )
    print(f"PipelineRun Status: {status}")
    return 0 if status == FINISHED else 1
