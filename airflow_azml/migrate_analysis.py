"""The analysis behind ``azml migrate``: v1 names and the types they flow into.

Imports are read from every unit first (notebook cells share one namespace and may run out of
order); then the statements of the units run in order through a small abstract interpreter that
binds names to v1 types (:mod:`airflow_azml.migrate_types`): assignments, attribute chains,
calls, ``for`` loops over returned lists and ``dict.items()``, comprehensions and ``with``. A
member used on a v1 object is checked against the v1 map like an import is; one the map does not
know is ``unknown``. Pure stdlib and the map: importing this never imports Airflow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from airflow_azml import migrate_rules as rules
from airflow_azml import v1map
from airflow_azml.migrate_checks import CallChecks, ours_has, placeholder
from airflow_azml.migrate_types import (
    V1Type,
    argument,
    builtin_call,
    call_result,
    element,
    member_of,
)

__all__ = ["Analyzer", "Finding", "char_col", "normalize"]

V1_PREFIX, OURS = "azureml", "airflow_azml"


@dataclass(frozen=True)
class Finding:
    """One use of an Azure ML v1 name: ``line`` and ``col`` are 1-based (characters); ``cell``
    is the 1-based position of the cell in a notebook, ``None`` in a .py file."""

    file: str
    line: int
    col: int
    category: str
    name: str
    advice: str
    cell: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return asdict(self)


class Unit(Protocol):
    cell: int | None
    tree: ast.Module | None
    lines: list[str]


def normalize(module: str | None) -> tuple[str | None, bool]:
    """``(azureml name, came from airflow_azml)``, or ``(None, False)`` for other modules."""
    for prefix, migrated in ((V1_PREFIX, False), (OURS, True)):
        if module == prefix or (module or "").startswith(prefix + "."):
            return V1_PREFIX + module[len(prefix) :], migrated
    return None, False


def char_col(line: str, byte_col: int) -> int:
    """ast columns count UTF-8 bytes; tokenize and people count characters."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _imported_type(path: str) -> V1Type:
    """The type of what ``import``/``from ... import`` binds, from its public v1 path."""
    resolved = v1map.load().resolve(path)
    if resolved is None:  # a name its import already reported: its uses are not reported again
        table = v1map.load().modules
        if any(m.startswith(path + ".") for m in table):
            return V1Type("module", path)
        return V1Type("gone", name=path.rpartition(".")[2])
    kind, key = resolved
    return V1Type({"name": "v1"}.get(kind, kind), key if kind != "name" else "")


