"""Checks on the calls of v1 code that ``azml migrate`` reads: the hand rules of
:mod:`airflow_azml.migrate_rules` (secrets, a workspace named in code), parameters we do not take,
argument values the map's ``rules`` refuse, and sample placeholders (``'<my-account-name>'``)."""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import sys
from functools import cache
from pathlib import Path
from typing import Any

from airflow_azml import migrate_rules as rules
from airflow_azml import v1map
from airflow_azml.migrate_types import V1Type, argument, rule_applies
from airflow_azml.v1map.coverage import has_member

__all__ = ["CallChecks", "ours_has", "placeholder"]


class CallChecks:
    """Mixed into the analyzer: needs ``_add``, ``types``, ``placeholders`` and ``carried``."""

    path: str
    unit: Any
    types: dict[int, V1Type | None]
    placeholders: set[str]
    carried: dict[str, dict[str, Any]]
    tainted_uses: set[tuple[int | None, str]]

    def _add(self, node: ast.AST, name: str, rule: rules.Rule) -> None:
        raise NotImplementedError

    def _carried(self, node: ast.Call, callee: V1Type) -> str | None:
        """The mark a call passes on: its receiver's, or an argument's (list elements included). A
        step built from a marked object, and a call of a ``report_on`` member on one, are reported."""
        values = [*node.args, *(kw.value for kw in node.keywords)]
        values += [elt for v in values if isinstance(v, ast.List | ast.Tuple) for elt in v.elts]
        marked = [
            (v, t.mark) for v in values if (t := self.types.get(id(v))) is not None and t.mark in self.carried
        ]
        if callee.kind == "member" and callee.mark in self.carried:
            rule = self.carried[callee.mark]
            if callee.name in rule.get("report_on", ()):
                self._add(node, f"{callee.short}.{callee.name}", rules.Rule(rules.CHANGE, rule["why"]))
            return callee.mark
        if marked and callee.kind == "class" and callee.key.startswith("azureml.pipeline.steps."):
            value, mark = marked[0]
            advice = self.carried[mark]["why"]
            self._add(value, f"{callee.short}({ast.unparse(value)})", rules.Rule(rules.CHANGE, advice))
        return marked[0][1] if marked else None

    def _tainted(self, node: ast.Attribute, base: V1Type) -> None:
        """A use of a value that comes from something airflow-azml does not have (said where that is)."""
        if not isinstance(node.value, ast.Name) or not base.name:
            return
        if (self.unit.cell, node.value.id) not in self.tainted_uses:
            self.tainted_uses.add((self.unit.cell, node.value.id))
            origin = "it" if node.value.id == base.name else base.name
            advice = f"{node.value.id} comes from {origin}, which airflow-azml does not have (see there)"
            self._add(node, ast.unparse(node), rules.Rule(rules.UNKNOWN, advice))

    def _private(self, node: ast.Attribute, base: V1Type) -> None:
        """v1 samples reach into private attributes (``output._path_on_datastore``): not API."""
        cls = v1map.load().classes.get(base.key, {}) if base.kind in ("class", "instance") else {}
        if node.attr.startswith("__") or cls.get("status") in (None, v1map.UNSUPPORTED):
            return
        if not ours_has(cls, node.attr):
            advice = f"a private attribute of v1's {base.short}, not part of its API; airflow-azml's has none"
            self._add(node, f"{base.short}.{node.attr}", rules.Rule(rules.UNKNOWN, advice))

    def _installed(self, node: ast.Import | ast.ImportFrom) -> None:
        """A module v1 code imports that the Python running this does not have (v1's images had
        it): said once per cell, since nothing can promise the line runs."""
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names if getattr(node, "level", 0) == 0 else ():
            top = name.split(".")[0]
            if (
                top
                and (self.unit.cell, top) not in self.tainted_uses
                and _missing(top, Path(self.path).parent)
            ):
                self.tainted_uses.add((self.unit.cell, top))
                advice = "not installed in the Python that runs azml migrate: install it where this code runs"
                self._add(node, top, rules.Rule(rules.UNKNOWN, advice))

    def _call_rules(self, node: ast.Call, callee: V1Type) -> None:
        label = {"class": callee.short, "member": f"{callee.short}.{callee.name}"}.get(callee.kind)
        if label is None:
            return
        for call_rule in rules.CALL_RULES:
            positional = call_rule.positional and bool(node.args)
            keyword = any(kw.arg in call_rule.keywords for kw in node.keywords)
            if fnmatch.fnmatchcase(label, call_rule.pattern) and (positional or keyword):
                self._add(node, label, call_rule.rule)

    def _arguments(
        self, node: ast.Call, callee: V1Type, entry: dict[str, Any], args: list, kwargs: dict
    ) -> str | None:
        """Parameters we do not take, and argument values the map's rules refuse; the ``carry``
        label of a rule that applies, if it has one."""
        carry = None
        label = callee.short if callee.kind == "class" else f"{callee.short}.{callee.name}"
        for keyword in node.keywords:
            value = keyword.value
            if placeholder(value) or (isinstance(value, ast.Name) and value.id in self.placeholders):
                self._add(value, f"{label}({keyword.arg}=)", rules.PLACEHOLDER)
        for param in entry.get("unsupported_params", []):
            value = argument(node, entry, param)
            if value is not None:
                advice = (
                    entry.get("param_notes", {}).get(param) or f"airflow-azml's {label} does not take {param}"
                )
                self._add(value, f"{label}({param}=)", rules.Rule(rules.UNSUPPORTED, advice))
        types = dict(zip(range(len(args)), args, strict=True))
        for rule in entry.get("rules", []):
            value = argument(node, entry, rule["param"])
            if value is None:
                continue
            value_type = kwargs.get(rule["param"], types.get(_index(node, value)))
            values = [(value, value_type)]
            if isinstance(value, ast.List | ast.Tuple):  # outputs=[a, b]: each element
                values = [(elt, self.types.get(id(elt))) for elt in value.elts]
            if any(rule_applies(rule["when"], v, t) for v, t in values):
                category = rules.UNSUPPORTED if rule.get("status") == v1map.UNSUPPORTED else rules.CHANGE
                self._add(value, f"{label}({rule['param']}=)", rules.Rule(category, rule["why"]))
                if rule.get("carry"):
                    carry = rule["carry"]
                    self.carried[carry] = rule
        return carry


def placeholder(value: ast.expr) -> bool:
    """``'<my-account-name>'``: a value the sample expects its reader to fill in."""
    if isinstance(value, ast.Call) and ast.unparse(value.func) in ("os.getenv", "os.environ.get", "getenv"):
        return len(value.args) > 1 and placeholder(value.args[1])  # os.getenv("NAME", "<my-name>")
    text = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else ""
    return len(text) > 2 and text[0] == "<" and text[-1] == ">" and "<" not in text[1:-1]


def _index(node: ast.Call, value: ast.expr) -> int:
    return next((i for i, arg in enumerate(node.args) if arg is value), -1)


def ours_has(cls: dict[str, Any], name: str) -> bool:
    """Whether our class has ``name`` although v1's does not (``Pipeline.to_dag``)."""
    ours = v1map.import_path(cls["ours"]) if cls.get("ours") else None
    return ours is not None and has_member(ours, name)


@cache
def _missing(top: str, folder: Path) -> bool:
    """Whether ``import top`` would fail: not the standard library, not beside the file, not installed."""
    if top in sys.stdlib_module_names or top in ("azureml", "airflow_azml"):
        return False
    if (folder / f"{top}.py").exists() or (folder / top).is_dir():
        return False
    try:
        return importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        return True
