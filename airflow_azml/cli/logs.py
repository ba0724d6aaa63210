"""``azml logs DAG_ID RUN_ID [STEP]``: Airflow task logs of a run on a running Airflow (REST API)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "logs"]


def add_parser(subparsers: Any) -> None:
    from airflow_azml.cli._common import add_common

    p = subparsers.add_parser(
        "logs", help="print the logs of a run's steps from a running Airflow (REST API)"
    )
    p.add_argument("dag_id")
    p.add_argument("run_id")
    p.add_argument("step", nargs="?", help="one step (task id); default: every step that ran")
    add_common(p)
    p.set_defaults(func=logs)


def logs(args: argparse.Namespace) -> int:
    from airflow_azml.cli._common import client_from_args

    client = client_from_args(args)
    tis = [
        ti
        for ti in client.task_instances(args.dag_id, args.run_id)
        if not args.step or ti["task_id"] == args.step
    ]
    if not tis:
        print(
            f"No step {args.step!r} in run {args.run_id} of {args.dag_id}." if args.step else "No steps ran."
        )
        return 1
    for ti in tis:
        for try_number in range(1, int(ti.get("try_number") or 0) + 1):
            print(f"===== {ti['task_id']} (try {try_number}, {ti.get('state')}) =====")
            print(client.task_log(args.dag_id, args.run_id, ti["task_id"], try_number))
    return 0
