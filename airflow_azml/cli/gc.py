"""``azml gc --older-than 30d [--dry-run]``: remove stored XCom values, outputs and records of old runs."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "gc",
        help="remove stored XCom values, run outputs, staging leftovers and records of old or deleted runs",
        description="Runs older than --older-than, or gone from Airflow's DB (when reachable), lose their "
        "records, stored XCom values, outputs (azureml/<run>/..., dataset/<run>_...) and staging leftovers. "
        "Registered datasets' paths and outputs referenced by the reuse index (.azml/reuse/) are kept.",
    )
    p.add_argument("--older-than", required=True, help="age limit, e.g. 30d, 12h, 90m")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    p.add_argument("--workspace", help="workspace file or folder (default: found like Workspace.from_config)")
    p.add_argument("--no-airflow", action="store_true", help="do not ask Airflow's DB which runs still exist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from airflow_azml.cli.gc_collect import apply, collect, parse_age
    from airflow_azml.core.workspace import Workspace

    ws = Workspace.from_config(args.workspace) if args.workspace else Workspace.from_config()
    report = collect(ws, parse_age(args.older_than), check_airflow=not args.no_airflow)
    print(f"Airflow: {report.airflow_check}")
    for run_key, why in sorted(report.expired.items()):
        print(f"expired run {run_key}: {why}")
    for ds, path, why in report.keep:
        print(f"keep {ds}/{path}: {why}")
    verb = "would remove" if args.dry_run else "removing"
    for ds, path in report.delete:
        print(f"{verb} {ds}/{path}")
    if not args.dry_run:
        apply(ws, report)
        print(f"Removed {len(report.deleted)} path(s) of {len(report.expired)} run(s).")
    else:
        print(f"Dry run: {len(report.delete)} path(s) of {len(report.expired)} run(s) would be removed.")
    return 0
