"""The pipeline page as HTML with inline SVG: step graph, steps and data, metrics, charts.

Pure string building from ``ui_data.pipeline_view``: nothing is loaded from a CDN; the only
script is the package's own ``static/azml_ui.js`` (auto-refresh while the run is going).
"""

from __future__ import annotations

import html
import json
import time
from typing import Any
from urllib.parse import quote

__all__ = ["render_page", "graph_svg", "line_chart", "format_size", "STATUS_COLORS"]

STATUS_COLORS = {
    "Finished": "#bbf7d0",
    "Reused": "#bae6fd",
    "Failed": "#fecaca",
    "Running": "#fde68a",
    "Queued": "#e5e7eb",
    "NotStarted": "#f3f4f6",
    "Canceled": "#fed7aa",
}
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def format_size(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


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
            f'fill="#374151">{_e(label)}</text>'
        )
    return out


def _node_svg(s: dict[str, Any], x: int, y: int, link: str) -> str:
    """A step's box: name, status and duration, kind; a Reused mark; a link that focuses the step."""
    fill = STATUS_COLORS.get(s["status"], "#f3f4f6")
    dur = f" · {s['duration']:.1f}s" if _num(s.get("duration")) else ""
    href = _e(link.format(task_id=quote(s["task_id"])))
    reused = (
        f'<text class="azml-reused" x="{x + _W - 8}" y="{y + 16}" font-size="10" '
        f'text-anchor="end" fill="#0369a1">&#9851; Reused</text>'
        if s["reused"]
        else ""
    )
    return (
        f'<a href="{href}"><g class="azml-node" data-task-id="{_e(s["task_id"])}" '
        f'data-status="{_e(s["status"])}"><title>{_e(s["name"])}: {_e(s["status"])}'
        f"{_e(' — ' + s['reason']) if s.get('reason') else ''}</title>"
        f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="8" fill="{fill}" stroke="#4b5563"/>'
        f'<text x="{x + 10}" y="{y + 20}" font-size="13" font-weight="600">{_e(s["name"][:22])}</text>'
        f'<text x="{x + 10}" y="{y + 38}" font-size="11" fill="#374151">{_e(s["status"])}{_e(dur)}</text>'
        f'<text x="{x + 10}" y="{y + 52}" font-size="10" fill="#6b7280">{_e(str(s["kind"])[:26])}</text>'
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
            f'<text x="{sc.left - 4}" y="{sc.y(v) + 4}" font-size="10" text-anchor="end">{_e(_fmt(v))}</text>'
        )
    for i in sorted({0, sc.n - 1}):  # first and last x label, kept inside the chart
        anchor = "middle" if sc.n == 1 else ("start" if i == 0 else "end")
        parts.append(
            f'<text x="{sc.x(i)}" y="{base + 14}" font-size="10" text-anchor="{anchor}">{_e(labels[i][:18])}</text>'
        )
    return parts


def _series_svg(sc: _Scale, k: int, name: str, ys: list[Any], labels: list[str], legend: bool) -> list[str]:
    """One series: its line, a point per value (with a tooltip), and a legend entry."""
    color = _PALETTE[k % len(_PALETTE)]
    pts = [(sc.x(i), sc.y(v), v, i) for i, v in enumerate(ys) if _num(v)]
    parts = []
    if len(pts) > 1:
        path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y, _, _) in enumerate(pts))
        parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
    for x, y, v, i in pts:
        parts.append(
            f'<circle class="azml-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
            f"<title>{_e(name)} [{_e(labels[i])}] = {_e(_fmt(v))}</title></circle>"
        )
    if legend:
        parts.append(
            f'<text x="{sc.left + 6 + 90 * k}" y="{sc.h - 2}" font-size="10" fill="{color}">{_e(name[:14])}</text>'
        )
    return parts


