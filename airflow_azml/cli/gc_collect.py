"""Retention: remove what old or deleted pipeline runs left on the datastores.

Airflow 3.3 never calls an XCom backend's ``purge`` when runs are deleted, and run outputs,
records and staging folders outlive their runs too. ``collect`` finds, per pipeline run
(``<dag_id>/<run slug>``):

- run records ``.azml/runs/<dag>/<run>/`` and stored XCom values ``.azml/xcom/<dag>/<run>/``
  on the default datastore, staging leftovers ``.azml/staging/<dag>/<run>/``;
- outputs on every file datastore: ``azureml/<run>/...`` and ``dataset/<run>_<step>/...``;
- this machine's work folders ``$AZML_HOME/work/<dag>/<run>/`` and input-cache entries older
  than the limit;

and marks a run expired when it is older than the limit, or when Airflow's metadata DB is
reachable and holds no such run any more (and the run is older than ``GRACE_SECONDS``, so a run
that is just starting is never mistaken for a deleted one). Upload leftovers under
``.azml/incoming/`` and ``.azml/staging/transfer/`` expire by age alone.

Never deleted: any path a registered dataset points at (the registry on the default datastore
and the workspace file's ``datasets``), and any output a JSON file under ``.azml/reuse/`` still
references (``{"outputs": {name: {"datastore", "path"}}}``). A candidate folder holding such a
path is thinned file by file around it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_azml.core import registry
from airflow_azml.core._home import azml_home
from airflow_azml.exceptions import UserErrorException

__all__ = ["GcReport", "collect", "apply", "parse_age", "airflow_runs", "protected_paths", "GRACE_SECONDS"]

GRACE_SECONDS = 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_REUSE = ".azml/reuse"
_REGISTRY = registry.KINDS["datasets"]  # every .json under it counts, a damaged record too


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not match:
        raise UserErrorException(
            f"--older-than {text!r}: use a number and a unit s/m/h/d/w, e.g. 30d or 12h."
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class GcReport:
    """What ``collect`` found: expired runs, paths to delete, and paths kept with the reason."""

    airflow_check: str
    expired: dict[str, str] = field(default_factory=dict)
    delete: list[tuple[str, str]] = field(default_factory=list)
    keep: list[tuple[str, str, str]] = field(default_factory=list)
    local: list[Path] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


# -- what must stay ----------------------------------------------------------------------------
def protected_paths(ws: Any) -> dict[tuple[str, str], str]:
    """{(datastore, path): reason} for registered datasets and outputs the reuse index references."""
    store = ws.get_default_datastore().store
    keep: dict[tuple[str, str], str] = {}
    for rel in _json_files(store, _REUSE):
        data = _read_json(store, rel)
        outputs = data.get("outputs") if isinstance(data, dict) else None
        for out in (outputs or {}).values() if isinstance(outputs, dict) else []:
            if isinstance(out, dict) and out.get("datastore") and out.get("path"):
                keep[(out["datastore"], out["path"].strip("/"))] = f"referenced by the reuse index ({rel})"
    definitions = [
        (rel, _read_json(store, rel).get("definition") or {}) for rel in _json_files(store, _REGISTRY)
    ]
    definitions += [(f"workspace file dataset {n}", d) for n, d in ws._declared_datasets.items()]
    for where, definition in definitions:
        for entry in (definition or {}).get("paths", []) if isinstance(definition, dict) else []:
            base = re.split(r"[*?\[]", entry.get("path", ""))[0].rstrip("/")
            if entry.get("datastore"):
                keep[(entry["datastore"], base)] = f"a registered dataset's path ({where})"
    return keep


def _json_files(store: Any, prefix: str) -> list[str]:
    return [r for r in store.list_files(prefix) if r.endswith(".json")] if store.exists(prefix) else []


def _read_json(store: Any, rel: str) -> Any:
    try:
        return json.loads(store.read_bytes(rel))
    except (OSError, ValueError):
        return {}


def _overlaps(a: str, b: str) -> bool:
    return a == b or not a or not b or a.startswith(b + "/") or b.startswith(a + "/")


# -- what Airflow still knows --------------------------------------------------------------------
_LIST_RUNS = """
import json
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
with create_session() as session:
    print(json.dumps([[d, r] for d, r in session.query(DagRun.dag_id, DagRun.run_id).all()]))
