"""Fingerprint of one step run: everything that can change its result, hashed at run time.

A fingerprint is computed in the task, after inputs are resolved and before anything is
launched, never at DAG parse time. Its components are kept next to the digest so that a
later run can say in words why it did or did not rerun (see ``execution/reuse.py``).

What goes in: the step's kind and name; the content of every file under source_directory
(minus .amlignore/.gitignore matches) for steps that run code from it; the arguments and
``params``; the values of the pipeline parameters the step refers to; ``version``; input and
output names and modes; the environment spec; the rest of the step's settings; and each
input's *content* version (store etag / size+mtime hash, dataset content, a web file's ETag or
Last-Modified, and for upstream outputs the upstream step's fingerprint), so changed data
behind an unchanged path or URL reruns.

Hashing a source folder is cheap when nothing changed: a stat cache under
``$AZML_HOME/cache/srchash/`` maps path -> (size, mtime_ns, sha256), so only files whose size
or mtime moved are read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home

__all__ = [
    "Fingerprint",
    "fingerprint_step",
    "hash_source_dir",
    "SourceDigest",
    "referenced_parameters",
    "SOURCE_KEYS",
    "MAX_LISTED_FILES",
]

#: plan fields that mean "this step runs code from source_directory"
SOURCE_KEYS = ("script_name", "python_script_name", "command", "entry_script")
#: above this many files, components keep only the folder digest (no per-file list)
MAX_LISTED_FILES = 2000
#: files changed this close to a scan are re-hashed next time (mtime granularity, "racy" files)
_RACY_NS = 50_000_000
_ALWAYS_SKIPPED_DIRS = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".azml"})
_IGNORE_FILES = (".amlignore", ".gitignore")
#: plan fields that are not part of the result (where it runs, how it is wired) or have their own component
_NOT_CONFIG = frozenset(
    {
        "name",
        "task_id",
        "kind",
        "operator",
        "compute_target",
        "routing",
        "upstream",
        "allow_reuse",
        "source_directory",
        "arguments",
        "params",
        "inputs",
        "outputs",
        "version",
        "environment",
    }
)


@dataclass(frozen=True)
class Fingerprint:
    """``digest`` identifies the step run's result; ``components`` say what went into it."""

    digest: str
    components: dict[str, Any]

    @property
    def short(self) -> str:
        return self.digest[:12]


@dataclass(frozen=True)
class SourceDigest:
    """A source folder's content: one digest plus the per-file hashes behind it."""

    digest: str
    files: dict[str, str]
    rehashed: int


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


# -- source folder ---------------------------------------------------------------------
class _Rules:
    """One ignore file's patterns; without negations they collapse into a single regex (fast path)."""

    def __init__(self, lines: list[str]):
        import pathspec

        self.spec = pathspec.GitIgnoreSpec.from_lines(lines)
        patterns = [p for p in self.spec.patterns if getattr(p, "include", None) is not None]
        self.regex = None
        if all(p.include for p in patterns):
            parts = [f"(?:{p.regex.pattern.replace('(?P<ps_d>', '(?:')})" for p in patterns]
            self.regex = re.compile("|".join(parts)) if parts else re.compile(r"(?!)")

    def match(self, path: str) -> bool:
        return self.regex.search(path) is not None if self.regex is not None else self.spec.match_file(path)


def _ignore_rules(directory: str) -> _Rules | None:
    """The .amlignore of a folder (it wins, as in Azure ML), else its .gitignore."""
    for name in _IGNORE_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                return _Rules(fh.read().splitlines())
    return None


def _ignored(rules: list[tuple[str, _Rules]], rel: str, is_dir: bool) -> bool:
    for base, spec in rules:
        sub = rel[len(base) + 1 :] if base else rel
        if spec.match(sub + "/" if is_dir else sub):
            return True
    return False


def _walk(root: str) -> list[tuple[str, os.stat_result]]:
    """Every file under ``root`` that ignore files keep, as (relative posix path, stat)."""
    found: list[tuple[str, os.stat_result]] = []
    stack: list[tuple[str, str, list[tuple[str, _Rules]]]] = [(root, "", [])]
    while stack:
        directory, rel_dir, rules = stack.pop()
        spec = _ignore_rules(directory)
        if spec is not None:
            rules = [*rules, (rel_dir, spec)]
        with os.scandir(directory) as it:
            for entry in it:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _ALWAYS_SKIPPED_DIRS and not (rules and _ignored(rules, rel, True)):
                        stack.append((entry.path, rel, rules))
                    continue
                if entry.name.endswith(".pyc") or (rules and _ignored(rules, rel, False)):
                    continue
                try:
                    found.append((rel, entry.stat()))
                except FileNotFoundError:  # a dangling symlink or a file removed while we look
                    continue
    return found


