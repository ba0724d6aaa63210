"""The pipeline page as HTML with inline SVG: step graph, steps and data, metrics, charts.

Pure string building from ``ui_data.pipeline_view``: nothing is loaded from a CDN; the only
script is the package's own ``static/azml_ui.js`` (auto-refresh while the run is going).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from airflow_azml.provider.plugins.ui_parallel import parallel_html
from airflow_azml.provider.plugins.ui_svg import STATUS_COLORS, graph_svg, line_chart
from airflow_azml.provider.plugins.ui_svg import esc as _e
from airflow_azml.provider.plugins.ui_svg import fmt_value as _fmt
from airflow_azml.provider.plugins.ui_svg import is_number as _num
from airflow_azml.provider.plugins.ui_sweep import sweep_html

__all__ = ["render_page", "graph_svg", "line_chart", "format_size", "STATUS_COLORS"]


def format_size(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


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
    return "<br/>".join(_port_html(p) for p in ports) or "–"


def _port_html(p: dict[str, Any]) -> str:
    """A port: its run's location and size, and a link to its Asset page in Airflow's UI."""
    where = (
        f"<code>{_e(p['datastore'])}/{_e(p['path'])}</code> ({_e(format_size(p['size']))})"
        if p.get("path") is not None
        else f"<code>{_e(p.get('asset_uri') or '')}</code>"
    )
    if p.get("asset_url"):
        where += (
            f' <a class="asset" href="{_e(p["asset_url"])}" title="{_e(p.get("asset_uri") or "")}">asset</a>'
        )
    return f"<b>{_e(p['name'])}</b>: {where}"


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


def _sweeps(view: dict[str, Any]) -> str:
    """HyperDriveSteps' sweeps: children, best marked, stopped ones and why, charts (plugins/ui_sweep.py)."""
    parts = [sweep_html(s) for s in view["steps"] if s.get("sweep")]
    return f'<h2>HyperDrive sweeps</h2><div id="azml-sweeps">{"".join(parts)}</div>' if parts else ""


def _parallel(view: dict[str, Any]) -> str:
    """ParallelRunSteps' progress: mini-batches done / failed / left, items/s, per node (plugins/ui_parallel.py)."""
    parts = [parallel_html(s) for s in view["steps"] if s.get("parallel")]
    return f'<h2>ParallelRunStep progress</h2><div id="azml-parallel">{"".join(parts)}</div>' if parts else ""


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
            _sweeps(view),
            _parallel(view),
            _metrics_table(view),
            _charts(view, file_url),
            f'<script src="{_e(static_url)}"></script></body></html>',
        ]
    )
