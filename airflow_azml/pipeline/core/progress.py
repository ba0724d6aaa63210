"""Live progress of a pipeline run and Ctrl-C while waiting for one (no Airflow import).

``PipelineRun.wait_for_completion(show_output=True)`` prints, whenever a step's status changes, its
line and one line of every step side by side (running with elapsed time, done, reused, failed);
``azml run`` on a terminal draws the same as a live table. Ctrl-C while waiting on a local run
cancels it (every step's process group ended, the run Canceled) before the KeyboardInterrupt goes on;
further Ctrl-Cs during that cancel are held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from airflow_azml.core._interrupt import interrupt_scope
from airflow_azml.pipeline.core.status import CANCELED, FAILED, FINISHED, NOT_STARTED, QUEUED, REUSED, RUNNING

__all__ = ["step_elapsed", "progress_line", "live_table", "cancel_on_interrupt"]

_ORDER = [
    (RUNNING, "running"),
    (FINISHED, "done"),
    (REUSED, "reused"),
    (FAILED, "failed"),
    (CANCELED, "canceled"),
]
_COLORS = {FINISHED: "green", REUSED: "cyan", FAILED: "red", RUNNING: "yellow", CANCELED: "magenta"}


def step_elapsed(step: Any, now: float | None = None) -> float | None:
    """Seconds a step ran (its record's duration), or has been running so far."""
    record = step.record or {}
    if record.get("duration") is not None:
        return float(record["duration"])
    if record.get("start") and step.get_status() == RUNNING:
        return (now or time.time()) - float(record["start"])
    return None


def progress_line(steps: list[Any], elapsed: float) -> str:
    """Every step side by side: ``[ 12s] running: a 3.1s, b 0.4s | done: c | queued: 2``."""
    now = time.time()
    groups: dict[str, list[str]] = {}
    waiting = 0
    for step in steps:
        status = step.get_status()
        if status in (NOT_STARTED, QUEUED):
            waiting += 1
            continue
        seconds = step_elapsed(step, now)
        groups.setdefault(status, []).append(step.name + (f" {seconds:.1f}s" if seconds is not None else ""))
    parts = [f"{label}: {', '.join(groups[status])}" for status, label in _ORDER if groups.get(status)]
    if waiting:
        parts.append(f"waiting: {waiting}")
    return f"[{elapsed:5.0f}s] " + " | ".join(parts)


def live_table(pipeline_run: Any, status: str, elapsed: float) -> Any:
    """The live table of ``azml run``: each step's status, time (running: so far) and scalar metrics."""
    from rich.table import Table

    table = Table(title=f"{pipeline_run.experiment.name}  {status}  {elapsed:.0f}s", title_justify="left")
    for col in ("step", "status", "duration", "metrics"):
        table.add_column(col)
    now = time.time()
    for step in pipeline_run.get_steps():
        st = step.get_status()
        dur = step_elapsed(step, now)
        metrics = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in step.get_metrics().items()
            if isinstance(v, (int, float, str)) and not isinstance(v, bool)
        )
        color = _COLORS.get(st, "white")
        table.add_row(step.name, f"[{color}]{st}[/]", f"{dur:.1f}s" if dur is not None else "", metrics[:80])
    return table


def cancel_on_interrupt(pipeline_run: Any, wait: Callable[[], str], show_output: bool = True) -> str:
    """``wait()``; on Ctrl-C a local run is canceled (and waited for) before KeyboardInterrupt goes on.
    A run on a running Airflow is left running: Ctrl-C only stops waiting for it. A Ctrl-C during the cancel
    does not stop it (``core/_interrupt.py``): the run still ends Canceled, then the KeyboardInterrupt goes on."""
    with interrupt_scope():
        try:
            return wait()
        except KeyboardInterrupt:
            if not getattr(pipeline_run._backend, "cancel_on_interrupt", False):
                raise
            print(f"\nCanceling run {pipeline_run.id} (Ctrl-C) ...", flush=True)
            pipeline_run.cancel()
            if show_output:
                print(
                    f"PipelineRun Status: {pipeline_run.get_status()}\n{pipeline_run.step_table()}",
                    flush=True,
                )
            raise
