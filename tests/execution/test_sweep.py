"""The sweep loop on its own: limits, failures, the policy and the deadline, with scripted children.

The children here are scripted handles (an exit code after some polls, a metric series that
grows one value per poll) so the loop's rules can be checked exactly and fast; real child
processes are covered through Airflow in tests/operators/test_hyperdrive.py.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.execution.sweep import Sweep, best_child
from airflow_azml.train.hyperdrive import BanditPolicy, GridParameterSampling, NoTerminationPolicy, choice


class Scripted:
    """A child that logs ``values`` one per poll, then exits with ``code``."""

    def __init__(self, values: list[float], code: int = 0):
        self.values, self.code, self.polls, self.killed = values, code, 0, False

    def series(self) -> list[float]:
        return self.values[: self.polls]

    def poll(self) -> int | None:
        self.polls += 1
        return self.code if self.polls > len(self.values) else None

    def kill(self) -> None:
        self.killed = True


def _spec(space: dict[str, Any], **kw: Any) -> dict[str, Any]:
    spec = {
        "sampling": GridParameterSampling(space).to_spec(),
        "policy": NoTerminationPolicy().to_spec(),
        "primary_metric_name": "acc",
        "primary_metric_goal": "MAXIMIZE",
        "max_total_runs": 100,
        "max_concurrent_runs": 2,
        "max_duration_minutes": 60,
    }
    spec.update(kw)
    return spec


def _run(spec: dict[str, Any], make, **kw: Any) -> tuple[Sweep, list[int]]:
    """Run a sweep; also return how many children were running after each fill."""
    peaks: list[int] = []
    handles: dict[int, Scripted] = {}

    def start(number: int, values: dict[str, Any]) -> Scripted:
        handles[number] = make(values)
        return handles[number]

    sweep = Sweep(spec, start, lambda child: peaks.append(len(sweep.running())), poll_seconds=0, **kw)
    sweep.handles = handles
    sweep.run()
    return sweep, peaks


def test_concurrency_and_total_hold_even_when_children_fail():
    spec = _spec({"x": choice(*range(10))}, max_total_runs=7, max_concurrent_runs=3)
    sweep, peaks = _run(spec, lambda v: Scripted([v["x"] / 10] * 3, code=1 if v["x"] % 2 else 0))
    assert len(sweep.children) == 7 and max(peaks) == 3
    assert [c.status for c in sweep.children] == ["Completed", "Failed"] * 3 + ["Completed"]
    assert best_child(sweep.children, True, ("Completed",)).hyperparameters == {"x": 6}


def test_a_child_that_cannot_start_counts_as_a_failed_run():
    def make(values):
        if values["x"] == 1:
            raise OSError("no such interpreter")
        return Scripted([0.5])

    sweep, _ = _run(_spec({"x": choice(0, 1, 2)}, max_total_runs=3), make)
    assert [c.status for c in sweep.children] == ["Completed", "Failed", "Completed"]
    assert sweep.children[1].reason == "could not start: no such interpreter"


def test_the_policy_kills_the_child_it_stops():
    spec = _spec(
        {"x": choice(0.9, 0.1, 0.85)},
        max_concurrent_runs=3,
        policy=BanditPolicy(evaluation_interval=2, slack_factor=0.1).to_spec(),
    )
    sweep, _ = _run(spec, lambda v: Scripted([v["x"]] * 5))
    stopped = sweep.children[1]
    assert stopped.status == "Canceled" and sweep.handles[1].killed
    assert stopped.reason == "Bandit: 0.1 < best 0.9 / (1 + 0.1) = 0.8182 at interval 2"
    assert [c.status for c in sweep.children] == ["Completed", "Canceled", "Completed"]


def test_max_duration_cancels_running_children_and_starts_no_more():
    ticks = iter(range(0, 10_000, 30))  # each clock read is 30 s later
    spec = _spec({"x": choice(*range(6))}, max_duration_minutes=2, max_concurrent_runs=2)
    sweep, _ = _run(spec, lambda v: Scripted([0.5] * 50), clock=lambda: next(ticks))
    assert sweep.stopped_reason == "max_duration_minutes=2 reached"
    assert len(sweep.children) == 2 and {c.status for c in sweep.children} == {"Canceled"}
    assert all(c.reason == "max_duration_minutes=2 reached" for c in sweep.children)


def test_cancel_stops_the_sweep():
    flag = {"set": False}

    def make(values):
        flag["set"] = flag["set"] or values["x"] == 2  # cancel once the third child has started
        return Scripted([0.5] * 3)

    spec = _spec({"x": choice(*range(6))}, max_concurrent_runs=1)
    sweep, _ = _run(spec, make, cancelled=lambda: flag["set"])
    assert sweep.stopped_reason == "the sweep was canceled (cancel())"
    assert len(sweep.children) == 3 and sweep.children[2].status == "Canceled"
