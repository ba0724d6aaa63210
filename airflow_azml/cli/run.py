"""``azml run DAG_FILE``: run a pipeline DAG file through the embedded Airflow, with live progress."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from airflow_azml.cli._common import pick_plan

__all__ = ["add_parser", "run", "parse_params"]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``k=v`` pairs; values are read as JSON when they parse (5, true, {"a":1}), else as text."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--param {item!r}: use NAME=VALUE.")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a pipeline DAG file locally through the embedded Airflow (independent steps at once, "
        "up to --parallelism, $AZML_LOCAL_PARALLELISM or the workspace file's airflow.local_parallelism; "
        "Ctrl-C cancels)",
    )
    p.add_argument("dag_file", type=Path)
    p.add_argument("--dag-id", help="which DAG of the file (default: the only one)")
    p.add_argument(
        "--param", action="append", metavar="NAME=VALUE", help="pipeline parameter value (repeatable)"
    )
    p.add_argument("--regenerate-outputs", action="store_true", help="reuse nothing in this run")
    p.add_argument(
        "--parallelism",
        type=int,
        metavar="N",
        help="steps at the same time (default: $AZML_LOCAL_PARALLELISM, else the workspace file's "
        "airflow.local_parallelism, else the machine's cores)",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final step table")
    p.add_argument("--no-live", action="store_true", help="plain status lines even on a terminal")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from airflow_azml.core._interrupt import interrupt_scope
    from airflow_azml.core.experiment import Experiment, run_conf
    from airflow_azml.core.workspace import Workspace
    from airflow_azml.pipeline.core.backends import LocalBackend
    from airflow_azml.pipeline.core.run import PipelineRun
    from airflow_azml.provider.local.embedded import start_local_run
    from airflow_azml.provider.local.runner import default_parallelism

    if args.parallelism is not None and args.parallelism < 1:
        raise SystemExit(f"--parallelism {args.parallelism}: use 1 or more steps at the same time.")
    plan = pick_plan(args.dag_file, args.dag_id)
    conf = run_conf(plan, parse_params(args.param), None, args.regenerate_outputs)
    parallelism = args.parallelism or default_parallelism(plan["workspace"])  # flag > env > file > cores
    experiment = Experiment(Workspace.from_spec(plan["workspace"]), plan["dag_id"])
    from airflow_azml.pipeline.core.progress import cancel_on_interrupt

    try:  # Ctrl-C from submitting to the end cancels the run; one during the cancel does not stop it
        with interrupt_scope():
            handle = start_local_run(args.dag_file, plan["dag_id"], conf, parallelism=parallelism)
            pipeline_run = PipelineRun(experiment, backend=LocalBackend(handle, plan), plan=plan)
            if not args.quiet and not args.no_live and sys.stdout.isatty():
                status = cancel_on_interrupt(pipeline_run, lambda: _wait_live(pipeline_run))
            else:
                status = pipeline_run.wait_for_completion(show_output=not args.quiet, raise_on_error=False)
    except KeyboardInterrupt:
        return 130  # canceled: the run and its steps' processes have ended
    if args.quiet:
        print(pipeline_run.step_table())
    if status != "Finished":
        for step in pipeline_run.get_steps():
            if step.get_status() == "Failed":
                print(f"\n--- {step.name}: {(step.record or {}).get('error', '')}")
        err = LocalBackend.error(pipeline_run._backend)
        if err:
            print(err)
    return 0 if status == "Finished" else 1


def _wait_live(pipeline_run: Any) -> str:
    """wait_for_completion with a rich live table on a terminal; ends with the same summary lines."""
    from rich.live import Live

    from airflow_azml.pipeline.core.progress import live_table
    from airflow_azml.pipeline.core.status import wait_until_ended

    print(f"PipelineRunId: {pipeline_run.id}\nExperiment: {pipeline_run.experiment.name}")
    started = time.monotonic()
    with Live(refresh_per_second=4) as live:
        status = wait_until_ended(
            pipeline_run.get_status,
            on_poll=lambda st: live.update(live_table(pipeline_run, st, time.monotonic() - started)),
            poll_seconds=0.25,
        )
    print(f"\nPipelineRun Status: {status}\n{pipeline_run.step_table()}")
    return str(status)