"""


def airflow_runs() -> tuple[dict[str, set[str]] | None, str]:
    """Run slugs per dag_id from Airflow's metadata DB, or None (with the reason) when it is not reachable.

    The DB is the deployment's when ``AIRFLOW_HOME`` or ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` is
    set, else the embedded home's SQLite DB if it exists. It is read by a subprocess that imports
    Airflow and lists ``DagRun`` rows.
    """
    from airflow_azml.execution.records import run_slug
    from airflow_azml.provider.local.embedded import airflow_home, embedded_env

    if os.environ.get("AIRFLOW_HOME") or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        env, where = dict(os.environ), "the Airflow DB configured in the environment"
    elif (airflow_home() / "airflow.db").exists():
        env, where = (
            embedded_env(airflow_home() / "dags"),
            f"the embedded Airflow DB {airflow_home() / 'airflow.db'}",
        )
    else:
        return None, "no Airflow DB configured or found: runs are removed by age only"
    proc = subprocess.run(
        [sys.executable, "-c", _LIST_RUNS], env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        return None, f"{where} is not reachable ({proc.stderr.strip()[-300:]}): runs are removed by age only"
    runs: dict[str, set[str]] = {}
    for dag_id, run_id in json.loads(proc.stdout.strip().splitlines()[-1]):
        runs.setdefault(dag_id, set()).add(run_slug(run_id))
    return runs, f"checked against {where} ({sum(map(len, runs.values()))} runs)"


# -- what is there --------------------------------------------------------------------------------
def _children(store: Any, prefix: str, depth: int) -> set[str]:
    """Distinct path prefixes ``depth`` levels below ``prefix`` that hold files."""
    if not store.exists(prefix):
        return set()
    out = set()
    for rel in store.list_files(prefix):
        parts = rel[len(prefix) + 1 :].split("/")
        if len(parts) > depth:
            out.add("/".join(parts[:depth]))
    return out


def _modified(store: Any, rel: str) -> float | None:
    local = store.local_path(rel)
    if local is not None:
        files = [local] if local.is_file() else [p for p in local.rglob("*") if p.is_file()]
        return max((p.stat().st_mtime for p in files), default=None)
    return store.modified(rel) if hasattr(store, "modified") else None


def _run_time(store: Any, dag: str, slug: str) -> float | None:
    """When the run last did something: its records' start/end stamps, else the newest file's mtime."""
    prefix = f".azml/runs/{dag}/{slug}"
    stamps = []
    for rel in _json_files(store, prefix):
        data = _read_json(store, rel)
        stamps += [data.get(k) for k in ("end", "start", "created") if isinstance(data.get(k), int | float)]
    if stamps:
        return max(stamps)
    found = [
        m
        for p in (prefix, f".azml/xcom/{dag}/{slug}", f".azml/staging/{dag}/{slug}")
        if store.exists(p) and (m := _modified(store, p)) is not None
    ]
    return max(found) if found else None


def _runs_on(store: Any) -> set[tuple[str, str]]:
    runs: set[tuple[str, str]] = set()
    for prefix in (".azml/runs", ".azml/xcom", ".azml/staging"):
        runs |= {tuple(p.split("/")) for p in _children(store, prefix, 2) if not p.startswith("transfer/")}
    return runs  # type: ignore[return-value]


def _expiry(ts: float | None, now: float, limit: float, known: set[str] | None, slug: str) -> str | None:
    """Why the run is expired, or None."""
    age = None if ts is None else now - ts
    if age is not None and age > limit:
        return f"older than the limit ({age / 86400:.1f} days)"
    if known is not None and slug not in known and (age is None or age > GRACE_SECONDS):
        return "no longer exists in Airflow"
    return None


def collect(ws: Any, older_than: float, *, now: float | None = None, check_airflow: bool = True) -> GcReport:
    """Find what to delete (nothing is deleted here)."""
    now = time.time() if now is None else now
    runs, how = airflow_runs() if check_airflow else (None, "Airflow not checked (--no-airflow): by age only")
    report = GcReport(airflow_check=how)
    default = ws.get_default_datastore()
    store = default.store
    candidates: list[tuple[str, str]] = []
    expired_slugs: set[str] = set()
    for dag, slug in sorted(_runs_on(store)):
        known = None if runs is None else runs.get(dag, set())
        why = _expiry(_run_time(store, dag, slug), now, older_than, known, slug)
        if why is None:
            continue
        report.expired[f"{dag}/{slug}"] = why
        expired_slugs.add(slug)
        candidates += [
            (default.name, f"{p}/{dag}/{slug}") for p in (".azml/runs", ".azml/xcom", ".azml/staging")
        ]
        report.local.append(azml_home() / "work" / dag / slug)
    for name, ds in ws.datastores.items():
        if ds.kind not in ("local", "azure_blob", "adls_gen2"):
            continue
        candidates += _outputs_of(ds.store, name, expired_slugs)
        candidates += _leftovers(ds.store, name, now, older_than)
    _filter(ws, report, candidates)
    report.local += _stale_cache_entries(now, older_than)
    return report


def _stale_cache_entries(now: float, limit: float) -> list[Path]:
    """This worker's read-only input cache: entries not written for longer than the limit."""
    from airflow_azml.data.cache import cache_root

    root = cache_root()
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_dir() and now - p.stat().st_mtime > limit]


