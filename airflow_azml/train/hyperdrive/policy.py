"""v1's early termination policies, and the decision each takes on a running child.

A policy is plan data (``to_spec``); :func:`evaluate` is the decision, pure: given every child's
primary-metric series (one value per log call, an "interval" as v1 counts them) it says whether
the child that just reached an interval stops, and why, in words a user reads in the child's
record: ``"Bandit: 0.71 < best 0.83 / (1 + 0.1) = 0.755 at interval 4"``.
"""

from __future__ import annotations

import statistics
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = [
    "EarlyTerminationPolicy",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "NoTerminationPolicy",
    "evaluate",
    "due",
]


def _whole(policy: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserErrorException(f"{policy}: {name}={value!r} must be a whole number >= {low}.")
    return value


class EarlyTerminationPolicy:
    """Base: ``evaluation_interval`` (every how many logged values) and ``delay_evaluation`` (not before)."""

    policy_name = "base"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0):
        name = type(self).__name__
        self.evaluation_interval = _whole(name, "evaluation_interval", evaluation_interval, 1)
        self.delay_evaluation = _whole(name, "delay_evaluation", delay_evaluation, 0)

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.policy_name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_spec().items() if k != "name")
        return f"{type(self).__name__}({args})"


class BanditPolicy(EarlyTerminationPolicy):
    """Stops a child whose value falls outside the slack of the best child's at the same interval."""

    policy_name = "bandit"

    def __init__(
        self,
        evaluation_interval: int = 1,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        delay_evaluation: int = 0,
    ):
        super().__init__(evaluation_interval, delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise UserErrorException(
                "BanditPolicy needs exactly one of slack_factor (a ratio, e.g. 0.1) and slack_amount (an "
                f"absolute distance from the best run), got slack_factor={slack_factor!r}, slack_amount={slack_amount!r}."
            )
        for name, value in (("slack_factor", slack_factor), ("slack_amount", slack_amount)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                raise UserErrorException(f"BanditPolicy: {name}={value!r} must be a number > 0.")
        self.slack_factor = slack_factor
        self.slack_amount = slack_amount


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stops a child whose best value is worse than the median of the children's running averages."""

    policy_name = "median"


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """At each evaluation stops the lowest ``truncation_percentage`` % of the children by their value."""

    policy_name = "truncation"

    def __init__(
        self,
        truncation_percentage: int,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
        exclude_finished_jobs: bool = False,
    ):
        super().__init__(evaluation_interval, delay_evaluation)
        pct = truncation_percentage
        if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= 99:
            raise UserErrorException(
                f"TruncationSelectionPolicy: truncation_percentage={pct!r} must be a whole number from 1 to 99."
            )
        self.truncation_percentage = pct
        self.exclude_finished_jobs = bool(exclude_finished_jobs)


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Every child runs to its end."""

    policy_name = "none"

    def __init__(self) -> None:
        super().__init__(1, 0)


def due(spec: dict[str, Any], interval: int) -> bool:
    """Whether a child that has just logged its ``interval``-th value is evaluated now."""
    if spec["name"] == "none" or interval < 1:
        return False
    return interval >= spec["delay_evaluation"] and interval % spec["evaluation_interval"] == 0


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def evaluate(
    spec: dict[str, Any],
    child: str,
    series: dict[str, list[float]],
    maximize: bool,
    finished: frozenset[str] = frozenset(),
) -> str | None:
    """Why ``child`` stops at its current interval, or None to let it run on."""
    interval = len(series.get(child, []))
    if not due(spec, interval):
        return None
    at = {c: s[interval - 1] for c, s in series.items() if len(s) >= interval}
    if spec["name"] == "bandit":
        return _bandit(spec, child, at, maximize, interval)
    if spec["name"] == "median":
        return _median(child, series, at, maximize, interval)
    if spec["name"] == "truncation":
        if spec["exclude_finished_jobs"]:
            at = {c: v for c, v in at.items() if c not in finished or c == child}
        return _truncation(spec, child, at, maximize, interval)
    return None


def _bandit(
    spec: dict[str, Any], child: str, at: dict[str, float], maximize: bool, interval: int
) -> str | None:
    value, best = at[child], (max if maximize else min)(at.values())
    factor, amount = spec["slack_factor"], spec["slack_amount"]
    if factor is not None:
        limit = best / (1 + factor) if maximize else best * (1 + factor)
        rule = f"best {_fmt(best)} {'/' if maximize else '×'} (1 + {factor}) = {_fmt(limit)}"
    else:
        limit = best - amount if maximize else best + amount
        rule = f"best {_fmt(best)} {'-' if maximize else '+'} {amount} = {_fmt(limit)}"
    worse = value < limit if maximize else value > limit
    return (
        f"Bandit: {_fmt(value)} {'<' if maximize else '>'} {rule} at interval {interval}" if worse else None
    )


def _median(
    child: str, series: dict[str, list[float]], at: dict[str, float], maximize: bool, interval: int
) -> str | None:
    others = [c for c in at if c != child]
    if not others:
        return None
    averages = [statistics.fmean(series[c][:interval]) for c in at]
    median = statistics.median(averages)
    own = series[child][:interval]
    best = max(own) if maximize else min(own)
    worse = best < median if maximize else best > median
    sign = "<" if maximize else ">"
    return (
        f"Median stopping: best {_fmt(best)} {sign} median {_fmt(median)} of {len(averages)} running averages "
        f"at interval {interval}"
        if worse
        else None
    )


def _truncation(
    spec: dict[str, Any], child: str, at: dict[str, float], maximize: bool, interval: int
) -> str | None:
    count = len(at) * spec["truncation_percentage"] // 100
    if count < 1:
        return None
    ranked = sorted(at, key=lambda c: at[c], reverse=not maximize)  # worst first
    if child not in ranked[:count]:
        return None
    return (
        f"Truncation: {_fmt(at[child])} is in the lowest {spec['truncation_percentage']}% "
        f"({count} of {len(at)}) at interval {interval}"
    )
