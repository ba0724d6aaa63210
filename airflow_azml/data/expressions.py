"""Filter expressions: ``ds.filter((ds['age'] > 15) & ds['name'].contains('Bri'))``.

An expression is built by indexing a dataset with a column (or partition key) name, or with
``file_dataset.file_metadata('Size')``, then combined with comparisons, ``&``, ``|``, ``~`` and
the string tests v1 offered. It is plain data (``to_json``), so a filtered dataset can be
registered, put in a plan and evaluated later in the step: on a pandas DataFrame (one boolean per
row) or on one file's values (one boolean per file).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["Expression", "column", "expression_from_json", "evaluate", "referenced_names"]

_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_TEXT = ("contains", "starts_with", "ends_with")


def _value_json(value: Any) -> Any:
    if isinstance(value, Expression):
        return value.tree
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return {"value": value}
    raise UserErrorException(
        f"A filter expression cannot hold {value!r} ({type(value).__name__}): use a string, number, "
        "bool, datetime or None."
    )


class Expression:
    """A node of a filter expression; ``tree`` is its JSON form."""

    __slots__ = ("tree",)

    def __init__(self, tree: dict[str, Any]):
        self.tree = tree

    def _compare(self, op: str, other: Any) -> Expression:
        return Expression({"op": op, "args": [self.tree, _value_json(other)]})

    def __eq__(self, other: Any) -> Expression:  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: Any) -> Expression:  # type: ignore[override]
        return self._compare("!=", other)

    def __lt__(self, other: Any) -> Expression:
        return self._compare("<", other)

    def __le__(self, other: Any) -> Expression:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> Expression:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> Expression:
        return self._compare(">=", other)

    def __and__(self, other: Expression) -> Expression:
        return Expression({"op": "and", "args": [self.tree, _value_json(other)]})

    def __or__(self, other: Expression) -> Expression:
        return Expression({"op": "or", "args": [self.tree, _value_json(other)]})

    def __invert__(self) -> Expression:
        return Expression({"op": "not", "args": [self.tree]})

    def __bool__(self) -> bool:
        raise UserErrorException(
            "A filter expression has no truth value: combine conditions with & | ~ (not and/or/not), "
            "with parentheses, e.g. (ds['a'] > 1) & (ds['b'] == 'x')."
        )

    __hash__ = None  # type: ignore[assignment]

    def contains(self, text: str) -> Expression:
        return self._compare("contains", text)

    def starts_with(self, text: str) -> Expression:
        return self._compare("starts_with", text)

    def ends_with(self, text: str) -> Expression:
        return self._compare("ends_with", text)

    def is_null(self) -> Expression:
        return Expression({"op": "is_null", "args": [self.tree]})

    def to_json(self) -> dict[str, Any]:
        return self.tree

    def __repr__(self) -> str:
        return f"Expression({self.tree})"


def column(name: str) -> Expression:
    if not isinstance(name, str) or not name:
        raise UserErrorException(f"A dataset is indexed by a column name, not {name!r}.")
    return Expression({"column": name})


def expression_from_json(tree: dict[str, Any]) -> Expression:
    return Expression(tree)


def referenced_names(tree: dict[str, Any]) -> set[str]:
    """Every column / partition key / file-metadata name the expression reads."""
    if "column" in tree:
        return {tree["column"]}
    return set().union(*(referenced_names(a) for a in tree.get("args", [])))


def _text(op: str, value: Any, text: str) -> Any:
    if hasattr(value, "str"):  # a pandas Series
        method = {"contains": "contains", "starts_with": "startswith", "ends_with": "endswith"}[op]
        kwargs = {"regex": False} if op == "contains" else {}
        return getattr(value.astype("string").str, method)(text, **kwargs).fillna(False).astype(bool)
    if value is None:
        return False
    value = str(value)
    return (
        text in value
        if op == "contains"
        else value.startswith(text)
        if op == "starts_with"
        else value.endswith(text)
    )


def _null(value: Any) -> Any:
    return value.isna() if hasattr(value, "isna") else value is None


def evaluate(tree: dict[str, Any], lookup: Callable[[str], Any]) -> Any:
    """The expression's value; ``lookup(name)`` gives a column (Series) or one file's value."""
    if "column" in tree:
        return lookup(tree["column"])
    if "value" in tree:
        return tree["value"]
    if "datetime" in tree:
        return dt.datetime.fromisoformat(tree["datetime"])
    op, args = tree["op"], [evaluate(a, lookup) for a in tree["args"]]
    if op in _COMPARE:
        return _COMPARE[op](args[0], args[1])
    if op in _TEXT:
        return _text(op, args[0], args[1])
    if op == "is_null":
        return _null(args[0])
    if op == "not":
        return ~args[0] if hasattr(args[0], "__array__") else not args[0]
    if op == "and":
        return args[0] & args[1]
    if op == "or":
        return args[0] | args[1]
    raise UserErrorException(f"Unknown filter operation {op!r}.")
