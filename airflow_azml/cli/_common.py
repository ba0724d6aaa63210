"""Helpers the azml subcommands share (below them all, so no subcommand imports another's helpers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["pick_plan", "add_common", "client_from_args"]


def pick_plan(dag_file: Path, dag_id: str | None) -> dict[str, Any]:
    """The plan of the pipeline DAG ``dag_id`` in ``dag_file`` (the only one when not given)."""
    from airflow_azml.compiler.capture import plans_of

    if not Path(dag_file).is_file():
        raise SystemExit(f"{dag_file}: no such file.")
    found = plans_of(dag_file)
    plans = {c["plan"]["dag_id"]: c["plan"] for c in found}
    if not plans:
        raise SystemExit(f"{dag_file} builds no pipeline DAG (no Pipeline(...).to_dag(...) call ran).")
    if dag_id is None:
        if len(plans) > 1:
            raise SystemExit(f"{dag_file} builds {sorted(plans)}; choose one with --dag-id.")
        return next(iter(plans.values()))
    if dag_id not in plans:
        raise SystemExit(f"{dag_file} builds {sorted(plans)}, not {dag_id!r}.")
    return plans[dag_id]


def client_from_args(args: argparse.Namespace) -> Any:
    """The REST client: --workspace file's 'airflow' section, else AZML_AIRFLOW_* variables."""
    from airflow_azml.client.rest import AirflowRestClient
    from airflow_azml.core.workspace import Workspace

    ws = Workspace.from_config(path=args.workspace) if args.workspace else Workspace.from_config()
    return AirflowRestClient.from_workspace(ws)


def add_common(p: Any) -> None:
    """The options every REST subcommand (submit, runs, logs) takes."""
    p.add_argument("--workspace", help="workspace file (or its folder) with an 'airflow' section")
