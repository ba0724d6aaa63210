"""Check the v1 map against the airflow_azml classes, and render docs/v1-coverage.md.

Introspection only: it imports the user-model modules the map points at (never Airflow).
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections import Counter
from functools import cache
from typing import Any

from airflow_azml.v1map import DIFFERENT, SUPPORTED, UNSUPPORTED, Entry, V1Map, import_path, ours_path

__all__ = ["check", "find_ours", "has_member", "missing_params", "ours_class_for", "render_markdown"]

OURS = "airflow_azml"


def _exports(key: str, data: Entry) -> list[str]:
    """Public v1 paths under which ``key`` can be imported, shortest first."""
    paths = [key]
    for module, entry in data["modules"].items():
        for name, ref in entry.get("names", {}).items():
            if ref.get("ref") == key:
                paths.append(f"{module}.{name}")
    return sorted(set(paths), key=lambda p: (len(p.split(".")), p))


def find_ours(key: str, data: Entry) -> Any:
    """The airflow_azml object at the same public path as v1's ``key``, if any."""
    for path in _exports(key, data):
        module, _, name = path.rpartition(".")
        try:
            obj = import_path(ours_path(module))
            found = getattr(obj, name, None) if obj is not None else None
        except ImportError as exc:  # a module of ours that is broken right now: say so, count it absent
            print(f"v1map: {path}: {exc}", file=sys.stderr)
            found = None
        if found is not None and getattr(found, "__module__", OURS).startswith(OURS):
            return found
    return None


def ours_class_for(key: str, cls: Entry, data: Entry) -> Any:
    """The class that stands for v1's ``key``: the one the map names, else the one at its path."""
    if cls.get("ours"):
        return import_path(cls["ours"])
    found = find_ours(key, data)
    return found if inspect.isclass(found) else None


@cache
def _instance_attributes(cls: type) -> frozenset[str]:
    """Attributes our class's instances get in its methods (``self.name = ...``) or declares
    (annotations, ``__slots__``): they exist on every instance but not on the class."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith(OURS):
            continue
        names.update(getattr(klass, "__annotations__", {}))
        slots = getattr(klass, "__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    names.add(target.attr)
    return frozenset(names)


def has_member(cls: Any, name: str) -> bool:
    """Whether our class has ``name``: a class attribute, method or property, or an attribute
    every instance gets."""
    return (
        name == "__init__"
        or hasattr(cls, name)
        or (inspect.isclass(cls) and name in _instance_attributes(cls))
    )


def _accepted(obj: Any) -> tuple[set[str], bool]:
    """The parameter names ``obj`` takes, and whether it takes ``**kwargs``."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return set(), True
    params = signature.parameters.values()
    names = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def missing_params(obj: Any, v1_params: list[str]) -> list[str]:
    """v1's named parameters (not ``_private`` ones) that ``obj`` does not accept."""
    names, var_keyword = _accepted(obj)
    if var_keyword:
        return []
    wanted = [p.split("=")[0] for p in v1_params if not p.startswith(("*", "_"))]
    return [p for p in wanted if p not in names]


def _member_problems(where: str, ours_cls: Any, name: str, member: Entry) -> list[str]:
    status = member.get("status")
    present = ours_cls is not None and has_member(ours_cls, name)
    if status in (SUPPORTED, DIFFERENT):
        if not present:
            return [f"{where}.{name}: the map says {status}, but airflow_azml has no such member"]
        obj = ours_cls if name == "__init__" else inspect.getattr_static(ours_cls, name, None)
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        if name != "__init__" and not callable(obj):
            return []
        allowed = set(member.get("unsupported_params", []))
        missing = [p for p in missing_params(obj, member.get("params", [])) if p not in allowed]
        if missing:
            return [f"{where}.{name}: does not take the v1 parameter(s) {', '.join(missing)}"]
        return []
    if status == UNSUPPORTED and present and name != "__init__":
        return [f"{where}.{name}: the map says unsupported, but airflow_azml has it: map it"]
    return []


