"""SVG pieces of the pipeline page: the step graph and small line charts.

Pure string building (no script, nothing from a CDN); ``ui_render`` lays them out on the page.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from airflow_azml.pipeline.core.status import CANCELED, FAILED, FINISHED, NOT_STARTED, QUEUED, REUSED, RUNNING

__all__ = ["graph_svg", "line_chart", "STATUS_COLORS", "esc", "fmt_value", "is_number"]

#: box fill of each v1 status (pipeline/core/status.py names them)
STATUS_COLORS = {
    FINISHED: "#bbf7d0",
    REUSED: "#bae6fd",
    FAILED: "#fecaca",
    RUNNING: "#fde68a",
    QUEUED: "#e5e7eb",
    NOT_STARTED: "#f3f4f6",
    CANCELED: "#fed7aa",
}
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def esc(value: Any) -> str:
    """Text made safe for HTML and attribute values."""
    return html.escape(str(value), quote=True)


def fmt_value(value: Any) -> str:
    """A metric value as shown: floats to four significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def is_number(v: Any) -> bool:
    """A plottable number (bools are not)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# -- graph -------------------------------------------------------------------------------
def _layers(steps: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, int]:
    """Longest-path layer of each step (sources in layer 0)."""
    layer = {s["task_id"]: 0 for s in steps}
    for _ in range(len(steps)):
        changed = False
        for e in edges:
            if e["src"] in layer and e["dst"] in layer and layer[e["dst"]] < layer[e["src"]] + 1:
                layer[e["dst"]], changed = layer[e["src"]] + 1, True
        if not changed:
            break
    return layer


_W, _H, _GX, _GY = 170, 58, 90, 26  # node width/height, gaps between layers/rows


def _positions(
    steps: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> tuple[dict[str, tuple[int, int]], int, int]:
    """Top-left corner of each step's box (layers left to right), and the drawing's size."""
    layer = _layers(steps, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for s in steps:
        col = layer[s["task_id"]]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[s["task_id"]] = (10 + col * (_W + _GX), 10 + row * (_H + _GY))
    width = 20 + (max(layer.values(), default=0) + 1) * (_W + _GX) - _GX
    height = 20 + max(rows.values(), default=1) * (_H + _GY) - _GY
    return pos, width, height


def _edge_svg(e: dict[str, Any], pos: dict[str, tuple[int, int]]) -> str:
    """A curved arrow between two boxes, solid with the data's name or dashed for run_after."""
    (x1, y1), (x2, y2) = pos[e["src"]], pos[e["dst"]]
    x1, y1, x2, y2 = x1 + _W, y1 + _H / 2, x2, y2 + _H / 2
    dash = "" if e["kind"] == "data" else ' stroke-dasharray="5,4"'
    mid = (x1 + x2) / 2
    out = (
        f'<path class="azml-edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
        f'stroke="#6b7280" stroke-width="1.5"{dash} marker-end="url(#arr)"/>'
    )
    label = e["label"] or ("run_after" if e["kind"] == "order" else "")
    if label:
        out += (
            f'<text x="{mid}" y="{(y1 + y2) / 2 - 5}" font-size="11" text-anchor="middle" '
            f'fill="#374151">{esc(label)}</text>'
        )
    return out


def _node_svg(s: dict[str, Any], x: int, y: int, link: str) -> str:
    """A step's box: name, status and duration, kind; a Reused mark; a link that focuses the step."""
    fill = STATUS_COLORS.get(s["status"], "#f3f4f6")
    dur = f" · {s['duration']:.1f}s" if is_number(s.get("duration")) else ""
    href = esc(link.format(task_id=quote(s["task_id"])))
    reused = (
        f'<text class="azml-reused" x="{x + _W - 8}" y="{y + 16}" font-size="10" '
        f'text-anchor="end" fill="#0369a1">&#9851; Reused</text>'
        if s["reused"]
        else ""
    )
    return (
        f'<a href="{href}"><g class="azml-node" data-task-id="{esc(s["task_id"])}" '
        f'data-status="{esc(s["status"])}"><title>{esc(s["name"])}: {esc(s["status"])}'
        f"{esc(' — ' + s['reason']) if s.get('reason') else ''}</title>"
        f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="8" fill="{fill}" stroke="#4b5563"/>'
        f'<text x="{x + 10}" y="{y + 20}" font-size="13" font-weight="600">{esc(s["name"][:22])}</text>'
        f'<text x="{x + 10}" y="{y + 38}" font-size="11" fill="#374151">{esc(s["status"])}{esc(dur)}</text>'
        f'<text x="{x + 10}" y="{y + 52}" font-size="10" fill="#6b7280">{esc(str(s["kind"])[:26])}</text>'
        f"{reused}</g></a>"
    )


