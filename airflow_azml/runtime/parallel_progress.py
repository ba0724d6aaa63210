"""What a ParallelRunStep tells the outside while it runs and when it ends.

- :func:`parallel_progress`: the step's progress summed over its nodes' heartbeats on the
  board (``parallel_board.py``): mini-batches done / failed / left, items and items per
  second, per node. ``wait_for_completion(show_output=True)`` and ``azml run`` show it as a
  progress bar (:func:`progress_line`) while the step runs.
- :func:`failure_message`: the step's error when it stops, with the first failing mini-batch's
  items and traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SUMMARY_FILE", "BOARD_FOLDER", "failure_message", "parallel_progress", "progress_line"]

SUMMARY_FILE = "parallel_run_summary.json"
BOARD_FOLDER = "parallel_board"  # under <run records>/<task id>/


def failure_message(cfg: dict[str, Any], summary: dict[str, Any]) -> str:
    """The step's error: why it stopped, then the first failing mini-batch's items and traceback."""
    lines = [f"ParallelRunStep {cfg.get('step_name', '')!r} stopped: {summary['reason']}."]
    mb = summary["mini_batches"]
    lines.append(
        f"Mini-batches: {mb['succeeded']} succeeded, {mb['failed']} failed, {mb['total']} in all; "
        f"items: {summary['items']['failed']} failed of {summary['items']['total']} processed."
    )
    if summary["failures"]:
        first = summary["failures"][0]
        lines.append(f"First failing mini-batch {first['mini_batch']} ({first['tries']} tries), items:")
        lines += [f"  {item}" for item in first["items"]]
        lines.append(first["traceback"].rstrip())
    lines.append(f"The full error summary is {SUMMARY_FILE} in the step's files.")
    return "\n".join(lines)


def parallel_progress(store: Any, records_prefix: str, task_id: str) -> dict[str, Any] | None:
    """The progress of the ParallelRunStep ``task_id`` of the run whose records are at
    ``records_prefix`` on ``store`` (the default datastore), or None before its first heartbeat.

    ``{"total", "done", "failed", "left", "items", "items_failed", "items_per_second",
    "nodes": {name: {...}}}``; a node's figures are its own mini-batches, the totals their sum.
    """
    from airflow_azml.runtime.parallel_board import read_nodes

    try:
        nodes = read_nodes(store, f"{records_prefix.rstrip('/')}/{task_id}/{BOARD_FOLDER}")
    except Exception:  # noqa: BLE001 - progress is a view: a datastore hiccup shows nothing, never fails
        return None
    if not nodes:
        return None
    total = max(int(n.get("total") or 0) for n in nodes.values())
    done = sum(int(n.get("done") or 0) for n in nodes.values())
    failed = sum(int(n.get("failed") or 0) for n in nodes.values())
    return {
        "total": total,
        "done": done,
        "failed": failed,
        "left": max(0, total - done - failed),
        "items": sum(int(n.get("items") or 0) for n in nodes.values()),
        "items_failed": sum(int(n.get("items_failed") or 0) for n in nodes.values()),
        "items_per_second": round(sum(float(n.get("items_per_second") or 0) for n in nodes.values()), 1),
        "nodes": nodes,
    }


def progress_line(name: str, progress: dict[str, Any], width: int = 30) -> str:
    """``name [#########.....] 120/200 mini-batches (3 failed, 77 left) 1,204 items 401.3 items/s, 2 nodes``."""
    total = max(1, progress["total"])
    filled = int(width * (progress["done"] + progress["failed"]) / total)
    bar = "#" * filled + "." * (width - filled)
    return (
        f"{name} [{bar}] {progress['done']}/{progress['total']} mini-batches ({progress['failed']} failed, "
        f"{progress['left']} left) {progress['items']:,} items {progress['items_per_second']} items/s, "
        f"{len(progress['nodes'])} node{'s' if len(progress['nodes']) != 1 else ''}"
    )


def step_progress_line(step_run: Any) -> str | None:
    """The progress bar of a running ParallelRunStep's StepRun (None for any other step, or before
    its first heartbeat): what ``wait_for_completion(show_output=True)`` and ``azml run`` print."""
    run = step_run.pipeline_run
    if (run._plan["steps"].get(step_run.task_id) or {}).get("kind") != "parallel_run":
        return None
    if step_run.get_status() != "Running":
        return None
    progress = parallel_progress(run.records.store, run.records.prefix, step_run.task_id)
    return progress_line(f"StepRun({step_run.name})", progress) if progress else None