def check(v1map: V1Map) -> list[str]:
    """Where the map and airflow_azml disagree: a supported name that is missing or does not take
    v1's parameters, an unsupported one that exists, a status without its reason."""
    problems: list[str] = []
    for key, cls in v1map.classes.items():
        if cls.get("status") == UNSUPPORTED:
            if not cls.get("why"):
                problems.append(f"{key}: unsupported without a 'why'")
            continue
        ours_cls = import_path(cls["ours"]) if cls.get("ours") else None
        if ours_cls is None:
            problems.append(
                f"{key}: the map says {cls.get('status')}, but {cls.get('ours')!r} does not exist"
            )
            continue
        for name, member in v1map.members(key).items():
            problems += _member_problems(key, ours_cls, name, member)
    for key, fn in v1map.functions.items():
        if fn.get("status") in (SUPPORTED, DIFFERENT) and (
            not fn.get("ours") or import_path(fn["ours"]) is None
        ):
            problems.append(f"{key}: the map says {fn['status']}, but {fn.get('ours')!r} does not exist")
    for module, entry in v1map.modules.items():
        for name, ref in entry.get("names", {}).items():
            if ref.get("kind") in ("constant", "name") and ref.get("status") in (SUPPORTED, DIFFERENT):
                if import_path(ref.get("ours") or f"{ours_path(module)}.{name}") is None:
                    problems.append(
                        f"{module}.{name}: the map says {ref['status']}, but airflow_azml has no such name"
                    )
    for section in (v1map.classes, v1map.functions):
        for key, entry in section.items():
            for name, member in [("", entry), *entry.get("members", {}).items()]:
                if member.get("status") == DIFFERENT and not member.get("note"):
                    problems.append(f"{key}{'.' if name else ''}{name}: 'different' without a 'note'")
    return problems


def _count(v1map: V1Map, key: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for member in v1map.members(key).values():
        counts[member.get("status", UNSUPPORTED)] += 1
    return counts


def _pct(counts: Counter[str]) -> str:
    total = sum(counts.values())
    covered = counts[SUPPORTED] + counts[DIFFERENT]
    return f"{100 * covered / total:.0f}%" if total else "–"


def headline(v1map: V1Map) -> tuple[Counter[str], Counter[str]]:
    """(member counts, class counts) by status over the whole map."""
    members: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    for key, cls in v1map.classes.items():
        classes[cls.get("status", UNSUPPORTED)] += 1
        members += _count(v1map, key)
    return members, classes


def render_markdown(v1map: V1Map) -> str:
    """docs/v1-coverage.md: per v1 distribution and per class, how much of v1 we cover."""
    members, classes = headline(v1map)
    lines = [
        "# Azure ML SDK v1 coverage",
        "",
        "Generated from `airflow_azml/v1map/data/*.json` by `tests/test_v1map.py`; do not edit by hand.",
        "A member is a constructor, method, property or attribute of a v1 class (inherited ones counted",
        "per class). *supported*: works as in v1; *different*: works, with a difference the map names;",
        "*unsupported*: absent, with the reason and what to use instead in the map.",
        "",
        f"**{_pct(members)} of the v1 pipeline API's class members** "
        f"({members[SUPPORTED] + members[DIFFERENT]} of {sum(members.values())}) and "
        f"{classes[SUPPORTED] + classes[DIFFERENT]} of {sum(classes.values())} classes are covered.",
        "",
        "| distribution | classes covered | members supported | different | unsupported | covered |",
        "|---|---|---|---|---|---|",
    ]
    by_dist: dict[str, list[str]] = {}
    for key in v1map.classes:
        by_dist.setdefault(v1map.distribution[key], []).append(key)
    for dist, keys in sorted(by_dist.items()):
        counts = sum((_count(v1map, k) for k in keys), Counter())
        covered = sum(v1map.classes[k].get("status") != UNSUPPORTED for k in keys)
        lines.append(
            f"| {dist} | {covered} of {len(keys)} | {counts[SUPPORTED]} | {counts[DIFFERENT]} "
            f"| {counts[UNSUPPORTED]} | {_pct(counts)} |"
        )
    for dist, keys in sorted(by_dist.items()):
        lines += [
            "",
            f"## {dist}",
            "",
            "| class | status | members covered | unsupported members |",
            "|---|---|---|---|",
        ]
        for key in sorted(keys):
            cls, counts = v1map.classes[key], _count(v1map, key)
            missing = sorted(n for n, m in v1map.members(key).items() if m.get("status") == UNSUPPORTED)
            shown = ", ".join(missing[:8]) + (f", … ({len(missing) - 8} more)" if len(missing) > 8 else "")
            status = cls.get("status", UNSUPPORTED)
            if status == UNSUPPORTED:
                shown = cls.get("why", "")
            lines.append(
                f"| `{key}` | {status} | {counts[SUPPORTED] + counts[DIFFERENT]} of {sum(counts.values())} "
                f"({_pct(counts)}) | {shown} |"
            )
    return "\n".join(lines) + "\n"
