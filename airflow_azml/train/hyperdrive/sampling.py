"""The three v1 samplings, and the samplers that draw a sweep's next hyperparameters.

A sampling is plan data (``to_spec``); a :class:`Sampler` is what a running sweep asks for the
next child's hyperparameters and tells each child's result. Grid enumerates the space in the
order it is written; random draws with a seed (``properties={"rndseed": 7}``) so a sweep can be
repeated; Bayesian asks Optuna's TPE sampler, imported only when a Bayesian sweep runs.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, Protocol

from airflow_azml.exceptions import UserErrorException
from airflow_azml.train.hyperdrive.parameter_expressions import check_expression, sample

__all__ = [
    "HyperParameterSampling",
    "RandomParameterSampling",
    "GridParameterSampling",
    "BayesianParameterSampling",
    "Sampler",
    "make_sampler",
    "grid_points",
]

_BAYESIAN_KINDS = ("choice", "uniform", "quniform")


class HyperParameterSampling:
    """Base of the samplings: the search space ``{name: expression}``, checked when written."""

    sampling_name = "base"
    allowed: tuple[str, ...] | None = None

    def __init__(self, parameter_space: dict[str, Any], properties: dict[str, Any] | None = None):
        kind = type(self).__name__
        if not isinstance(parameter_space, dict) or not parameter_space:
            raise UserErrorException(
                f"{kind} needs parameter_space, a non-empty dict such as {{'--learning_rate': uniform(0.01, 0.1)}}."
            )
        for name, expr in parameter_space.items():
            if not isinstance(name, str) or not name.strip("-"):
                raise UserErrorException(f"{kind}: hyperparameter name {name!r} must be a non-empty string.")
            found = check_expression(name, expr)
            if self.allowed is not None and found not in self.allowed:
                raise UserErrorException(
                    f"{kind}: hyperparameter {name!r} uses {found}(); {kind} takes only "
                    f"{', '.join(self.allowed)}. {self._hint()}"
                )
        self._parameter_space = {name: [expr[0], list(expr[1])] for name, expr in parameter_space.items()}
        self._properties = dict(properties or {})

    def _hint(self) -> str:
        return ""

    def get_parameter_space(self) -> dict[str, Any]:
        return dict(self._parameter_space)

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.sampling_name, "space": self._parameter_space, "properties": self._properties}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._parameter_space!r})"


class RandomParameterSampling(HyperParameterSampling):
    """Random draws from any expressions; ``properties={"rndseed": n}`` fixes the draws."""

    sampling_name = "random"

    def __init__(self, parameter_space: dict[str, Any], properties: dict[str, Any] | None = None):
        super().__init__(parameter_space, properties)
        seed = self._properties.get("rndseed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise UserErrorException(
                f"RandomParameterSampling: properties['rndseed']={seed!r} must be an int."
            )


class GridParameterSampling(HyperParameterSampling):
    """Every combination of the ``choice`` values, in the order they are written."""

    sampling_name = "grid"
    allowed = ("choice",)

    def __init__(self, parameter_space: dict[str, Any]):
        super().__init__(parameter_space)

    def _hint(self) -> str:
        return "Give a list of values with choice(...), or use RandomParameterSampling for ranges."


class BayesianParameterSampling(HyperParameterSampling):
    """Each child's values chosen from the earlier children's results (Optuna's TPE)."""

    sampling_name = "bayesian"
    allowed = _BAYESIAN_KINDS

    def __init__(self, parameter_space: dict[str, Any]):
        super().__init__(parameter_space)

    def _hint(self) -> str:
        return "Use RandomParameterSampling for the other distributions."


def grid_points(space: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a grid's choices, first parameter slowest."""
    names = list(space)
    values = [space[n][1][0] for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


class Sampler(Protocol):
    def next(self) -> dict[str, Any] | None:
        """The next child's hyperparameters, or None when the space is used up."""

    def tell(self, params: dict[str, Any], value: float | None) -> None:
        """A child's final primary metric (None: it failed or logged nothing)."""


class _GridSampler:
    def __init__(self, space: dict[str, Any]):
        self._points = iter(grid_points(space))

    def next(self) -> dict[str, Any] | None:
        return next(self._points, None)

    def tell(self, params: dict[str, Any], value: float | None) -> None:
        return None


class _RandomSampler:
    """Draws with a seeded Random; a space of choices only is never drawn twice (it can run out)."""

    def __init__(self, space: dict[str, Any], seed: int | None):
        self._space = space
        self._rng = random.Random(seed)
        discrete = all(expr[0] in ("choice", "randint") for expr in space.values())
        self._left = _size(space) if discrete else None
        self._seen: set[str] = set()

    def next(self) -> dict[str, Any] | None:
        if self._left is not None and self._left <= 0:
            return None
        while True:
            point = {name: sample(expr, self._rng) for name, expr in self._space.items()}
            key = repr(sorted(point.items()))
            if self._left is None or key not in self._seen:
                break
        if self._left is not None:
            self._seen.add(key)
            self._left -= 1
        return point

    def tell(self, params: dict[str, Any], value: float | None) -> None:
        return None


def _size(space: dict[str, Any]) -> int:
    size = 1
    for expr in space.values():
        size *= len(expr[1][0]) if expr[0] == "choice" else expr[1][0]
    return size


class _BayesianSampler:
    """Optuna's ask-and-tell: each ask sees every result told so far."""

    def __init__(self, space: dict[str, Any], maximize: bool, seed: int | None):
        import optuna  # a heavy dependency, paid only by a Bayesian sweep

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._study = optuna.create_study(
            direction="maximize" if maximize else "minimize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        self._dists = {name: self._distribution(expr) for name, expr in space.items()}
        self._trials: dict[str, Any] = {}

    def _distribution(self, expr: list[Any]) -> Any:
        dist = self._optuna.distributions
        kind, args = expr
        if kind == "choice":
            return dist.CategoricalDistribution(args[0])
        if kind == "uniform":
            return dist.FloatDistribution(args[0], args[1])
        return dist.FloatDistribution(args[0], args[1], step=args[2])

    def next(self) -> dict[str, Any] | None:
        trial = self._study.ask(self._dists)
        self._trials[repr(sorted(trial.params.items()))] = trial
        return dict(trial.params)

    def tell(self, params: dict[str, Any], value: float | None) -> None:
        trial = self._trials.pop(repr(sorted(params.items())), None)
        if trial is None:
            return
        state = self._optuna.trial.TrialState
        if value is None:
            self._study.tell(trial, state=state.FAIL)
        else:
            self._study.tell(trial, value)


def make_sampler(spec: dict[str, Any], maximize: bool, seed: int | None = None) -> Sampler:
    """The sampler of a sampling's plan data (``seed`` overrides a random sampling's rndseed)."""
    space = spec["space"]
    if spec["name"] == "grid":
        return _GridSampler(space)
    if spec["name"] == "bayesian":
        return _BayesianSampler(space, maximize, seed)
    return _RandomSampler(space, seed if seed is not None else spec.get("properties", {}).get("rndseed"))
