"""A HyperDriveStep's sweep on the pipeline page: its children, the best one, the stopped ones, charts.

Pure: ``sweep_view`` reads the children's run records (``<task>/children/HD_<n>.json``, written by
``execution/hyperdrive.py`` as each child starts, logs its primary metric and ends) into plain
data; ``sweep_html`` renders it as a table and inline SVG scatter charts (the primary metric
over the sweep's time, and against each hyperparameter). Nothing is loaded from a CDN.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_azml.execution.hyperdrive import CHILDREN_DIR
from airflow_azml.execution.records import RunRecords
from airflow_azml.provider.plugins.ui_svg import STATUS_COLORS, esc, fmt_value, is_number

__all__ = ["sweep_view", "sweep_html", "scatter_chart"]

#: a child's status -> the colour of its point (the step status colours, darker for points)
_POINT = {"Completed": "#16a34a", "Failed": "#dc2626", "Canceled": "#ea580c", "Running": "#ca8a04"}


def _read(store: Any, rel: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(store.read_bytes(rel)))
    except (OSError, ValueError, TypeError):
        return None


def sweep_view(
    store: Any, dag_id: str, run_id: str, task_id: str, record: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The sweep of HyperDriveStep ``task_id`` from its children's records (None when it has none yet).

    ``record`` is the step's run record: a reused step shows the children of the run it reused.
    """
    rec = record or {}
    summary = rec.get("hyperdrive") or {}
    earlier = rec.get("reused_from") if rec.get("reused") else None
    if isinstance(earlier, dict) and earlier.get("run_id"):
        run_id, task_id = earlier["run_id"], earlier.get("task_id") or task_id
    folder = f"{RunRecords(store, dag_id, run_id).prefix}/{task_id}/{CHILDREN_DIR}"
    try:
        files = store.list_files(folder) if store.exists(folder) else []
    except (OSError, ValueError):
        files = []
    files = [f for f in files if "/" not in f[len(folder) + 1 :] and f.endswith(".json")]
    children = [c for f in files if (c := _read(store, f)) is not None]
    if not children:
        return None
    children.sort(key=lambda c: c.get("number", 0))
    first = children[0]
    metric = first.get("primary_metric_name") or summary.get("primary_metric_name") or "primary metric"
    maximize = (
        first.get("primary_metric_goal") or summary.get("primary_metric_goal") or "MAXIMIZE"
    ) == "MAXIMIZE"
    scored = [
        c for c in children if c.get("status") == "Completed" and is_number(c.get("best_primary_metric"))
    ]
    best = (max if maximize else min)(scored, key=lambda c: c["best_primary_metric"]) if scored else None
    start = min((c.get("start_time") or 0) for c in children)
    rows = [
        {
            "number": c.get("number"),
            "run_id": c.get("run_id"),
            "hyperparameters": c.get("hyperparameters") or {},
            "status": c.get("status"),
            "metric": c.get("best_primary_metric"),
            "series": c.get("primary_metric_series") or [],
            "reason": c.get("termination_reason"),
            "error": c.get("error"),
            "reused_from": c.get("reused_from"),
            "elapsed": (c.get("end_time") or c.get("start_time") or start) - start,
            "duration": (c["end_time"] - c["start_time"])
            if c.get("end_time") and c.get("start_time")
            else None,
            "best": best is not None and c is best,
        }
        for c in children
    ]
    names = sorted({n for c in children for n in (c.get("hyperparameters") or {})})
    return {
        "metric": metric,
        "maximize": maximize,
        "children": rows,
        "hyperparameters": names,
        "best": None if best is None else best.get("number"),
        "stopped_reason": summary.get("stopped_reason"),
        "counts": {s: sum(r["status"] == s for r in rows) for s in sorted({r["status"] for r in rows})},
    }


# -- chart -------------------------------------------------------------------------------
_W, _H, _L, _B, _T = 360, 200, 52, 30, 24


