"""Metrics as JSON lines, and how a series of log calls reads back (as v1's get_metrics)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["MetricsWriter", "read_metrics", "summarize"]


class MetricsWriter:
    """Appends one JSON object per call; each line is flushed so a crash loses nothing logged."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, kind: str, name: str, value: Any, **extra: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"kind": kind, "name": name, "value": value, "time": time.time(), **extra}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """v1 shape: a scalar logged once is a value, logged again a list; rows build column lists."""
    out: dict[str, Any] = {}
    for rec in records:
        name, value, kind = rec["name"], rec["value"], rec["kind"]
        if kind == "scalar":
            if name in out:
                out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
            else:
                out[name] = value
        elif kind == "list":
            out[name] = list(value)
        elif kind == "row":
            table = out.setdefault(name, {})
            for col, cell in value.items():
                table.setdefault(col, []).append(cell)
        elif kind == "table":
            out[name] = dict(value)
        elif kind in ("image", "file"):
            out[name] = {"kind": kind, "path": value}
        elif kind == "tag":
            continue
    return out
