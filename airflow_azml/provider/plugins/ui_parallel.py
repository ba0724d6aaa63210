"""A ParallelRunStep's progress in the pipeline view: mini-batches done / failed / left, items per
second, per node, from the nodes' heartbeats on the step's work board (runtime/parallel_board.py).

The same figures ``azml run`` and ``wait_for_completion(show_output=True)`` print as a progress bar.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.provider.plugins.ui_svg import esc as _e

__all__ = ["parallel_view", "parallel_html"]


def parallel_view(store: Any, records_prefix: str, task_id: str) -> dict[str, Any] | None:
    """The step's progress (``runtime.parallel_progress.parallel_progress``), or None before its first beat."""
    from airflow_azml.runtime.parallel_progress import parallel_progress

    return parallel_progress(store, records_prefix, task_id)


def _bar(done: int, failed: int, total: int) -> str:
    total = max(total, 1)
    ok, bad = 100 * done / total, 100 * failed / total
    return (
        '<div class="azml-bar" style="display:flex;width:14em;height:0.8em;background:#eee">'
        f'<span style="width:{ok:.1f}%;background:#2e7d32"></span>'
        f'<span style="width:{bad:.1f}%;background:#c62828"></span></div>'
    )


def parallel_html(step: dict[str, Any]) -> str:
    """One step's progress: its totals, then one row per node (host, mini-batches, items, items/s)."""
    p = step["parallel"]
    rows = [
        f"<tr><td>{_e(name)}</td><td>{_e(node.get('host') or '–')}</td>"
        f"<td>{int(node.get('done') or 0)}</td><td>{int(node.get('failed') or 0)}</td>"
        f"<td>{int(node.get('items') or 0)}</td><td>{float(node.get('items_per_second') or 0):.1f}</td></tr>"
        for name, node in sorted(p["nodes"].items())
    ]
    return (
        f'<div class="azml-parallel" data-step="{_e(step["task_id"])}"><h3>{_e(step["name"])}</h3>'
        f"<p>{_bar(p['done'], p['failed'], p['total'])} mini-batches: {p['done']} done, {p['failed']} failed, "
        f"{p['left']} left of {p['total']} · items: {p['items']} ({p['items_failed']} failed) · "
        f"{p['items_per_second']:.1f} items/s</p>"
        "<table><tr><th>node</th><th>host</th><th>done</th><th>failed</th><th>items</th><th>items/s</th></tr>"
        f"{''.join(rows)}</table></div>"
    )
