"""The reuse index: fingerprints of successful step runs -> their committed outputs.

Layout on the default datastore (shared by every worker):

- ``.azml/reuse/<dag_id>/<task_id>/<fingerprint>.json``: ``{"run_id", "step", "step_run_id",
  "outputs": {name: {"datastore", "path", "version"}}, "components", "created"}``, written only
  after the run's outputs were committed.
- ``.azml/reuse/<dag_id>/<task_id>/_last.json``: the fingerprint and components of the step's
  latest run, so the next run can say in words why it reran.

Every write is one atomic object write, so concurrent runs are safe: two runs with the same
fingerprint that race both run and both write a valid entry (last one wins). A lookup checks
that the outputs an entry points to still exist unchanged (same store version) before
anything is reused; otherwise the step reruns and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_azml.execution.fingerprint import Fingerprint

__all__ = [
    "ReuseIndex",
    "ReuseDecision",
    "decide",
    "explain",
    "REUSE_PREFIX",
    "index_entries",
    "referenced_outputs",
    "drop_entries",
]

REUSE_PREFIX = ".azml/reuse"
_LAST = "_last.json"
_MAX_NAMED = 3


@dataclass(frozen=True)
class ReuseDecision:
    """``reuse`` with the earlier ``entry``, or not; ``reason`` says why in words."""

    reuse: bool
    reason: str
    entry: dict[str, Any] | None = None


class ReuseIndex:
    """The index entries of one step (``dag_id``/``task_id``) on the workspace's default datastore."""

    def __init__(self, workspace: Any, dag_id: str, task_id: str):
        self.ws = workspace
        self.store = workspace.get_default_datastore().store
        self.prefix = f"{REUSE_PREFIX}/{dag_id}/{task_id}"

    def _read(self, rel: str) -> dict[str, Any] | None:
        try:
            if not self.store.exists(rel):
                return None
            return json.loads(self.store.read_bytes(rel))
        except (OSError, ValueError):
            return None

    def lookup(self, digest: str) -> dict[str, Any] | None:
        return self._read(f"{self.prefix}/{digest}.json")

    def last(self) -> dict[str, Any] | None:
        return self._read(f"{self.prefix}/{_LAST}")

    def output_problem(self, entry: dict[str, Any]) -> str | None:
        """None when every output of ``entry`` still exists unchanged, else what is wrong, in words."""
        for name, out in sorted(entry.get("outputs", {}).items()):
            where = f"{out['datastore']}/{out['path']}"
            try:
                store = self.ws._require_datastore(out["datastore"]).store
                if not store.exists(out["path"]):
                    return f"earlier output {name!r} of run {entry.get('run_id')} is gone ({where})"
                if out.get("version") is not None and store.version(out["path"]) != out["version"]:
                    return f"earlier output {name!r} of run {entry.get('run_id')} changed or is incomplete ({where})"
            except Exception as exc:  # a datastore that cannot be read now cannot be reused
                return (
                    f"earlier output {name!r} of run {entry.get('run_id')} cannot be checked ({where}: {exc})"
                )
        return None

    def record(
        self, fp: Fingerprint, *, run_id: str, step: str, step_run_id: str, outputs: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """Add an entry for a committed run (call only after its outputs were committed)."""
        kept = {}
        for name, out in outputs.items():
            store = self.ws._require_datastore(out["datastore"]).store
            kept[name] = {
                "datastore": out["datastore"],
                "path": out["path"],
                "version": store.version(out["path"]),
            }
        entry = {
            "run_id": run_id,
            "step": step,
            "step_run_id": step_run_id,
            "fingerprint": fp.digest,
            "outputs": kept,
            "components": fp.components,
            "created": time.time(),
        }
        self.store.write_bytes(f"{self.prefix}/{fp.digest}.json", json.dumps(entry, default=str).encode())
        self.remember(fp, run_id)
        return entry

    def remember(self, fp: Fingerprint, run_id: str) -> None:
        """Keep the components of this step's latest run (what the next run compares against)."""
        last = {
            "fingerprint": fp.digest,
            "run_id": run_id,
            "components": fp.components,
            "created": time.time(),
        }
        self.store.write_bytes(f"{self.prefix}/{_LAST}", json.dumps(last, default=str).encode())


def decide(
    index: ReuseIndex, fp: Fingerprint, *, allow_reuse: bool, regenerate: bool, script: str | None = None
) -> ReuseDecision:
    """Reuse an earlier run of the same fingerprint, or say why this step has to run."""
    if not allow_reuse:
        return ReuseDecision(False, "allow_reuse=False")
    if regenerate:
        return ReuseDecision(False, "regenerate_outputs requested")
    entry = index.lookup(fp.digest)
    if entry is not None:
        problem = index.output_problem(entry)
        if problem is None:
            return ReuseDecision(
                True, f"same fingerprint as step {entry.get('step')!r} of run {entry.get('run_id')}", entry
            )
        return ReuseDecision(False, problem)
    last = index.last()
    if last is None:
        return ReuseDecision(False, "no earlier run")
    if last.get("fingerprint") == fp.digest:
        return ReuseDecision(False, f"no reuse entry left for the earlier run {last.get('run_id')} (removed)")
    reasons = explain(last.get("components") or {}, fp.components, script)
    return ReuseDecision(False, "; ".join(reasons) or "fingerprint changed")


# -- why a step reran, in words ----------------------------------------------------------
def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMED])
    return shown + (f" and {len(items) - _MAX_NAMED} more" if len(items) > _MAX_NAMED else "")