def graph_svg(view: dict[str, Any], link: str = "?task_id={task_id}") -> str:
    """The step graph: one box per step coloured by status, Reused marked, data edges labelled."""
    steps, edges = view["steps"], view["edges"]
    pos, width, height = _positions(steps, edges)
    parts = [
        f'<svg id="azml-graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline step graph">',
        '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#6b7280"/></marker></defs>',
    ]
    parts += [_edge_svg(e, pos) for e in edges if e["src"] in pos and e["dst"] in pos]
    parts += [_node_svg(s, *pos[s["task_id"]], link) for s in steps]
    parts.append("</svg>")
    return "".join(parts)


# -- charts ------------------------------------------------------------------------------
class _Scale:
    """Maps point index and value to chart pixels (360x200, room for the axis labels)."""

    w, h, left, bottom, top = 360, 200, 52, 28, 24

    def __init__(self, n: int, lo: float, hi: float):
        if lo == hi:
            lo, hi = lo - (abs(lo) or 1) * 0.1, hi + (abs(hi) or 1) * 0.1
        self.n, self.lo, self.hi = n, lo, hi

    def x(self, i: int) -> float:
        span = self.w - self.left - 12
        return self.left + (i * span / (self.n - 1) if self.n > 1 else span / 2)

    def y(self, v: float) -> float:
        return self.top + (self.hi - v) * (self.h - self.top - self.bottom) / (self.hi - self.lo)


def _axes(sc: _Scale, labels: list[str]) -> list[str]:
    base = sc.h - sc.bottom
    parts = [
        f'<line x1="{sc.left}" y1="{base}" x2="{sc.w - 8}" y2="{base}" stroke="#9ca3af"/>',
        f'<line x1="{sc.left}" y1="{sc.top}" x2="{sc.left}" y2="{base}" stroke="#9ca3af"/>',
    ]
    for v in (sc.lo, (sc.lo + sc.hi) / 2, sc.hi):
        parts.append(
            f'<text x="{sc.left - 4}" y="{sc.y(v) + 4}" font-size="10" text-anchor="end">{esc(fmt_value(v))}</text>'
        )
    for i in sorted({0, sc.n - 1}):  # first and last x label, kept inside the chart
        anchor = "middle" if sc.n == 1 else ("start" if i == 0 else "end")
        parts.append(
            f'<text x="{sc.x(i)}" y="{base + 14}" font-size="10" text-anchor="{anchor}">{esc(labels[i][:18])}</text>'
        )
    return parts


def _series_svg(sc: _Scale, k: int, name: str, ys: list[Any], labels: list[str], legend: bool) -> list[str]:
    """One series: its line, a point per value (with a tooltip), and a legend entry."""
    color = _PALETTE[k % len(_PALETTE)]
    pts = [(sc.x(i), sc.y(v), v, i) for i, v in enumerate(ys) if is_number(v)]
    parts = []
    if len(pts) > 1:
        path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y, _, _) in enumerate(pts))
        parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
    for x, y, v, i in pts:
        parts.append(
            f'<circle class="azml-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
            f"<title>{esc(name)} [{esc(labels[i])}] = {esc(fmt_value(v))}</title></circle>"
        )
    if legend:
        parts.append(
            f'<text x="{sc.left + 6 + 90 * k}" y="{sc.h - 2}" font-size="10" fill="{color}">{esc(name[:14])}</text>'
        )
    return parts


def line_chart(
    title: str, series: dict[str, list[Any]], x_labels: list[str] | None = None, css_id: str | None = None
) -> str:
    """A small SVG line chart of one or more numeric series (None values are gaps); "" when nothing to plot."""
    values = [v for ys in series.values() for v in ys if is_number(v)]
    n = max((len(ys) for ys in series.values()), default=0)
    if not values or n == 0:
        return ""
    sc = _Scale(n, min(values), max(values))
    labels = x_labels or [str(i) for i in range(n)]
    ident = f' id="{esc(css_id)}"' if css_id else ""
    parts = [
        f'<svg{ident} class="azml-chart" xmlns="http://www.w3.org/2000/svg" width="{sc.w}" height="{sc.h}" '
        f'role="img" aria-label="{esc(title)}"><text x="{sc.w / 2}" y="15" font-size="12" text-anchor="middle" '
        f'font-weight="600">{esc(title)}</text>',
        *_axes(sc, labels),
    ]
    for k, (name, ys) in enumerate(series.items()):
        parts += _series_svg(sc, k, name, ys, labels, legend=len(series) > 1)
    parts.append("</svg>")
    return f'<div class="chart">{"".join(parts)}</div>'