class Analyzer(CallChecks):
    """Finds v1 names, and the members used on v1 objects, in the units of one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.env: dict[str, V1Type] = {}
        self.placeholders: set[str] = set()  # names holding a sample's '<my-account-name>'
        self.types: dict[int, V1Type | None] = {}  # id(expression) -> its type, for argument rules
        self.tainted_uses: set[tuple[int | None, str]] = set()
        self.carried: dict[str, dict[str, Any]] = {}  # a rule's 'carry' label -> the rule
        self.findings: list[Finding] = []
        self.unit: Unit | None = None
        self.v1_file = False
        self.handlers = 0  # depth of except blocks: what they hold runs only if the try fails

    def run(self, units: Iterable[Unit]) -> list[Finding]:
        """Every finding, in cell, line, column order."""
        parsed = [unit for unit in units if unit.tree is not None]
        for unit in parsed:
            self.unit = unit
            for node in ast.walk(unit.tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    self._import(node, report=True)
        for unit in parsed if self.v1_file else ():
            self.unit = unit
            for node in ast.walk(unit.tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    self._installed(node)
        for unit in parsed:
            self.unit = unit
            self._block(unit.tree.body)
        return sorted(self.findings, key=lambda f: (f.cell or 0, f.line, f.col, f.name))

    def _add(self, node: ast.AST, name: str, rule: rules.Rule) -> None:
        if self.handlers and rule.category == rules.UNSUPPORTED:  # try: get() / except: create()
            rule = rules.Rule(rules.UNKNOWN, f"only if this except branch runs: {rule.advice}")
        lines = self.unit.lines
        line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
        col = char_col(line, node.col_offset) + 1
        self.findings.append(
            Finding(self.path, node.lineno, col, rule.category, name, rule.advice, self.unit.cell)
        )

    # -- imports -----------------------------------------------------------------------------

    def _import(self, node: ast.Import | ast.ImportFrom, report: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                module, migrated = normalize(alias.name)
                if module is None:
                    self.env.pop(alias.asname or alias.name.split(".")[0], None)
                    continue
                self.v1_file = True
                local = alias.asname or alias.name.split(".")[0]
                self.env[local] = _imported_type(module if alias.asname else V1_PREFIX)
                self._report_import(report, alias, alias.name, rules.module_rule(module), migrated)
            return
        module, migrated = normalize(node.module) if node.level == 0 else (None, False)
        if module is None:
            for alias in node.names:
                self.env.pop(alias.asname or alias.name, None)
            return
        self.v1_file = True
        for alias in node.names:
            if alias.name == "*":
                self._report_import(report, alias, f"{module}.*", rules.STAR, migrated)
                continue
            self.env[alias.asname or alias.name] = _imported_type(f"{module}.{alias.name}")
            self._report_import(report, alias, alias.name, rules.name_rule(module, alias.name), migrated)

    def _report_import(
        self, report: bool, node: ast.AST, name: str, rule: rules.Rule, migrated: bool
    ) -> None:
        if report and not (migrated and rule.advice == rules.NOT_IN_MAP):  # a name of ours v1 never had
            self._add(node, name, rule)

    # -- statements --------------------------------------------------------------------------

    def _block(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self._statement(statement)

    def _statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node, report=False)
        elif isinstance(node, ast.Assign):
            value = self._expr(node.value)
            for target in node.targets:
                self._bind(target, value)
                if isinstance(target, ast.Name):
                    (self.placeholders.add if placeholder(node.value) else self.placeholders.discard)(
                        target.id
                    )
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            value = self._expr(node.value) if node.value is not None else None
            self._bind(node.target, value if isinstance(node, ast.AnnAssign) else None)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self._bind(node.target, element(self._expr(node.iter)))
            self._block(node.body)
            self._block(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            self._block(node.body)
            for handler in node.handlers:
                self.handlers += 1
                self._visit_children(handler)
                self.handlers -= 1
            self._block(node.orelse)
            self._block(node.finalbody)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                value = self._expr(item.context_expr)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, value)
            self._block(node.body)
        else:
            self._visit_children(node)

    def _visit_children(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self._expr(child)
            elif isinstance(child, ast.stmt):
                self._statement(child)
            else:
                self._visit_children(child)  # keywords, handlers, arguments, match cases

    def _bind(self, target: ast.expr, value: V1Type | None) -> None:
        if isinstance(target, ast.Name):
            if value is None:
                self.env.pop(target.id, None)
            else:
                self.env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            if value is not None and value.kind == "gone":
                for elt in target.elts:
                    self._bind(elt, value)
                return
            pair = value is not None and value.kind in ("items", "enum") and len(target.elts) == 2
            if pair:  # for name, output in step.get_outputs().items() / for i, step in enumerate(steps)
                self._bind(target.elts[0], None)
                self._bind(target.elts[1], V1Type("instance", value.key, mark=value.mark))
                return
            for elt in target.elts:
                self._bind(elt, None)
        else:
            self._expr(target)
            root = target
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            owner = self.env.get(root.id) if isinstance(root, ast.Name) else None
            if value is not None and value.mark and owner is not None and owner.kind == "instance":
                self.env[root.id] = replace(owner, mark=value.mark)  # env.python.conda_dependencies = marked

    # -- expressions -------------------------------------------------------------------------

    def _expr(self, node: ast.expr) -> V1Type | None:
        found = self._infer(node)
        self.types[id(node)] = found
        return found

    def _infer(self, node: ast.expr) -> V1Type | None:
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, self._expr(node.value))
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            base = self._expr(node.value)
            self._expr(node.slice)
            if base is not None and base.kind == "gone":
                return base
            if base is None or base.kind not in ("list", "dict"):
                return None
            return V1Type("instance", base.key, mark=base.mark)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            for generator in node.generators:
                self._bind(generator.target, element(self._expr(generator.iter)))
                for condition in generator.ifs:
                    self._expr(condition)
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            found = [self._expr(part) for part in parts][-1]
            if found is None or found.kind != "instance":
                return None
            return V1Type("list", found.key, mark=found.mark)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):  # [step_we_do_not_have] carries it
            return next((t for t in map(self._expr, node.elts) if t is not None and t.kind == "gone"), None)
        self._visit_children(node)
        return None

    def _attribute(self, node: ast.Attribute, base: V1Type | None) -> V1Type | None:
        if self.v1_file and self._instance_rule(node):
            return None
        if base is not None and base.kind == "gone":
            self._tainted(node, base)
            return base
        if base is None:
            return None
        if node.attr.startswith("_"):
            self._private(node, base)
            return None
        if base.kind == "module":
            path = f"{base.key}.{node.attr}"
            if path in v1map.load().modules:
                return V1Type("module", path)
            self._add(node, node.attr, rules.name_rule(base.key, node.attr))
            return _imported_type(path)
        if base.kind == "v1":
            self._add(
                node, ast.unparse(node), rules.Rule(rules.UNKNOWN, "the map cannot tell what this object is")
            )
            return None
        if base.kind not in ("class", "instance", "list", "dict"):
            return None
        entry, attr_type = member_of(base, node.attr)
        if base.kind in ("class", "instance"):
            self._member(node, base, entry)
        return attr_type

    def _member(self, node: ast.Attribute, owner: V1Type, entry: dict[str, Any] | None) -> None:
        """The finding for ``owner.member``: a hand rule, else the map's verdict."""
        name = f"{owner.short}.{node.attr}"
        table = v1map.load()
        if name in rules.USE_RULES:
            self._add(node, name, rules.USE_RULES[name])
        elif entry is None:
            cls = table.classes.get(owner.key, {})
            if cls.get("status") != v1map.UNSUPPORTED and not ours_has(cls, node.attr):
                advice = f"v1's {owner.short} has no member {node.attr!r} in the map: nothing is promised"
                self._add(node, name, rules.Rule(rules.UNKNOWN, advice))
        elif table.classes.get(owner.key, {}).get("status") != v1map.UNSUPPORTED:  # else its import said so
            rule = rules.entry_rule(entry)
            if rule.category != rules.UNCHANGED or rule.advice:
                self._add(node, name, rule)

    def _instance_rule(self, node: ast.Attribute) -> bool:
        attrs: list[str] = []
        expr: ast.expr = node
        while isinstance(expr, ast.Attribute):
            attrs.insert(0, expr.attr)
            expr = expr.value
        for suffix, rule in rules.INSTANCE_RULES.items():
            if tuple(attrs[-len(suffix) :]) == suffix:
                self._expr(expr)
                self._add(node, ast.unparse(node), rule)
                return True
        return False

    def _call(self, node: ast.Call) -> V1Type | None:
        callee = self._expr(node.func)
        args = [self._expr(arg) for arg in node.args]
        kwargs = {kw.arg: self._expr(kw.value) for kw in node.keywords}
        if (
            callee is not None and callee.kind == "gone"
        ):  # df_we_cannot_have.to_csv(path): path is not written
            for value in [*node.args, *(kw.value for kw in node.keywords)]:
                if isinstance(value, ast.Name) and value.id not in self.env:
                    self.env[value.id] = callee
            return callee
        gone = next((t for t in [*args, *kwargs.values()] if t is not None and t.kind == "gone"), None)
        if isinstance(node.func, ast.Name) and callee is None:
            return builtin_call(node.func.id, args[0] if args else None) or gone
        if callee is None:
            return gone  # open(path_from_gone), pickle.load(f): the result depends on it too
        self._call_rules(node, callee)
        entry, result = call_result(callee)
        if entry is None or callee.kind not in ("class", "member", "function"):
            return result
        label = callee.short if callee.kind == "class" else f"{callee.short}.{callee.name}"
        carry = self._arguments(node, callee, entry, args, kwargs) or self._carried(node, callee)
        if entry.get("status") == v1map.UNSUPPORTED or _unsupported_class(callee):
            return V1Type("gone", name=label)
        if gone is not None:  # Pipeline(steps=[a_step_we_do_not_have]) cannot be built either
            if gone.name and (self.unit.cell, label) not in self.tainted_uses:
                self.tainted_uses.add((self.unit.cell, label))
                advice = f"an argument comes from {gone.name}, which airflow-azml does not have (see there)"
                self._add(node, label, rules.Rule(rules.UNKNOWN, advice))
            return gone
        if carry and callee.kind == "class" and callee.key.startswith("azureml.pipeline.steps."):
            self._mark_outputs(node, entry, carry)
        if carry and result is not None and result.kind not in ("gone", "v1"):
            return replace(result, mark=carry)
        return result

    def _mark_outputs(self, node: ast.Call, entry: dict[str, Any], mark: str) -> None:
        """The data a marked step writes carries its mark to the steps that read it (a pipeline
        names only its last step: the others come in through their data)."""
        outputs = argument(node, entry, "outputs")
        for value in outputs.elts if isinstance(outputs, ast.List | ast.Tuple) else ():
            owner = self.env.get(value.id) if isinstance(value, ast.Name) else None
            if owner is not None and owner.kind == "instance":
                self.env[value.id] = replace(owner, mark=mark)


def _unsupported_class(callee: V1Type) -> bool:
    table = v1map.load()
    return callee.kind == "class" and table.classes.get(callee.key, {}).get("status") == v1map.UNSUPPORTED