def line_chart(
    title: str, series: dict[str, list[Any]], x_labels: list[str] | None = None, css_id: str | None = None
) -> str:
    """A small SVG line chart of one or more numeric series (None values are gaps); "" when nothing to plot."""
    values = [v for ys in series.values() for v in ys if _num(v)]
    n = max((len(ys) for ys in series.values()), default=0)
    if not values or n == 0:
        return ""
    sc = _Scale(n, min(values), max(values))
    labels = x_labels or [str(i) for i in range(n)]
    ident = f' id="{_e(css_id)}"' if css_id else ""
    parts = [
        f'<svg{ident} class="azml-chart" xmlns="http://www.w3.org/2000/svg" width="{sc.w}" height="{sc.h}" '
        f'role="img" aria-label="{_e(title)}"><text x="{sc.w / 2}" y="15" font-size="12" text-anchor="middle" '
        f'font-weight="600">{_e(title)}</text>',
        *_axes(sc, labels),
    ]
    for k, (name, ys) in enumerate(series.items()):
        parts += _series_svg(sc, k, name, ys, labels, legend=len(series) > 1)
    parts.append("</svg>")
    return f'<div class="chart">{"".join(parts)}</div>'


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _table_series(table: dict[str, Any]) -> tuple[list[str] | None, dict[str, list[Any]]]:
    """log_row columns to plot; a first column counting up (epoch, step) becomes the x axis."""
    numeric = {c: v for c, v in table.items() if isinstance(v, list) and any(_num(x) for x in v)}
    first = next(iter(table), None)
    xs = table.get(first) if first in numeric else None
    if (
        xs
        and len(numeric) > 1
        and all(_num(x) for x in xs)
        and all(a < b for a, b in zip(xs, xs[1:], strict=False))
    ):
        del numeric[first]
        return [f"{first} {_fmt(x)}" for x in xs], numeric
    return None, numeric


def _step_charts(s: dict[str, Any], file_url: str) -> tuple[list[str], list[str]]:
    """A step's in-run series charts (repeated log, log_list, log_row) and its log_image figures."""
    m, tid = s["metrics"], s["task_id"]
    series = [
        line_chart(f"{s['name']}: {name}", {name: ys}, css_id=f"azml-series-{tid}-{name}")
        for name, ys in sorted(m["series"].items())
    ]
    for name, table in sorted(m["tables"].items()):
        x_labels, numeric = _table_series(table)
        series.append(
            line_chart(f"{s['name']}: {name} (rows)", numeric, x_labels, css_id=f"azml-table-{tid}-{name}")
        )
    images = []
    for name, path in sorted(m["images"].items()):
        src = _e(file_url.format(task_id=quote(tid), path=quote(f"files/{path}")))
        images.append(
            f'<figure class="chart"><img class="metric azml-image" alt="{_e(name)}" src="{src}"/>'
            f'<figcaption class="sub">{_e(s["name"])}: {_e(name)}</figcaption></figure>'
        )
    return series, images


def _charts(view: dict[str, Any], file_url: str) -> str:
    """Charts: each numeric metric across the pipeline's runs, then this run's series and images."""
    hist = view["history"]
    run_labels = [time.strftime("%m-%d %H:%M:%S", time.gmtime(t)) for t in hist["starts"]]
    across = [
        line_chart(f"{key} across runs", {key: ys}, run_labels, css_id=f"azml-history-{key}")
        for key, ys in sorted(hist["metrics"].items())
    ]
    series, images = [], []
    for s in view["steps"]:
        more_series, more_images = _step_charts(s, file_url)
        series += more_series
        images += more_images
    out = [
        '<h2>Charts</h2><div id="azml-charts">',
        f'<h3 class="sub">Across the last {len(hist["runs"])} run(s) of this pipeline</h3>',
        f'<div class="charts">{"".join(across) or "<p class=sub>No numeric metric logged yet.</p>"}</div>',
    ]
    if series:
        out.append(
            f'<h3 class="sub">Series in this run (log_list, log_row, repeated log)</h3>'
            f'<div class="charts">{"".join(series)}</div>'
        )
    if images:
        out.append(f'<h3 class="sub">Images (log_image)</h3><div class="charts">{"".join(images)}</div>')
    out.append("</div>")
    return "".join(out)


# -- tables ------------------------------------------------------------------------------
def _ports_html(ports: list[dict[str, Any]]) -> str:
    return (
        "<br/>".join(
            f"<b>{_e(p['name'])}</b>: <code>{_e(p['datastore'])}/{_e(p['path'])}</code> "
            f"({_e(format_size(p['size']))})"
            for p in ports
        )
        or "–"
    )


