"""A hyperparameter sweep's loop, engine-neutral: sample, start, watch, stop early, end.

The loop knows children only through :class:`ChildHandle` (poll, kill, the primary metric's
series), so it runs the same whatever starts them (processes in one task here). It keeps
``max_concurrent_runs`` children at most, samples a child's values when a slot frees (so a
Bayesian sampler sees every result so far), lets the policy judge each new logged value of a
running child and kills the ones it stops, and holds ``max_total_runs`` and
``max_duration_minutes`` whether children succeed or fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_azml.train.hyperdrive.policy import evaluate
from airflow_azml.train.hyperdrive.sampling import make_sampler

__all__ = ["ChildHandle", "SweepChild", "Sweep", "best_child", "best_value"]


class ChildHandle(Protocol):
    def poll(self) -> int | None:
        """The exit code once the child has ended, else None."""

    def kill(self) -> None: ...

    def series(self) -> list[float]:
        """The primary metric's values logged so far, in order."""


@dataclass
class SweepChild:
    """One child run as the sweep sees it (what its record is made of)."""

    number: int
    hyperparameters: dict[str, Any]
    handle: Any = None
    status: str = "Running"
    series: list[float] = field(default_factory=list)
    evaluated: int = 0
    reason: str | None = None
    exit_code: int | None = None
    start_time: float = 0.0
    end_time: float | None = None


def best_value(series: list[float], maximize: bool) -> float | None:
    """A child's best logged value of the primary metric (None when it logged none)."""
    return (max if maximize else min)(series) if series else None


def best_child(children: list[SweepChild], maximize: bool, statuses: tuple[str, ...]) -> SweepChild | None:
    """The child with the best primary metric among those in ``statuses`` (first on a tie)."""
    scored = [(best_value(c.series, maximize), c) for c in children if c.status in statuses and c.series]
    if not scored:
        return None
    pick = max if maximize else min
    return pick(scored, key=lambda vc: vc[0])[1]


class Sweep:
    """Runs one sweep to its end; ``start(number, hyperparameters)`` starts a child and returns its handle."""

    def __init__(
        self,
        spec: dict[str, Any],
        start: Callable[[int, dict[str, Any]], ChildHandle],
        on_change: Callable[[SweepChild], None] = lambda child: None,
        *,
        poll_seconds: float = 0.2,
        cancelled: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
        log: Any = None,
    ):
        self.spec = spec
        self.maximize = spec["primary_metric_goal"] == "MAXIMIZE"
        self.sampler = make_sampler(spec["sampling"], self.maximize)
        self._start, self._on_change, self._log = start, on_change, log
        self.poll_seconds, self.clock, self._cancelled = poll_seconds, clock, cancelled
        self.children: list[SweepChild] = []
        self.exhausted = False
        self.stopped_reason: str | None = None

    def running(self) -> list[SweepChild]:
        return [c for c in self.children if c.status == "Running"]

    def run(self) -> list[SweepChild]:
        deadline = self.clock() + 60 * self.spec["max_duration_minutes"]
        try:
            while True:
                self._watch()
                if self.stopped_reason is None and self.clock() >= deadline:
                    self._stop_all(f"max_duration_minutes={self.spec['max_duration_minutes']} reached")
                if self.stopped_reason is None and self._cancelled():
                    self._stop_all("the sweep was canceled (cancel())")
                self._fill()
                if not self.running() and not self._can_start():
                    return self.children
                time.sleep(self.poll_seconds)
        except BaseException:
            self._stop_all("the sweep was interrupted")
            raise

    def stop(self, reason: str) -> None:
        """Cancel the sweep: start nothing more and stop every running child (v1's ``cancel()``)."""
        self._stop_all(reason)

    def _can_start(self) -> bool:
        return (
            self.stopped_reason is None
            and not self.exhausted
            and len(self.children) < self.spec["max_total_runs"]
        )

    def _fill(self) -> None:
        while self._can_start() and len(self.running()) < self.spec["max_concurrent_runs"]:
            params = self.sampler.next()
            if params is None:
                self.exhausted = True
                return
            child = SweepChild(len(self.children), params, start_time=self.clock())
            self.children.append(child)
            try:
                child.handle = self._start(child.number, params)
            except Exception as exc:  # a child that cannot start counts as a failed run
                self._end(child, "Failed", -1, f"could not start: {exc}")
                continue
            self._on_change(child)

    def _watch(self) -> None:
        for child in self.running():
            series = list(child.handle.series())
            grew, child.series = len(series) > len(child.series), series
            reason = self._judge(child)
            if reason is not None:
                child.handle.kill()
                self._end(child, "Canceled", None, reason)
                continue
            code = child.handle.poll()
            if code is not None:
                child.series = list(child.handle.series())
                self._end(child, "Completed" if code == 0 else "Failed", code, None)
            elif grew:  # a running child's record shows its metric as it is logged
                self._on_change(child)

    def _judge(self, child: SweepChild) -> str | None:
        """The policy on each interval the child reached since last looked at, and again on its
        latest one at every poll: children started a little later reach an interval a little later,
        and the comparison at an interval counts only the children that have reached it."""
        others = {c.number: c.series for c in self.children}
        finished = frozenset(c.number for c in self.children if c.status == "Completed")
        latest = len(child.series)
        for interval in range(child.evaluated + 1, latest + 1) or ([latest] if latest else []):
            series = {**others, child.number: child.series[:interval]}
            reason = evaluate(self.spec["policy"], child.number, series, self.maximize, finished)
            if reason is not None:
                return reason
        child.evaluated = latest
        return None

    def _end(self, child: SweepChild, status: str, code: int | None, reason: str | None) -> None:
        child.status, child.exit_code, child.reason, child.end_time = status, code, reason, self.clock()
        self.sampler.tell(
            child.hyperparameters, best_value(child.series, self.maximize) if status == "Completed" else None
        )
        if self._log is not None:
            self._log.info(
                "HyperDrive child %s %s %s%s",
                child.number,
                status,
                child.hyperparameters,
                f": {reason}" if reason else "",
            )
        self._on_change(child)

    def _stop_all(self, reason: str) -> None:
        self.stopped_reason = self.stopped_reason or reason
        for child in self.running():
            if child.handle is not None:
                child.handle.kill()
            self._end(child, "Canceled", None, reason)
