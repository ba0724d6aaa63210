"""The step table printed after a run (status, duration, reuse, metrics, outputs)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["step_table"]


def _fmt_metrics(metrics: dict[str, Any], width: int = 60) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        elif isinstance(value, int | str | bool):
            parts.append(f"{key}={value}")
        else:
            parts.append(f"{key}={json.dumps(value, default=str)[:24]}")
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def step_table(steps: list[Any]) -> str:
    rows = [("step", "status", "duration", "metrics", "outputs")]
    for s in steps:
        rec = s.record or {}
        duration = f"{rec['duration']:.1f}s" if rec.get("duration") is not None else "-"
        outputs = ", ".join(f"{n} -> {o['datastore']}/{o['path']}" for n, o in rec.get("outputs", {}).items())
        rows.append((s.name, s.get_status(), duration, _fmt_metrics(rec.get("metrics", {})), outputs or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4])
        if i == 0:
            lines.append("-" * (sum(widths) + 8 + len(r[4])))
    reasons = [
        f"  {s.name}: {'reused, ' + rec['reuse_reason'] if rec.get('reused') else rec['run_reason']}"
        for s in steps
        if (rec := s.record or {}).get("reuse_reason") or rec.get("run_reason")
    ]
    return "\n".join(lines + (["why:", *reasons] if reasons else []))
