"""The files behind a dataset definition: listed, narrowed by partitions and filters, made local.

A definition's ``paths`` hold ``{"datastore": name, "path": file-folder-or-glob}`` entries and
``{"url": "https://..."}`` entries. Each file is a :class:`Source` with a *label*, the path the
dataset shows (``/folder/a.csv`` on a datastore, the URL's path for a web file): ``to_path``,
the folder a mount or download builds, and ``partition_format`` all read labels. Listing needs
no download; a file is fetched (remote datastore, web URL) only when it is materialised.
Inside a step the runtime hands over files already made local (``local_files`` with their
``local_labels``).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import random
from pathlib import Path
from typing import Any, NamedTuple

from airflow_azml.data.expressions import evaluate, referenced_names
from airflow_azml.data.partitions import parse_partition_format
from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import UserErrorException

__all__ = [
    "Source",
    "list_sources",
    "select_sources",
    "materialize",
    "local_copy",
    "match_paths",
    "common_labels",
    "transforms",
    "positions",
    "FILE_METADATA",
]

#: the store of a web file (``rel`` is then its URL); None means ``rel`` is already a local path
WEB = "web"
#: prefix of the names ``FileDataset.file_metadata(name)`` reads
FILE_METADATA = "file_metadata:"


class Source(NamedTuple):
    label: str
    store: Any
    rel: str


def match_paths(store: Any, pattern: str) -> list[str]:
    """Datastore-relative files matching ``pattern`` (a file, a folder, or a glob)."""
    pattern = check_relative(pattern)
    if not any(ch in pattern for ch in "*?["):
        return store.list_files(pattern) if store.exists(pattern) else []
    base = pattern.split("*")[0].split("?")[0].split("[")[0].rsplit("/", 1)[0] if "/" in pattern else ""
    return [f for f in store.list_files(base) if fnmatch.fnmatchcase(f, pattern)]


def list_sources(definition: dict[str, Any], workspace: Any) -> list[Source]:
    """Every file of the definition, in order, without downloading anything."""
    if "local_files" in definition:
        files = definition["local_files"]
        return [
            Source(label, None, path)
            for label, path in zip(definition.get("local_labels", files), files, strict=True)
        ]
    out: list[Source] = []
    for entry in definition.get("paths", []):
        if "url" in entry:
            from airflow_azml.data.web import url_label

            out.append(Source(url_label(entry["url"]), WEB, entry["url"]))
            continue
        if workspace is None:
            raise UserErrorException(
                "This dataset is not bound to a workspace; get it with Dataset.get_by_name(ws, ...)."
            )
        store = workspace._require_datastore(entry["datastore"]).store
        out += [Source("/" + rel, store, rel) for rel in match_paths(store, entry["path"])]
    return out


def materialize(source: Source) -> Path:
    """A local path holding the file (in place for local stores, else the worker cache)."""
    if source.store is None:
        return Path(source.rel)
    if source.store == WEB:
        from airflow_azml.data.web import cached_url

        return cached_url(source.rel)
    return local_copy(source.store, source.rel)


def local_copy(store: Any, rel: str) -> Path:
    """``rel`` on ``store`` as a local path: in place on a local store, else the worker cache."""
    local = store.local_path(rel)
    if local is not None:
        return local
    from airflow_azml.data.cache import cached_copy

    return cached_copy(store, rel)


def transforms(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The definition's filters and takes, in the order they were applied."""
    steps = list(definition.get("transforms", []))
    if "take" in definition:  # definitions written before transforms existed
        steps.append({"take": definition["take"]})
    return steps


def _file_metadata(source: Source, name: str) -> Any:
    path = materialize(source)
    st = path.stat()
    values = {
        "Size": st.st_size,
        "LastModifiedTime": dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None),
        "CreationTime": dt.datetime.fromtimestamp(st.st_ctime, dt.UTC).replace(tzinfo=None),
        "Extension": path.suffix.lstrip("."),
        "CanSeek": True,
    }
    if name not in values:
        raise UserErrorException(f"Unknown file metadata {name!r}; use one of {', '.join(values)}.")
    return values[name]


def _file_filter(tree: dict[str, Any], keys: tuple[str, ...], kind: str) -> bool:
    """Whether a filter can be decided per file: it reads only partition keys (and file metadata)."""
    names = referenced_names(tree)
    allowed = set(keys)
    bad = {n for n in names if n not in allowed and not (kind == "file" and n.startswith(FILE_METADATA))}
    if bad and kind == "file":
        raise UserErrorException(
            f"A file dataset can be filtered on its partition keys {list(keys)} or on file_metadata(...), "
            f"not on {sorted(bad)}."
        )
    return not bad


def select_sources(definition: dict[str, Any], workspace: Any) -> list[tuple[Source, dict[str, Any]]]:
    """The files that survive the file-level filters, each with its partition values.

    A file dataset's take / skip / random_split pick files. For a tabular dataset they count rows,
    so they and everything after them apply to the rows later, as do filters on columns other than
    partition keys.
    """
    fmt = (
        parse_partition_format(definition["partition_format"]) if definition.get("partition_format") else None
    )
    keys = fmt.keys if fmt else ()
    chosen = []
    for source in list_sources(definition, workspace):
        values = (fmt.values(source.label) if fmt else None) or dict.fromkeys(keys)
        chosen.append((source, values))
    kind = definition.get("kind", "file")
    for step in transforms(definition):
        kept = positions(step, len(chosen))
        if kept is not None:
            if kind != "file":
                break  # a tabular take/skip/split counts rows: no later filter may narrow the files
            chosen = [chosen[i] for i in kept]
        elif "filter" in step and _file_filter(step["filter"], keys, kind):
            chosen = [item for item in chosen if _truth(evaluate(step["filter"], _file_lookup(item)))]
    return chosen


def _file_lookup(item: tuple[Source, dict[str, Any]]) -> Any:
    """A filter's view of one file: its partition values and file_metadata(...)."""

    def lookup(name: str) -> Any:
        if name.startswith(FILE_METADATA):
            return _file_metadata(item[0], name[len(FILE_METADATA) :])
        return item[1].get(name)

    return lookup


def positions(step: dict[str, Any], count: int) -> list[int] | None:
    """The items a take / skip / random_split part keeps of ``count``, or None for other steps."""
    if "take" in step:
        return list(range(min(step["take"], count)))
    if "skip" in step:
        return list(range(min(step["skip"], count), count))
    if "split" in step:
        rng = random.Random(step["split"]["seed"])
        first = [rng.random() < step["split"]["percentage"] for _ in range(count)]
        return [i for i, hit in enumerate(first) if hit == (step["split"]["part"] == 0)]
    return None


def _truth(value: Any) -> bool:
    try:
        return bool(value)
    except (TypeError, ValueError):
        return False


def common_labels(labels: list[str]) -> list[str]:
    """Labels relative to their common folder, as v1's ``to_path`` gives them ('/a.csv', '/2024/b.csv')."""
    if not labels:
        return []
    if len(labels) == 1:
        return ["/" + labels[0].rstrip("/").rsplit("/", 1)[-1]]
    base = os.path.commonpath([os.path.dirname(label) or "/" for label in labels])
    return ["/" + os.path.relpath(label, base).replace(os.sep, "/") for label in labels]
