"""Mini-batches of a ParallelRunStep: how the inputs are cut, and how one batch is read back.

A FileDataset is cut into lists of ``mini_batch_size`` files. A TabularDataset is cut by size:
small files share a mini-batch, a large delimited file is split at line boundaries inside it
(byte ranges: a range owns every line that starts in it) and a large Parquet file by row ranges,
so a single big file is never one mini-batch. With ``partition_keys`` each mini-batch is one
combination of the keys' values. The cut depends only on the inputs, so its mini-batch ids are
the same in every attempt, which is what lets a retried attempt skip finished ones.
pandas and pyarrow are imported only when tabular data is read.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, TypedDict

__all__ = ["MiniBatch", "plan_batches", "load_batch", "describe_items", "DEFAULT_FILES", "DEFAULT_BYTES"]

DEFAULT_FILES = 10
DEFAULT_BYTES = 1024 * 1024


class MiniBatch(TypedDict, total=False):
    """One unit of work: files, or pieces of tabular files; its partition values if partitioned."""

    id: str
    kind: str  # "file" | "tabular"
    files: list[str]
    pieces: list[dict[str, Any]]
    partition: dict[str, Any] | None
    input: str
    bytes: int


def _walk(path: Path) -> list[str]:
    if path.is_file():
        return [str(path)]
    found = []
    for root, _dirs, names in os.walk(path, followlinks=True):
        found += [os.path.join(root, n) for n in names]
    return sorted(found)


def _file_list(value: dict[str, Any]) -> list[str]:
    if "path" in value:
        return _walk(Path(value["path"]))
    return [str(p) for p in value["definition"].get("local_files", [])]


def plan_batches(cfg: dict[str, Any], workspace: Any, scratch: Path) -> list[MiniBatch]:
    """Every mini-batch of the step's inputs, in a stable order."""
    keys = cfg.get("partition_keys")
    batches: list[MiniBatch] = []
    for name in cfg["inputs"]:
        value = cfg["input_values"][name]
        tabular = _is_tabular(value, cfg)
        if keys:
            definition = cfg["definitions"].get(name) or value.get("definition")
            part = _tabular_partitions if tabular else _file_partitions
            batches += part(name, definition, keys, workspace, scratch)
        elif tabular:
            batches += _tabular_batches(
                name, value["definition"], workspace, scratch, int(cfg["mini_batch_size"])
            )
        else:
            files = _file_list(value)
            size = int(cfg["mini_batch_size"])
            batches += [
                {
                    "id": f"{name}-{i // size:06d}",
                    "kind": "file",
                    "files": files[i : i + size],
                    "partition": None,
                }
                for i in range(0, len(files), size)
            ]
    return batches


def _is_tabular(value: dict[str, Any], cfg: dict[str, Any]) -> bool:
    definition = value.get("definition") or {}
    return definition.get("kind") == "tabular" or (
        cfg.get("input_kind") == "tabular" and "definition" in value
    )


def _file_partitions(
    name: str, definition: dict[str, Any] | None, keys: list[str], workspace: Any, scratch: Path
) -> list[MiniBatch]:
    from airflow_azml.data.sources import materialize, select_sources

    if not definition:
        raise ValueError(f"input {name!r} has no dataset definition, so it cannot be partitioned by {keys}.")
    groups: dict[tuple, list[str]] = {}
    for source, values in select_sources(definition, workspace):
        groups.setdefault(tuple(values.get(k) for k in keys), []).append(str(materialize(source)))
    return [
        {
            "id": f"{name}-p{i:06d}",
            "kind": "file",
            "files": files,
            "partition": dict(zip(keys, group, strict=True)),
            "input": name,
        }
        for i, (group, files) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0])))
    ]


def _tabular_partitions(
    name: str, definition: dict[str, Any] | None, keys: list[str], workspace: Any, scratch: Path
) -> list[MiniBatch]:
    from airflow_azml.data.tabular import read_frame

    frame = read_frame(definition or {}, workspace, f"input {name!r}")
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ValueError(f"input {name!r} has no columns {missing}; its columns: {list(frame.columns)}.")
    out: list[MiniBatch] = []
    scratch.mkdir(parents=True, exist_ok=True)
    for i, (group, rows) in enumerate(frame.groupby(keys, sort=True, dropna=False)):
        path = scratch / f"{name}-p{i:06d}.pkl"
        rows.reset_index(drop=True).to_pickle(path)
        values = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
        piece = {"format": "pickle", "path": str(path)}
        out.append(
            {
                "id": f"{name}-p{i:06d}",
                "kind": "tabular",
                "pieces": [piece],
                "partition": _plain(values),
                "input": name,
            }
        )
    return out


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in values.items()}