def _outputs_of(store: Any, name: str, slugs: set[str]) -> list[tuple[str, str]]:
    out = [(name, f"azureml/{s}") for s in _children(store, "azureml", 1) if s in slugs]
    for folder in _children(store, "dataset", 1):
        if any(folder.startswith(f"{s}_") for s in slugs):
            out.append((name, f"dataset/{folder}"))
    return out


def _leftovers(store: Any, name: str, now: float, limit: float) -> list[tuple[str, str]]:
    out = []
    for prefix in (".azml/incoming", ".azml/staging/transfer"):
        for child in _children(store, prefix, 1):
            ts = _modified(store, f"{prefix}/{child}")
            if ts is not None and now - ts > limit:
                out.append((name, f"{prefix}/{child}"))
    return out


def _filter(ws: Any, report: GcReport, candidates: list[tuple[str, str]]) -> None:
    """Split candidates into whole deletions and file-by-file thinning around protected paths."""
    keep = protected_paths(ws)
    for ds_name, prefix in candidates:
        store = ws.datastores[ds_name].store
        if not store.exists(prefix) and store.local_path(prefix) is None:
            continue
        hits = {p: why for (d, p), why in keep.items() if d == ds_name and _overlaps(p, prefix)}
        if not hits:
            report.delete.append((ds_name, prefix))
            continue
        for p, why in sorted(hits.items()):
            report.keep.append((ds_name, p, why))
        for rel in store.list_files(prefix) if store.exists(prefix) else []:
            if not any(_overlaps(rel, p) for p in hits):
                report.delete.append((ds_name, rel))


def _prune_empty(folder: Path, root: Path) -> None:
    """Remove folders left empty by a file-by-file thinning, up to the datastore root."""
    while folder != root and folder.is_relative_to(root) and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _make_writable(folder: Path) -> None:
    """Cache entries are read-only files; removing them needs write permission back (non-root users)."""
    for p in folder.rglob("*"):
        if p.is_file():
            p.chmod(p.stat().st_mode | 0o200)


def apply(ws: Any, report: GcReport) -> GcReport:
    """Delete what ``collect`` listed; returns the report with ``deleted`` filled in."""
    for ds_name, rel in report.delete:
        store = ws.datastores[ds_name].store
        local = store.local_path(rel)
        if local is not None and not local.exists():
            continue
        store.delete(rel)
        report.deleted.append(f"{ds_name}/{rel}")
        if local is not None:
            _prune_empty(local.parent, store.local_path(""))
    for folder in report.local:
        if folder.exists():
            _make_writable(folder)
            shutil.rmtree(folder, ignore_errors=True)
            report.deleted.append(str(folder))
    return report
