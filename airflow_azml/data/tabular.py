"""Reading a tabular dataset into pandas, and ``partition_by`` (pandas / pyarrow, imported lazily)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from airflow_azml.data.expressions import evaluate, referenced_names
from airflow_azml.data.partitions import partition_layout
from airflow_azml.data.sources import materialize, positions, select_sources, transforms
from airflow_azml.exceptions import UserErrorException

__all__ = ["read_frame", "partition_by"]


def _read_one(path: Path, definition: dict[str, Any]) -> Any:
    import pandas as pd

    opts = definition.get("options", {})
    if definition.get("format") == "parquet":
        return pd.read_parquet(path)
    header = 0 if opts.get("header", True) else None
    return pd.read_csv(path, sep=opts.get("separator", ","), header=header)


def read_frame(definition: dict[str, Any], workspace: Any, what: str) -> Any:
    """The definition's rows: files read (fetched if remote), partition columns added, filters and takes applied."""
    import pandas as pd

    selected = select_sources(definition, workspace)
    if not selected:
        raise UserErrorException(f"{what} matches no files.")
    frames = []
    for source, values in selected:
        frame = _read_one(materialize(source), definition)
        if definition.get("options", {}).get("include_path"):
            frame.insert(0, "Path", source.label)
        for key, value in values.items():
            if key not in frame.columns:  # a file that holds the column keeps its typed values
                frame[key] = value
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for step in transforms(definition):
        frame = _apply(frame, step, what)
    return frame


def _apply(frame: Any, step: dict[str, Any], what: str) -> Any:
    """One transform on the rows: take / skip / random_split part, filter, drop or keep columns."""
    kept = positions(step, len(frame))
    if kept is not None:
        return frame.iloc[kept].reset_index(drop=True)
    if "drop_columns" in step:
        return frame.drop(columns=[c for c in step["drop_columns"] if c in frame.columns])
    names = step["keep_columns"] if "keep_columns" in step else sorted(referenced_names(step["filter"]))
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise UserErrorException(f"{what}: {missing} are not columns; columns: {list(frame.columns)}.")
    if "keep_columns" in step:
        return frame[list(step["keep_columns"])]
    mask = evaluate(step["filter"], frame.__getitem__)
    mask = mask.fillna(False).astype(bool) if hasattr(mask, "fillna") else mask
    return frame[mask].reset_index(drop=True)


def _target(target: Any) -> tuple[Any, str]:
    """v1's targets: a DataPath, a Datastore (its root) or a (Datastore, path) tuple."""
    if isinstance(target, tuple) and len(target) == 2:
        datastore, rel = target
    elif hasattr(target, "path_on_datastore") and hasattr(target, "datastore"):
        datastore, rel = target.datastore, target.path_on_datastore
    else:
        datastore, rel = target, ""
    if not hasattr(datastore, "store") or not hasattr(datastore, "workspace"):
        raise UserErrorException(
            f"partition_by target {target!r} is not supported: pass a DataPath, a Datastore or "
            "(datastore, 'folder')."
        )
    from airflow_azml.data.stores import check_relative

    return datastore, check_relative(rel or "", what="partition_by target")


def _folder(value: Any) -> str:
    """A partition value as a folder name (datetimes as yyyyMMddHHmmss, '/' escaped)."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "null"
    if hasattr(value, "strftime"):
        return value.strftime("%Y%m%d%H%M%S")
    return str(value).replace("/", "%2F")


def _check_keys(frame: Any, keys: list[str]) -> None:
    if not keys:
        raise UserErrorException("partition_by: partition_keys cannot be empty.")
    if len(keys) != len(set(keys)):
        raise UserErrorException(f"partition_by: partition_keys {keys} has duplicates.")
    invalid = [k for k in keys if k not in frame.columns]
    if invalid:
        raise UserErrorException(
            f"partition_by: {invalid} are not columns of the dataset; columns: {list(frame.columns)}."
        )


def partition_by(
    dataset: Any, keys: list[str], target: Any, show_progress: bool, as_files: bool
) -> tuple[Any, dict[str, Any]]:
    """v1's ``TabularDataset.partition_by``: Parquet under ``<target>/<guid>/<key1>/<key2>/``.

    Returns the target datastore and the definition of the new dataset. The files keep the key
    columns, so rows read back have the types they had (and a row is never all keys, no columns).
    """
    say = print if show_progress else (lambda *_: None)
    keys = list(keys or [])
    say("Validating arguments.")
    frame = dataset.to_pandas_dataframe()
    _check_keys(frame, keys)
    datastore, rel = _target(target)
    rel = f"{rel}/{uuid.uuid4()}".strip("/")
    date_keys = {k for k in keys if str(frame[k].dtype).startswith("datetime")}
    fmt, glob = partition_layout(keys, date_keys)
    say(f"Uploading files to {datastore.name}/{rel}.")
    with tempfile.TemporaryDirectory(prefix="azml-partition-") as tmp:
        for values, part in frame.groupby(keys, dropna=False, sort=True):
            folder = Path(tmp, *(_folder(v) for v in values))
            folder.mkdir(parents=True, exist_ok=True)
            part.to_parquet(folder / "part-00000.parquet", index=False)
        datastore.store.put(Path(tmp), rel, overwrite=True)
    say("Creating a new dataset.")
    definition: dict[str, Any] = {
        "kind": "file" if as_files else "tabular",
        "paths": [{"datastore": datastore.name, "path": f"{rel}/{glob}"}],
        "options": {},
        "partition_format": f"/{rel}{fmt}",
    }
    if not as_files:
        definition["format"] = "parquet"
    return datastore, definition
