"""The types ``azml migrate`` follows through v1 code, read from the v1 API map.

A value is a v1 module, a v1 class, an instance of one, a list or dict of instances, a bound
member, or ``V1`` (it came from v1 code, but the map does not say what it is). What a
constructor, factory, method or property returns is the ``returns`` of its map entry, so
``run.get_steps()`` is a list of StepRun and ``step.get_outputs().items()`` pairs of names and
StepRunOutput. Argument values are checked against a member's ``rules``: ``given`` (the argument
is passed), ``type:<class>`` (it is an instance of that v1 class), ``prefix:<text>`` (a string
literal starting with it), ``not-prefix:<text>``, ``gt:<number>`` (a number literal above it),
``digits`` (a string literal of digits only). A rule with ``carry`` marks what is built with that
argument, and everything built from that in turn; a step built from a marked object is reported,
and so is a call on a marked object of a member named in the rule's ``report_on``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from airflow_azml import v1map

__all__ = ["V1", "V1Type", "argument", "builtin_call", "call_result", "element", "member_of", "rule_applies"]

_BUILTINS = (
    "str",
    "int",
    "bool",
    "float",
    "dict",
    "list",
    "none",
    "bytes",
    "tuple",
    "set",
    "object",
    "typing",
)


@dataclass(frozen=True)
class V1Type:
    """``kind``: module, class, instance, list, dict, items (``dict.items()``), enum
    (``enumerate(list)``), member (``key`` the class, ``name`` the member), dictmethod, function,
    v1 (from v1 code, type unknown) or gone (built from something airflow-azml does not have,
    ``name`` says what)."""

    kind: str
    key: str = ""
    name: str = ""
    mark: str = ""  # a rule's 'carry' label this value was built with

    @property
    def short(self) -> str:
        """The class's own name, as people write it: ``PipelineRun``."""
        return self.key.rpartition(".")[2]


V1 = V1Type("v1")


def from_returns(text: str | None) -> V1Type | None:
    """The type a map ``returns`` names; V1 for a v1 type the map does not know, None for a builtin."""
    if not text:
        return V1
    parsed = v1map.load().parse_type(text)
    if parsed is not None:
        return V1Type(*parsed)
    return None if text.lower().startswith(_BUILTINS) else V1


def element(container: V1Type | None) -> V1Type | None:
    """What iterating over ``container`` gives: an instance for a list or dict, a pair
    (as ``items``) for ``dict.items()`` and ``enumerate``."""
    if container is None:
        return None
    if container.kind in ("list", "dict"):
        return V1Type("instance", container.key, mark=container.mark) if container.kind == "list" else None
    return container if container.kind in ("items", "enum") else None


def member_of(owner: V1Type, name: str) -> tuple[dict[str, Any] | None, V1Type | None]:
    """The map entry of ``owner.name`` and the type of the attribute itself: a bound member for a
    method, the returned type for a property or class attribute."""
    if owner.kind in ("list", "dict"):
        return None, V1Type("dictmethod", owner.key, name, owner.mark) if owner.kind == "dict" else None
    entry = v1map.load().member(owner.key, name)
    if entry is None:
        return None, None
    if entry.get("kind") in ("property", "attribute"):
        return entry, from_returns(entry.get("returns")) if entry.get("returns") else V1
    return entry, V1Type("member", owner.key, name, owner.mark)


def call_result(callee: V1Type) -> tuple[dict[str, Any] | None, V1Type | None]:
    """The entry that takes the call's arguments (a constructor, method or function) and what the
    call returns."""
    table = v1map.load()
    if callee.kind == "class":  # Datastore(ws, name) gives an AzureBlobDatastore: the map's 'constructs'
        made = table.classes.get(callee.key, {}).get("constructs", callee.key)
        return table.member(callee.key, "__init__"), V1Type("instance", made)
    if callee.kind == "member":
        entry = table.member(callee.key, callee.name)
        return entry, from_returns(entry.get("returns")) if entry else V1
    if callee.kind == "function":
        entry = table.functions.get(callee.key)
        return entry, from_returns(entry.get("returns")) if entry else V1
    if callee.kind == "dictmethod":
        kinds = {"items": V1Type("items", callee.key), "values": V1Type("list", callee.key)}
        return None, kinds.get(callee.name, V1Type("instance", callee.key) if callee.name == "get" else None)
    return None, V1 if callee.kind == "v1" else None


def builtin_call(name: str, first: V1Type | None) -> V1Type | None:
    """``list(x)``, ``sorted(x)``, ``next(iter(x))``, ``enumerate(x)`` over a v1 list."""
    if first is None or first.kind not in ("list", "dict"):
        return None
    if name in ("list", "sorted", "reversed", "iter", "tuple"):
        return V1Type("list", first.key)
    if name == "next":
        return V1Type("instance", first.key)
    if name == "enumerate" and first.kind == "list":
        return V1Type("enum", first.key)
    return None


def argument(node: ast.Call, entry: dict[str, Any], param: str) -> ast.expr | None:
    """The expression passed for v1 parameter ``param``, by keyword or by position."""
    for keyword in node.keywords:
        if keyword.arg == param:
            return keyword.value
    names = []
    for spec in entry.get("params", []):
        if spec.startswith("*"):
            break
        names.append(spec.split("=")[0])
    index = names.index(param) if param in names else -1
    return node.args[index] if 0 <= index < len(node.args) else None


def rule_applies(when: str, value: ast.expr, value_type: V1Type | None) -> bool:
    """Whether an argument ``value`` (of inferred ``value_type``) meets a rule's ``when``."""
    kind, _, text = when.partition(":")
    literal = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
    if kind == "given":
        return True
    if kind == "type":
        return value_type is not None and value_type.kind == "instance" and _is_a(value_type.key, text)
    if kind == "prefix":
        return literal is not None and literal.startswith(text)
    if kind == "not-prefix":
        return literal is not None and not literal.startswith(text)
    if kind == "digits":
        return literal is not None and literal.isdigit()
    if kind == "gt":  # a number literal above text
        number = value.value if isinstance(value, ast.Constant) else None
        return isinstance(number, int | float) and not isinstance(number, bool) and number > float(text)
    return False


def _is_a(key: str, wanted: str) -> bool:
    if key == wanted:
        return True
    return any(_is_a(base, wanted) for base in v1map.load().classes.get(key, {}).get("bases", []))
