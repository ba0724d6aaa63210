"""v1's parameter expressions: ``choice``, ``randint``, ``uniform`` ... as v1's plain lists.

v1 returns ``["uniform", [0.0, 1.0]]`` style lists and so do we: they are JSON as they are (the
plan stores them), they print as v1's did, and :func:`sample` draws one value from one of them.
Bad bounds are refused here, when the search space is written.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

from airflow_azml.exceptions import UserErrorException

EXPRESSIONS = (
    "choice",
    "randint",
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
)

__all__ = [*EXPRESSIONS, "EXPRESSIONS", "check_expression", "sample"]


def _number(fn: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserErrorException(f"{fn}(): {name}={value!r} must be a finite number.")
    return value


def _q(fn: str, q: Any) -> float:
    if _number(fn, "q", q) <= 0:
        raise UserErrorException(f"{fn}(): q={q!r} must be > 0 (the step values are rounded to).")
    return q


def _bounded(kind: str, low: Any, high: Any, *q: Any) -> list[Any]:
    """``[kind, [low, high(, q)]]`` once the bounds (and the step ``q``, if any) are checked."""
    if _number(kind, "min_value", low) >= _number(kind, "max_value", high):
        raise UserErrorException(f"{kind}({low!r}, {high!r}): the first bound must be below the second.")
    return [kind, [low, high, *(_q(kind, step) for step in q)]]


def _gaussian(kind: str, mu: Any, sigma: Any, *q: Any) -> list[Any]:
    """``[kind, [mu, sigma(, q)]]`` once mu, sigma (and the step ``q``, if any) are checked."""
    _number(kind, "mu", mu)
    if _number(kind, "sigma", sigma) <= 0:
        raise UserErrorException(f"{kind}(): sigma={sigma!r} must be > 0.")
    return [kind, [mu, sigma, *(_q(kind, step) for step in q)]]


def choice(*options: Any) -> list[Any]:
    """One of ``options``: ``choice(1, 2, 3)``, ``choice([1, 2, 3])`` or ``choice(range(1, 4))``."""
    values = (
        list(options[0])
        if len(options) == 1 and isinstance(options[0], Iterable) and not isinstance(options[0], str)
        else list(options)
    )
    if not values:
        raise UserErrorException("choice() needs at least one option, e.g. choice(0.01, 0.1).")
    for value in values:
        if not isinstance(value, str | int | float | bool) or value is None:
            raise UserErrorException(f"choice(): option {value!r} must be a number, a string or a bool.")
    return ["choice", [values]]


def randint(upper: int) -> list[Any]:
    """A whole number in ``[0, upper)``."""
    if isinstance(upper, bool) or not isinstance(upper, int) or upper < 1:
        raise UserErrorException(f"randint(upper={upper!r}): upper must be a whole number >= 1.")
    return ["randint", [upper]]


def uniform(min_value: float, max_value: float) -> list[Any]:
    return _bounded("uniform", min_value, max_value)


def quniform(min_value: float, max_value: float, q: float) -> list[Any]:
    return _bounded("quniform", min_value, max_value, q)


def loguniform(min_value: float, max_value: float) -> list[Any]:
    """``exp(uniform(min_value, max_value))``: the bounds are natural logarithms, as in v1."""
    return _bounded("loguniform", min_value, max_value)


def qloguniform(min_value: float, max_value: float, q: float) -> list[Any]:
    return _bounded("qloguniform", min_value, max_value, q)


def normal(mu: float, sigma: float) -> list[Any]:
    return _gaussian("normal", mu, sigma)


def qnormal(mu: float, sigma: float, q: float) -> list[Any]:
    return _gaussian("qnormal", mu, sigma, q)


def lognormal(mu: float, sigma: float) -> list[Any]:
    return _gaussian("lognormal", mu, sigma)


def qlognormal(mu: float, sigma: float, q: float) -> list[Any]:
    return _gaussian("qlognormal", mu, sigma, q)


def check_expression(name: str, expr: Any) -> str:
    """The expression's kind; anything else is refused naming the parameter."""
    if isinstance(expr, list | tuple) and len(expr) == 2 and expr[0] in EXPRESSIONS:
        return str(expr[0])
    raise UserErrorException(
        f"Hyperparameter {name!r} = {expr!r} is not a parameter expression; write it with one of "
        f"{', '.join(EXPRESSIONS)} from azureml.train.hyperdrive, e.g. {{{name!r}: choice(1, 2, 3)}}."
    )


def _round(value: float, q: float) -> float:
    return round(value / q) * q


def sample(expr: list[Any], rng: random.Random) -> Any:
    """One value of ``expr`` drawn with ``rng`` (a seeded Random makes a sweep repeatable)."""
    kind, args = expr[0], expr[1]
    if kind == "choice":
        return rng.choice(args[0])
    if kind == "randint":
        return rng.randrange(args[0])
    draws = {
        "uniform": lambda: rng.uniform(args[0], args[1]),
        "quniform": lambda: _round(rng.uniform(args[0], args[1]), args[2]),
        "loguniform": lambda: math.exp(rng.uniform(args[0], args[1])),
        "qloguniform": lambda: _round(math.exp(rng.uniform(args[0], args[1])), args[2]),
        "normal": lambda: rng.gauss(args[0], args[1]),
        "qnormal": lambda: _round(rng.gauss(args[0], args[1]), args[2]),
        "lognormal": lambda: math.exp(rng.gauss(args[0], args[1])),
        "qlognormal": lambda: _round(math.exp(rng.gauss(args[0], args[1])), args[2]),
    }
    return draws[kind]()