def _source_reasons(old: dict[str, Any] | None, new: dict[str, Any] | None, script: str | None) -> list[str]:
    if (old or {}).get("digest") == (new or {}).get("digest"):
        return []
    old_files, new_files = (old or {}).get("files"), (new or {}).get("files")
    if old_files is None or new_files is None:
        return ["source_directory content changed"]
    out = []
    changed = sorted(f for f in new_files if f in old_files and new_files[f] != old_files[f])
    if script in changed:
        out.append(f"script {script} changed")
        changed.remove(script)
    if changed:
        out.append(f"file{'s' if len(changed) > 1 else ''} {_names(changed)} changed")
    added = sorted(set(new_files) - set(old_files))
    removed = sorted(set(old_files) - set(new_files))
    if added:
        out.append(f"file{'s' if len(added) > 1 else ''} {_names(added)} added")
    if removed:
        out.append(f"file{'s' if len(removed) > 1 else ''} {_names(removed)} removed")
    return out or ["source_directory content changed"]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _input_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after or before is None or after is None:
            continue
        if "step" in after:
            out.append(f"upstream {after['step']} reran")
        elif after.get("web") and before.get("web") != after["web"]:
            changed = sorted(u for u, v in after["web"].items() if (before.get("web") or {}).get(u) != v)
            out.append(f"input {name} changed: {', '.join(changed)} has a new ETag/Last-Modified")
        elif before.get("location") != after.get("location") and "location" in after:
            out.append(f"input {name} now reads {after['location']} (was {before.get('location')})")
        else:
            out.append(
                f"input {name} changed (etag {_short(before.get('version'))} → {_short(after.get('version'))})"
            )
    return out


def explain(old: dict[str, Any], new: dict[str, Any], script: str | None = None) -> list[str]:
    """Differences between two fingerprints' components, as short sentences."""
    out: list[str] = []
    if old.get("step") != new.get("step"):
        out.append("step kind or name changed")
    out += _source_reasons(old.get("source"), new.get("source"), script)
    if old.get("arguments") != new.get("arguments"):
        out.append("arguments changed")
    old_p, new_p = old.get("parameters") or {}, new.get("parameters") or {}
    for name in sorted(set(old_p) | set(new_p)):
        if old_p.get(name) != new_p.get(name):
            out.append(f"parameter {name} {_short(old_p.get(name))}→{_short(new_p.get(name))}")
    if old.get("version") != new.get("version"):
        out.append(f"version changed ({old.get('version')}→{new.get('version')})")
    if old.get("io") != new.get("io"):
        out.append("input or output names or modes changed")
    if old.get("environment") != new.get("environment"):
        out.append("environment changed")
    if old.get("config") != new.get("config"):
        keys = sorted(
            k
            for k in set(old.get("config") or {}) | set(new.get("config") or {})
            if (old.get("config") or {}).get(k) != (new.get("config") or {}).get(k)
        )
        out.append(f"step settings changed ({_names(keys)})")
    out += _input_reasons(old.get("inputs") or {}, new.get("inputs") or {})
    old_x, new_x = old.get("extra") or {}, new.get("extra") or {}
    out += [
        f"{what} changed" for what in sorted(set(old_x) | set(new_x)) if old_x.get(what) != new_x.get(what)
    ]
    return out


# -- for retention (azml gc) ---------------------------------------------------------------
def index_entries(store: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every reuse entry on ``store`` as (its relative path, the entry)."""
    if not store.exists(REUSE_PREFIX):
        return
    for rel in store.list_files(REUSE_PREFIX):
        if not rel.endswith(".json") or rel.rsplit("/", 1)[-1].startswith(("_", ".")):
            continue
        try:
            yield rel, json.loads(store.read_bytes(rel))
        except (OSError, ValueError):
            continue


def referenced_outputs(store: Any) -> set[tuple[str, str]]:
    """(datastore, path) of every output the index still points to: retention must keep these."""
    return {
        (o["datastore"], o["path"]) for _rel, e in index_entries(store) for o in e.get("outputs", {}).values()
    }


def drop_entries(store: Any, datastore: str, path: str) -> list[str]:
    """Remove the entries that point at or below ``datastore/path`` (before deleting that data)."""
    dropped = []
    for rel, entry in index_entries(store):
        for out in entry.get("outputs", {}).values():
            if out["datastore"] == datastore and (
                out["path"] == path or out["path"].startswith(path.rstrip("/") + "/")
            ):
                store.delete(rel)
                dropped.append(rel)
                break
    return dropped