def _tabular_batches(
    name: str, definition: dict[str, Any], workspace: Any, scratch: Path, size: int
) -> list[MiniBatch]:
    """Pieces of at most ``size`` bytes, packed into mini-batches of about ``size`` bytes."""
    from airflow_azml.data.sources import materialize, select_sources, transforms

    if transforms(definition):  # row filters/takes: read once, then cut the rows
        return _frame_batches(name, definition, workspace, scratch, size)
    pieces: list[dict[str, Any]] = []
    for source, values in select_sources(definition, workspace):
        path = materialize(source)
        extra = {"values": values, "label": source.label, "options": definition.get("options", {})}
        pieces += [{**p, **extra} for p in _file_pieces(path, definition, size)]
    batches: list[MiniBatch] = []
    current: list[dict[str, Any]] = []
    used = 0
    for piece in pieces:
        if current and used + piece["bytes"] > size:
            batches.append(_tab_batch(name, len(batches), current, used))
            current, used = [], 0
        current.append(piece)
        used += piece["bytes"]
    if current:
        batches.append(_tab_batch(name, len(batches), current, used))
    return batches


def _tab_batch(name: str, index: int, pieces: list[dict[str, Any]], used: int) -> MiniBatch:
    return {
        "id": f"{name}-{index:06d}",
        "kind": "tabular",
        "pieces": pieces,
        "partition": None,
        "bytes": used,
    }


def _file_pieces(path: Path, definition: dict[str, Any], size: int) -> list[dict[str, Any]]:
    total = path.stat().st_size
    if definition.get("format") == "parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
        per = max(1, int(rows * size / max(total, 1)))
        return [
            {
                "format": "parquet",
                "path": str(path),
                "rows": [a, min(a + per, rows)],
                "bytes": min(size, total),
            }
            for a in range(0, max(rows, 1), per)
        ]
    cuts = list(range(0, total, size)) or [0]
    return [
        {
            "format": "csv",
            "path": str(path),
            "range": [a, min(a + size, total)],
            "bytes": min(a + size, total) - a,
        }
        for a in cuts
    ]


def _frame_batches(
    name: str, definition: dict[str, Any], workspace: Any, scratch: Path, size: int
) -> list[MiniBatch]:
    from airflow_azml.data.tabular import read_frame

    frame = read_frame(definition, workspace, f"input {name!r}")
    per_row = max(1, int(frame.memory_usage(deep=True).sum() / max(len(frame), 1)))
    step = max(1, size // per_row)
    scratch.mkdir(parents=True, exist_ok=True)
    out: list[MiniBatch] = []
    for i, start in enumerate(range(0, len(frame), step)):
        path = scratch / f"{name}-{i:06d}.pkl"
        frame.iloc[start : start + step].reset_index(drop=True).to_pickle(path)
        out.append(_tab_batch(name, i, [{"format": "pickle", "path": str(path)}], step * per_row))
    return out


# -- reading one mini-batch (in a worker process) -------------------------------------------
def load_batch(batch: MiniBatch) -> Any:
    """What run() receives: the list of file paths, or one DataFrame of the batch's rows."""
    if batch["kind"] == "file":
        return list(batch["files"])
    import pandas as pd

    frames = [_read_piece(p, p.get("options") or {}) for p in batch["pieces"]]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_piece(piece: dict[str, Any], options: dict[str, Any]) -> Any:
    import pandas as pd

    fmt = piece["format"]
    if fmt == "pickle":
        return pd.read_pickle(piece["path"])
    if fmt == "parquet":
        frame = _parquet_rows(piece["path"], *piece["rows"])
    else:
        frame = _csv_range(piece["path"], piece["range"], options)
    if options.get("include_path"):
        frame.insert(0, "Path", piece.get("label", piece["path"]))
    for key, value in (piece.get("values") or {}).items():
        if key not in frame.columns:
            frame[key] = value
    return frame


def _parquet_rows(path: str, start: int, end: int) -> Any:
    """Rows [start, end) of a Parquet file, reading only the row groups that hold them."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    groups, first, offset = [], None, 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if offset + n > start and offset < end:
            groups.append(g)
            first = offset if first is None else first
        offset += n
    table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    base = first or 0
    return table.slice(start - base, end - start).to_pandas()


def _csv_range(path: str, byte_range: list[int], options: dict[str, Any]) -> Any:
    """The lines that start inside ``[start, end)`` (the header is read from the file's top)."""
    import pandas as pd

    start, end = byte_range
    has_header = options.get("header", True)
    with open(path, "rb") as fh:
        header = fh.readline() if has_header else b""
        begin = max(start, len(header))
        if begin > len(header):
            fh.seek(begin - 1)
            fh.readline()  # the line that starts before the range belongs to the range before
        else:
            fh.seek(begin)
        pos = fh.tell()
        data = fh.read(max(0, end - pos)) if pos < end else b""
        if data and not data.endswith(b"\n"):
            data += fh.readline()
    return pd.read_csv(
        io.BytesIO(header + data), sep=options.get("separator", ","), header=0 if has_header else None
    )


def describe_items(batch: MiniBatch, limit: int = 20) -> list[str]:
    """The batch's items as words for an error message (files, or file pieces and their ranges)."""
    if batch["kind"] == "file":
        return list(batch["files"][:limit])
    out = []
    for p in batch["pieces"][:limit]:
        where = p.get("range") and f"bytes {p['range'][0]}-{p['range'][1]}"
        where = where or (p.get("rows") and f"rows {p['rows'][0]}-{p['rows'][1]}") or "all rows"
        out.append(f"{p.get('label') or p['path']} ({where})")
    if batch.get("partition"):
        out.insert(0, f"partition {batch['partition']}")
    return out