def _steps_table(view: dict[str, Any]) -> str:
    rows = []
    for s in view["steps"]:
        dur = f"{s['duration']:.1f}s" if _num(s.get("duration")) else "–"
        reuse = f"Reused — {_e(s['reason'])}" if s["reused"] else _e(s.get("reason") or "")
        rows.append(
            f'<tr data-task-id="{_e(s["task_id"])}"><td><a href="?task_id={quote(s["task_id"])}">'
            f'{_e(s["name"])}</a></td><td><span class="badge" style="background:'
            f'{STATUS_COLORS.get(s["status"], "#fff")}">{_e(s["status"])}</span></td><td>{dur}</td>'
            f"<td>{reuse}</td><td>{_ports_html(s['inputs'])}</td><td>{_ports_html(s['outputs'])}</td></tr>"
        )
    return (
        '<h2>Steps and data</h2><table id="azml-steps"><tr><th>step</th><th>status</th><th>duration</th>'
        f"<th>ran / reused because</th><th>inputs</th><th>outputs</th></tr>{''.join(rows)}</table>"
    )


def _metrics_table(view: dict[str, Any]) -> str:
    rows = []
    for s in view["steps"]:
        m = s["metrics"]
        items = [(n, _fmt(v)) for n, v in sorted(m["scalars"].items())]
        items += [
            (n, "[" + ", ".join(_fmt(x) for x in v[:8]) + (", …]" if len(v) > 8 else "]"))
            for n, v in sorted(m["series"].items())
        ]
        items += [
            (
                n,
                f"table: {', '.join(t)} ({max((len(c) for c in t.values() if isinstance(c, list)), default=0)} rows)",
            )
            for n, t in sorted(m["tables"].items())
        ]
        items += [(n, "image") for n in sorted(m["images"])]
        rows += [f"<tr><td>{_e(s['name'])}</td><td>{_e(n)}</td><td>{_e(v)}</td></tr>" for n, v in items]
    body = "".join(rows) or '<tr><td colspan="3" class="sub">No metrics logged.</td></tr>'
    return f'<h2>Metrics</h2><table id="azml-metrics"><tr><th>step</th><th>metric</th><th>value</th></tr>{body}</table>'


def _detail(step: dict[str, Any], logs: dict[str, str]) -> str:
    parts = [
        f'<h2 id="azml-step">Step {_e(step["name"])} <span class="sub">({_e(step["status"])}, '
        f"try {_e(step.get('try_number') or '–')})</span></h2>"
    ]
    if step["reused_from"]:
        rf = step["reused_from"]
        parts.append(
            f"<p>Outputs reused from run <code>{_e(rf.get('run_id'))}</code>: {_e(step.get('reason') or '')}</p>"
        )
    parts.append(
        f'<p id="outputs"><b>Inputs</b><br/>{_ports_html(step["inputs"])}</p>'
        f"<p><b>Outputs</b><br/>{_ports_html(step['outputs'])}</p>"
    )
    if step.get("error"):
        parts.append(f'<div class="err">{_e(step["error"])}</div>')
    for name, text in logs.items():
        if text:
            parts.append(
                f'<h3 class="sub">{_e(name)} (last 4 KB)</h3><pre class="log">{_e(text[-4096:])}</pre>'
            )
    return "".join(parts)


def render_page(
    view: dict[str, Any],
    *,
    task_id: str | None = None,
    logs: dict[str, str] | None = None,
    file_url: str = "file/{task_id}/{path}",
    static_url: str = "static/azml_ui.js",
    airflow_url: str = "",
    notice: str = "",
) -> str:
    """The whole page. ``task_id`` focuses one step (its data, error and log tails)."""
    counts: dict[str, int] = {}
    for s in view["steps"]:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    focus = next((s for s in view["steps"] if s["task_id"] == task_id), None)
    back = f' · <a href="{_e(airflow_url)}" target="_top">open in Airflow</a>' if airflow_url else ""
    return "".join(
        [
            '<!doctype html><html><head><meta charset="utf-8"><title>',
            _e(view["dag_id"]),
            " – pipeline</title>",
            f'<link rel="stylesheet" href="{_e(static_url.rsplit("/", 1)[0])}/azml_ui.css"></head>',
            f'<body data-running="{str(view["running"]).lower()}" data-view="{_e(json.dumps({"dag_id": view["dag_id"], "run_id": view["run_id"]}))}">',
            f'<h1>Pipeline {_e(view["dag_id"])}</h1><div class="sub">run <code>{_e(view["run_id"])}</code> · {_e(summary)}{back}</div>',
            f'<p class="sub">{_e(notice)}</p>' if notice else "",
            "<h2>Step graph</h2>",
            graph_svg(view),
            _detail(focus, logs or {}) if focus else "",
            _steps_table(view),
            _metrics_table(view),
            _charts(view, file_url),
            f'<script src="{_e(static_url)}"></script></body></html>',
        ]
    )
