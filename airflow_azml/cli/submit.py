"""``azml submit DAG_ID [--param k=v]``: start a run of a deployed DAG on a running Airflow (REST)."""

from __future__ import annotations

import argparse
from typing import Any

from airflow_azml.cli._common import add_common, client_from_args

__all__ = ["add_parser", "submit", "client_from_args"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "submit", help="trigger a deployed pipeline DAG on a running Airflow (REST API)"
    )
    p.add_argument("dag_id")
    p.add_argument(
        "--param", action="append", metavar="NAME=VALUE", help="pipeline parameter value (repeatable)"
    )
    p.add_argument("--regenerate-outputs", action="store_true", help="reuse nothing in this run")
    p.add_argument("--continue-on-step-failure", action="store_true", help="let independent steps go on")
    p.add_argument("--wait", action="store_true", help="follow the run and print step progress")
    add_common(p)
    p.set_defaults(func=submit)


def submit(args: argparse.Namespace) -> int:
    from airflow_azml.cli.run import parse_params
    from airflow_azml.client.remote import require_deployed
    from airflow_azml.exceptions import AirflowApiError

    client = client_from_args(args)
    conf = parse_params(args.param)
    if args.regenerate_outputs:
        conf["regenerate_outputs"] = True
    if args.continue_on_step_failure:
        conf["continue_on_step_failure"] = True
    dag = require_deployed(client, args.dag_id)
    if dag.get("is_paused"):
        client.set_paused(args.dag_id, False)
    try:
        run = client.trigger(args.dag_id, conf)
    except AirflowApiError as exc:
        print(f"Refused: {exc}")
        return 2
    print(run["dag_run_id"])
    if not args.wait:
        return 0
    from airflow_azml.cli.runs import follow

    return follow(client, args.dag_id, run["dag_run_id"])