def _span(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - (abs(lo) or 1) * 0.1, hi + (abs(hi) or 1) * 0.1
    return lo, hi


def scatter_chart(
    title: str,
    points: list[dict[str, Any]],
    x_label: str,
    *,
    categories: list[str] | None = None,
    line: list[tuple[float, float]] | None = None,
    css_id: str | None = None,
) -> str:
    """An SVG scatter of ``points`` (``x``, ``y``, ``color``, ``title``, ``best``); ``categories`` names
    the x positions 0..n-1 of a non-numeric axis; ``line`` (x, y pairs) is drawn as a step line."""
    pts = [p for p in points if is_number(p.get("x")) and is_number(p.get("y"))]
    if not pts:
        return ""
    xlo, xhi = (-0.5, len(categories) - 0.5) if categories else _span([p["x"] for p in pts])
    ylo, yhi = _span([p["y"] for p in pts])
    xpad = 0 if categories else (xhi - xlo) * 0.06  # points off the axes and the edges
    ypad = (yhi - ylo) * 0.08

    def px(x: float) -> float:
        return _L + (x - xlo + xpad) * (_W - _L - 12) / (xhi - xlo + 2 * xpad)

    def py(y: float) -> float:
        return _T + (yhi + ypad - y) * (_H - _T - _B) / (yhi - ylo + 2 * ypad)

    base = _H - _B
    ident = f' id="{esc(css_id)}"' if css_id else ""
    out = [
        f'<svg{ident} class="azml-chart azml-scatter" xmlns="http://www.w3.org/2000/svg" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{esc(title)}"><text x="{_W / 2}" y="15" font-size="12" '
        f'text-anchor="middle" font-weight="600">{esc(title)}</text>',
        f'<line x1="{_L}" y1="{base}" x2="{_W - 8}" y2="{base}" stroke="#9ca3af"/>',
        f'<line x1="{_L}" y1="{_T}" x2="{_L}" y2="{base}" stroke="#9ca3af"/>',
    ]
    for v in (ylo, (ylo + yhi) / 2, yhi):
        out.append(
            f'<text x="{_L - 4}" y="{py(v) + 4:.1f}" font-size="10" text-anchor="end">{esc(fmt_value(v))}</text>'
        )
    ticks = list(enumerate(categories)) if categories else [(xlo, fmt_value(xlo)), (xhi, fmt_value(xhi))]
    for x, label in ticks[:12]:
        out.append(
            f'<text x="{px(x):.1f}" y="{base + 13}" font-size="10" text-anchor="middle">{esc(str(label)[:10])}</text>'
        )
    out.append(
        f'<text x="{(_W + _L) / 2}" y="{_H - 2}" font-size="10" text-anchor="middle">{esc(x_label)}</text>'
    )
    if line and len(line) > 1:
        path = f"M{px(line[0][0]):.1f},{py(line[0][1]):.1f}"
        for (_, y0), (x1, y1) in zip(line, line[1:], strict=False):
            path += f" L{px(x1):.1f},{py(y0):.1f} L{px(x1):.1f},{py(y1):.1f}"
        out.append(
            f'<path class="azml-best-so-far" d="{path}" fill="none" stroke="#2563eb" stroke-width="1.5"/>'
        )
    for p in pts:
        ring = ' stroke="#111827" stroke-width="2"' if p.get("best") else ""
        out.append(
            f'<circle class="azml-point" cx="{px(p["x"]):.1f}" cy="{py(p["y"]):.1f}" r="{5 if p.get("best") else 3.5}" '
            f'fill="{p.get("color", "#2563eb")}"{ring}><title>{esc(p.get("title", ""))}</title></circle>'
        )
    out.append("</svg>")
    return f'<div class="chart">{"".join(out)}</div>'


def _point(c: dict[str, Any], x: Any, metric: str) -> dict[str, Any]:
    params = ", ".join(f"{k}={fmt_value(v)}" for k, v in c["hyperparameters"].items())
    return {
        "x": x,
        "y": c["metric"],
        "color": _POINT.get(c["status"], "#4b5563"),
        "best": c["best"],
        "title": f"HD_{c['number']} ({c['status']}{', best' if c['best'] else ''}) {params}: {metric} = "
        f"{fmt_value(c['metric'])}",
    }


def _charts(sweep: dict[str, Any], task_id: str) -> list[str]:
    metric, children = sweep["metric"], sweep["children"]
    by_time = sorted(children, key=lambda c: c["elapsed"])
    best_so_far: list[tuple[float, float]] = []
    pick = max if sweep["maximize"] else min
    for c in by_time:
        if c["status"] == "Completed" and is_number(c["metric"]):
            value = c["metric"] if not best_so_far else pick(best_so_far[-1][1], c["metric"])
            best_so_far.append((c["elapsed"], value))
    charts = [
        scatter_chart(
            f"{metric} over the sweep",
            [_point(c, c["elapsed"], metric) for c in children],
            "seconds since the sweep started (child's end)",
            line=best_so_far,
            css_id=f"azml-sweep-time-{task_id}",
        )
    ]
    for name in sweep["hyperparameters"]:
        values = [c["hyperparameters"].get(name) for c in children]
        numeric = all(is_number(v) for v in values if v is not None)
        cats = None if numeric else sorted({json.dumps(v) for v in values if v is not None})
        pts = [
            _point(c, v if numeric else cats.index(json.dumps(v)), metric)
            for c, v in zip(children, values, strict=True)
            if v is not None
        ]
        charts.append(
            scatter_chart(
                f"{metric} against {name}",
                pts,
                name,
                categories=None if cats is None else [fmt_value(json.loads(k)) for k in cats],
                css_id=f"azml-sweep-param-{task_id}-{name.lstrip('-')}",
            )
        )
    return [c for c in charts if c]


def sweep_html(step: dict[str, Any]) -> str:
    """The sweep section of one HyperDriveStep: a row per child (best marked, why stopped) and charts."""
    sweep = step.get("sweep")
    if not sweep:
        return ""
    names = sweep["hyperparameters"]
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    rows = []
    for c in sweep["children"]:
        error = (c["error"] or "").strip().splitlines()
        why = c["reason"] or (error[-1] if error else "")
        reused = f" (reused from <code>{esc(c['reused_from'])}</code>)" if c["reused_from"] else ""
        dur = f"{c['duration']:.1f}s" if is_number(c["duration"]) else "–"
        rows.append(
            f'<tr class="azml-child{" azml-best" if c["best"] else ""}" data-child="HD_{esc(c["number"])}">'
            f"<td>HD_{esc(c['number'])}{' ★ best' if c['best'] else ''}</td>"
            f'<td><span class="badge" style="background:{STATUS_COLORS.get(_v1(c["status"]), "#fff")}">'
            f"{esc(c['status'])}</span></td>"
            + "".join(f"<td>{esc(fmt_value(c['hyperparameters'].get(n, '–')))}</td>" for n in names)
            + f"<td>{esc(fmt_value(c['metric'])) if c['metric'] is not None else '–'}</td><td>{dur}</td>"
            f"<td>{esc(why or '')}{reused}</td></tr>"
        )
    counts = ", ".join(f"{n} {s}" for s, n in sweep["counts"].items())
    goal = "maximize" if sweep["maximize"] else "minimize"
    stopped = f" · sweep ended early: {esc(sweep['stopped_reason'])}" if sweep.get("stopped_reason") else ""
    charts = "".join(_charts(sweep, step["task_id"]))
    legend = " ".join(f'<span style="color:{c}">●</span> {s}' for s, c in _POINT.items())
    legend = (
        f'<p class="sub">Points: {legend}; the ringed point is the best child, the line the best so far.</p>'
    )
    return (
        f'<div class="azml-sweep" id="azml-sweep-{esc(step["task_id"])}"><h3>{esc(step["name"])}: '
        f'{len(sweep["children"])} child runs <span class="sub">({esc(counts)}; primary metric '
        f"<code>{esc(sweep['metric'])}</code>, {goal}){stopped}</span></h3>"
        f"<table><tr><th>child</th><th>status</th>{head}<th>{esc(sweep['metric'])}</th><th>duration</th>"
        f"<th>stopped because / error</th></tr>{''.join(rows)}</table>"
        f'{legend if charts else ""}<div class="charts">{charts}</div></div>'
    )


def _v1(status: str) -> str:
    """A child's status as the step status colours name it."""
    return {"Completed": "Finished"}.get(status, status)
