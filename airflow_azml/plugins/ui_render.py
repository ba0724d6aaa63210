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
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#111827;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #e5e7eb}
.sub{color:#6b7280;font-size:13px} table{border-collapse:collapse;font-size:13px;margin-bottom:8px}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top} th{background:#f9fafb}
code{font-size:12px} .badge{border-radius:9px;padding:1px 8px;font-size:12px;border:1px solid #d1d5db}
.charts{display:flex;flex-wrap:wrap;gap:12px} .chart{border:1px solid #e5e7eb;border-radius:6px;padding:6px}
.err{background:#fef2f2;border:1px solid #fecaca;padding:8px;white-space:pre-wrap;font-size:12px}
pre.log{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;max-height:240px;overflow:auto;font-size:12px}
a{color:#1d4ed8} img.metric{max-width:360px;border:1px solid #e5e7eb}
"""


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


def graph_svg(view: dict[str, Any], link: str = "?task_id={task_id}") -> str:
    """The step graph: one box per step coloured by status, Reused marked, data edges labelled."""
    steps, edges = view["steps"], view["edges"]
    layer = _layers(steps, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    w, h, gx, gy = 170, 58, 90, 26
    for s in steps:
        col = layer[s["task_id"]]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[s["task_id"]] = (10 + col * (w + gx), 10 + row * (h + gy))
    width = 20 + (max(layer.values(), default=0) + 1) * (w + gx) - gx
    height = 20 + max(rows.values(), default=1) * (h + gy) - gy
    parts = [
        f'<svg id="azml-graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline step graph">',
        '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#6b7280"/></marker></defs>',
    ]
    for e in edges:
        if e["src"] not in pos or e["dst"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e["src"]], pos[e["dst"]]
        x1, y1, x2, y2 = x1 + w, y1 + h / 2, x2, y2 + h / 2
        dash = "" if e["kind"] == "data" else ' stroke-dasharray="5,4"'
        mid = (x1 + x2) / 2
        parts.append(
            f'<path class="azml-edge" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
            f'stroke="#6b7280" stroke-width="1.5"{dash} marker-end="url(#arr)"/>'
        )
        label = e["label"] or ("run_after" if e["kind"] == "order" else "")
        if label:
            parts.append(
                f'<text x="{mid}" y="{(y1 + y2) / 2 - 5}" font-size="11" text-anchor="middle" '
                f'fill="#374151">{_e(label)}</text>'
            )
    for s in steps:
        x, y = pos[s["task_id"]]
        fill = STATUS_COLORS.get(s["status"], "#f3f4f6")
        dur = f" · {s['duration']:.1f}s" if isinstance(s.get("duration"), (int, float)) else ""
        href = _e(link.format(task_id=quote(s["task_id"])))
        parts.append(
            f'<a href="{href}"><g class="azml-node" data-task-id="{_e(s["task_id"])}" '
            f'data-status="{_e(s["status"])}"><title>{_e(s["name"])}: {_e(s["status"])}'
            f"{_e(' — ' + s['reason']) if s.get('reason') else ''}</title>"
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="#4b5563"/>'
            f'<text x="{x + 10}" y="{y + 20}" font-size="13" font-weight="600">{_e(s["name"][:22])}</text>'
            f'<text x="{x + 10}" y="{y + 38}" font-size="11" fill="#374151">{_e(s["status"])}{_e(dur)}</text>'
            f'<text x="{x + 10}" y="{y + 52}" font-size="10" fill="#6b7280">{_e(str(s["kind"])[:26])}</text>'
        )
        if s["reused"]:
            parts.append(
                f'<text class="azml-reused" x="{x + w - 8}" y="{y + 16}" font-size="10" '
                f'text-anchor="end" fill="#0369a1">&#9851; Reused</text>'
            )
        parts.append("</g></a>")
    parts.append("</svg>")
    return "".join(parts)


# -- charts ------------------------------------------------------------------------------
def line_chart(
    title: str, series: dict[str, list[Any]], x_labels: list[str] | None = None, css_id: str | None = None
) -> str:
    """A small SVG line chart of one or more numeric series (None values are gaps)."""
    w, h, left, bottom, top = 360, 200, 52, 28, 24
    values = [v for ys in series.values() for v in ys if _num(v)]
    n = max((len(ys) for ys in series.values()), default=0)
    ident = f' id="{_e(css_id)}"' if css_id else ""
    if not values or n == 0:
        return ""
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - (abs(lo) or 1) * 0.1, hi + (abs(hi) or 1) * 0.1

    def px(i: int) -> float:
        return left + (i * (w - left - 12) / (n - 1) if n > 1 else (w - left - 12) / 2)

    def py(v: float) -> float:
        return top + (hi - v) * (h - top - bottom) / (hi - lo)

    parts = [
        f'<svg{ident} class="azml-chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'role="img" aria-label="{_e(title)}"><text x="{w / 2}" y="15" font-size="12" text-anchor="middle" '
        f'font-weight="600">{_e(title)}</text>',
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 8}" y2="{h - bottom}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#9ca3af"/>',
    ]
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(
            f'<text x="{left - 4}" y="{py(v) + 4}" font-size="10" text-anchor="end">{_e(_fmt(v))}</text>'
        )
    labels = x_labels or [str(i) for i in range(n)]
    for i in sorted({0, n - 1}):
        parts.append(
            f'<text x="{px(i)}" y="{h - bottom + 14}" font-size="10" text-anchor="middle">'
            f"{_e(labels[i][:18])}</text>"
        )
    for k, (name, ys) in enumerate(series.items()):
        color = _PALETTE[k % len(_PALETTE)]
        pts = [(px(i), py(v), v, i) for i, v in enumerate(ys) if _num(v)]
        if len(pts) > 1:
            path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y, _, _) in enumerate(pts))
            parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v, i in pts:
            parts.append(
                f'<circle class="azml-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                f"<title>{_e(name)} [{_e(labels[i])}] = {_e(_fmt(v))}</title></circle>"
            )
        if len(series) > 1:
            parts.append(
                f'<text x="{left + 6 + 90 * k}" y="{h - 2}" font-size="10" fill="{color}">'
                f"{_e(name[:14])}</text>"
            )
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


def _charts(view: dict[str, Any], file_url: str) -> str:
    hist = view["history"]
    run_labels = [time.strftime("%m-%d %H:%M:%S", time.gmtime(t)) for t in hist["starts"]]
    across = [
        line_chart(f"{key} across runs", {key: ys}, run_labels, css_id=f"azml-history-{key}")
        for key, ys in sorted(hist["metrics"].items())
    ]
    series, images = [], []
    for s in view["steps"]:
        m = s["metrics"]
        for name, ys in sorted(m["series"].items()):
            series.append(
                line_chart(f"{s['name']}: {name}", {name: ys}, css_id=f"azml-series-{s['task_id']}-{name}")
            )
        for name, table in sorted(m["tables"].items()):
            x_labels, numeric = _table_series(table)
            series.append(
                line_chart(
                    f"{s['name']}: {name} (rows)",
                    numeric,
                    x_labels,
                    css_id=f"azml-table-{s['task_id']}-{name}",
                )
            )
        for name, path in sorted(m["images"].items()):
            src = _e(file_url.format(task_id=quote(s["task_id"]), path=quote(f"files/{path}")))
            images.append(
                f'<figure class="chart"><img class="metric azml-image" alt="{_e(name)}" src="{src}"/>'
                f'<figcaption class="sub">{_e(s["name"])}: {_e(name)}</figcaption></figure>'
            )
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
            f"<style>{_CSS}</style></head>",
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
