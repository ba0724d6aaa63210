"""The map of the Azure ML SDK v1 pipeline API, and what airflow_azml does with each part of it.

The map is data: one JSON file per v1 distribution under ``data/`` (azureml-core,
azureml-pipeline-core, ...). Each holds

- ``modules``: v1 module -> ``{"status", "names": {name: {"kind", "ref"?, "status"?, "ours"?}}}``;
  ``kind`` is class, function, module, constant or name; ``ref`` is the key of the class or
  function entry the name stands for;
- ``classes``: v1 class (its defining public path) -> ``{"status", "ours"?, "bases",
  "members": {name: {"kind", "params"?, "returns"?, "status"?}}}``; ``kind`` is constructor,
  method, staticmethod, classmethod, property or attribute; ``params`` are v1's parameters as
  written in its signature (``name=default``, ``*args``, ``**kwargs``); ``returns`` is the type v1
  documents: a class key, ``list[...]``, ``dict[str, ...]``, ``type[...]`` or a builtin name;
- ``functions``: v1 module-level function -> ``{"params", "returns"?, "status", "ours"?}``.

Statuses: ``supported`` (``ours`` names the airflow_azml object), ``different`` (works, with the
difference in ``note``; ``unsupported_params`` lists the v1 parameters it does not take,
``runs: true`` when v1 code still runs as it is) and ``unsupported`` (``why``, and ``instead``:
what to use). A member without a status shares its class's. ``rules`` on a member or
constructor: ``[{"param", "when", "status", "why"}]``, argument values that are refused (see
:mod:`airflow_azml.migrate_types`). Pure stdlib, read once per process.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_DIR",
    "DIFFERENT",
    "SUPPORTED",
    "UNSUPPORTED",
    "V1Map",
    "dump",
    "import_path",
    "load",
    "ours_path",
    "reason",
]

DATA_DIR = Path(__file__).parent / "data"
SUPPORTED, DIFFERENT, UNSUPPORTED = "supported", "different", "unsupported"
Entry = dict[str, Any]


@dataclass
class V1Map:
    """The v1 API, merged over every distribution file, with lookups by any public path."""

    modules: dict[str, Entry] = field(default_factory=dict)
    classes: dict[str, Entry] = field(default_factory=dict)
    functions: dict[str, Entry] = field(default_factory=dict)
    distribution: dict[str, str] = field(default_factory=dict)  # module/class/function key -> dist
    _members: dict[str, dict[str, Entry]] = field(default_factory=dict, repr=False)

    def resolve(self, path: str) -> tuple[str, str] | None:
        """``(kind, key)`` for a public v1 path: ``("module", m)``, ``("class", key)``,
        ``("function", key)`` or ``("name", path)`` for a constant."""
        if path in self.modules:
            return "module", path
        if path in self.classes:
            return "class", path
        if path in self.functions:
            return "function", path
        module, _, name = path.rpartition(".")
        ref = self.modules.get(module, {}).get("names", {}).get(name)
        if ref is None:
            return None
        if ref.get("kind") in ("class", "function", "module") and ref.get("ref"):
            return self.resolve(ref["ref"])
        return "name", path

    def name_entry(self, module: str, name: str) -> Entry | None:
        """The entry of ``module.name``: a class, function or constant entry."""
        resolved = self.resolve(f"{module}.{name}")
        if resolved is None:
            return None
        kind, key = resolved
        if kind == "class":
            return self.classes[key]
        if kind == "function":
            return self.functions[key]
        if kind == "module":
            return self.modules[key]
        return self.modules[module]["names"][name]

    def members(self, key: str) -> dict[str, Entry]:
        """Every member of class ``key``, inherited ones included; an own entry refines the
        inherited one, and a member with no status anywhere takes its class's status and reasons."""
        if key not in self._members:
            cls = self.classes[key]
            merged: dict[str, Entry] = {}
            for base in reversed(cls.get("bases", [])):
                if base in self.classes:
                    merged.update({n: m for n, m in self.members(base).items() if n != "__init__"})
            for name, member in cls.get("members", {}).items():
                base = merged.get(name) or _inherit(cls)
                merged[name] = {**base, **member}
            if cls.get("status") == UNSUPPORTED:  # nothing of an absent class exists
                merged = {name: {**member, **_inherit(cls)} for name, member in merged.items()}
            self._members[key] = merged
        return self._members[key]

    def member(self, key: str, name: str) -> Entry | None:
        return self.members(key).get(name)

    def parse_type(self, text: str | None) -> tuple[str, str] | None:
        """``("instance", key)``, ``("class", key)`` (``type[...]``), ``("list", key)`` or
        ``("dict", key)`` (a dict with values of that class), or None for a builtin/unknown."""
        if not text:
            return None
        for prefix, kind in (("list[", "list"), ("dict[str, ", "dict"), ("type[", "class")):
            if text.startswith(prefix) and text.endswith("]"):
                inner = self.resolve(text[len(prefix) : -1])
                return (kind, inner[1]) if inner and inner[0] == "class" else None
        resolved = self.resolve(text)
        return ("instance", resolved[1]) if resolved and resolved[0] == "class" else None


def reason(entry: Entry) -> str:
    """Why an entry is unsupported, and what to use instead, as one sentence for people."""
    why = entry.get("why") or "not implemented by airflow_azml"
    return f"{why}; instead: {entry['instead']}" if entry.get("instead") else why


def ours_path(v1_module: str) -> str:
    """``azureml.x.y`` -> ``airflow_azml.x.y``: where our twin of a v1 module would be."""
    return "airflow_azml" + v1_module[len("azureml") :]


def import_path(path: str) -> Any:
    """The object at dotted ``path`` (a module, or attributes under the longest importable
    module), or None when there is none."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


def _inherit(cls: Entry) -> Entry:
    return {k: cls[k] for k in ("status", "why", "instead", "note") if k in cls}


@cache
def load() -> V1Map:
    """The map, read once per process."""
    v1map = V1Map()
    for path in sorted(DATA_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        dist = data["distribution"]
        for section in ("modules", "classes", "functions"):
            entries = data.get(section, {})
            getattr(v1map, section).update(entries)
            v1map.distribution.update(dict.fromkeys(entries, dist))
    return v1map


_ORDER = {
    key: i
    for i, key in enumerate(
        "distribution version kind ref imported params returns bases constructs status ours note runs "
        "unsupported_params why instead rules names members modules classes functions".split()
    )
}


def dump(data: Entry) -> str:
    """The JSON text of a map file: one line per leaf entry, so that diffs stay readable."""

    def fmt(value: Any, indent: str) -> str:
        if isinstance(value, dict):  # facts first, then what we do with them, in one order
            value = dict(sorted(value.items(), key=lambda kv: _ORDER.get(kv[0], len(_ORDER))))
        if not isinstance(value, dict) or not any(isinstance(v, dict) for v in value.values()):
            return json.dumps(value, ensure_ascii=False)
        inner = indent + " "
        items = [f"{inner}{json.dumps(k)}: {fmt(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"

    return fmt(data, "") + "\n"