def _cache_file(root: str) -> Path:
    return azml_home() / "cache" / "srchash" / f"{_sha(root)[:32]}.json"


def _load_cache(path: Path, root: str) -> dict[str, list]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if data.get("root") == root else {}


def _save_cache(path: Path, root: str, files: dict[str, list]) -> None:
    """Atomic replace: concurrent tasks hashing the same folder never read half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump({"root": root, "files": files}, fh, separators=(",", ":"))
    os.replace(tmp, path)


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_source_dir(root: str | Path) -> SourceDigest:
    """Content digest of a source folder; files whose (size, mtime_ns) are cached are not re-read."""
    root = str(Path(root).resolve())
    cache_path = _cache_file(root)
    cache = _load_cache(cache_path, root)
    scan_start = time.time_ns()
    fresh: dict[str, list] = {}
    hashes: dict[str, str] = {}
    rehashed = 0
    for rel, st in _walk(root):
        hit = cache.get(rel)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            sha = hit[2]
        else:
            sha = _hash_file(os.path.join(root, rel))
            rehashed += 1
        hashes[rel] = sha
        if st.st_mtime_ns < scan_start - _RACY_NS:  # a later write will move mtime: safe to trust
            fresh[rel] = [st.st_size, st.st_mtime_ns, sha]
    if rehashed or len(fresh) != len(cache):
        _save_cache(cache_path, root, fresh)
    listing = "\n".join(f"{rel}\0{hashes[rel]}" for rel in sorted(hashes))
    return SourceDigest(_sha(listing), hashes, rehashed)


def _source_component(step: dict[str, Any]) -> dict[str, Any] | None:
    if not any(step.get(k) for k in SOURCE_KEYS):
        return None
    folder = step.get("source_directory")
    if not folder or not os.path.isdir(folder):
        return {"digest": None, "missing": str(folder)}
    src = hash_source_dir(folder)
    comp: dict[str, Any] = {"digest": src.digest, "count": len(src.files)}
    if len(src.files) <= MAX_LISTED_FILES:
        comp["files"] = {rel: sha[:16] for rel, sha in src.files.items()}
    return comp


# -- everything else -------------------------------------------------------------------
def referenced_parameters(step: dict[str, Any]) -> set[str]:
    """Pipeline parameters the step refers to anywhere in its plan (arguments, params, inputs, ...)."""
    names: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("$param"), str):
                names.add(value["$param"])
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit({k: v for k, v in step.items() if k != "inputs"})
    names.update(spec["param"] for spec in step.get("inputs", []) if spec.get("param"))
    return names


def _input_version(spec: dict[str, Any], record: dict[str, Any], upstream: dict[str, Any]) -> dict[str, Any]:
    """The content version of one resolved input (what changes when its data changes)."""
    if spec.get("source") == "step_output":
        produced = (upstream.get(spec["step"]) or {}).get(spec["output"]) or {}
        return {
            "step": spec["step"],
            "output": spec["output"],
            "fingerprint": produced.get("fingerprint"),
            "version": record.get("version"),
        }
    if "dataset" in record:
        version = {
            "dataset": record.get("dataset"),
            "dataset_version": record.get("version"),
            "version": record.get("content_version"),
        }
        if record.get("web"):  # each URL's ETag / Last-Modified, so a changed web file is named
            version["web"] = record["web"]
        return version
    return {"location": f"{record.get('datastore')}/{record.get('path')}", "version": record.get("version")}


def fingerprint_step(
    step: dict[str, Any],
    params: dict[str, Any],
    input_records: dict[str, Any],
    upstream: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Fingerprint:
    """Fingerprint a step (its plan) with resolved parameter values and resolved inputs' records.

    ``extra`` adds what only the step's operator knows (e.g. the hash of the source a Databricks
    step uploads), as {what: value}; without it the digest is the same as before it existed.
    """
    upstream = upstream or {}
    components = {
        "step": {"kind": step.get("kind"), "name": step.get("name")},
        "source": _source_component(step),
        "arguments": {"arguments": step.get("arguments", []), "params": step.get("params", {})},
        "parameters": {n: params.get(n) for n in sorted(referenced_parameters(step))},
        "version": step.get("version"),
        "io": {"inputs": step.get("inputs", []), "outputs": step.get("outputs", [])},
        "environment": step.get("environment"),
        "config": {k: v for k, v in step.items() if k not in _NOT_CONFIG},
        "inputs": {
            s["name"]: _input_version(s, input_records.get(s["name"], {}), upstream)
            for s in step.get("inputs", [])
        },
    }
    if extra:
        components["extra"] = dict(extra)
    hashed = dict(components)
    if components["source"] is not None:
        hashed["source"] = components["source"]["digest"]
    return Fingerprint(_sha(_canonical(hashed)), components)
