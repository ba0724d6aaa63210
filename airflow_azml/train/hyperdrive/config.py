"""HyperDriveConfig and PrimaryMetricGoal: what a sweep runs, how it samples, stops and ends.

v1's rules are checked when the config is built: one of ``run_config`` (a ScriptRunConfig) or
``estimator``; ``max_total_runs`` and ``max_concurrent_runs`` whole numbers in v1's ranges;
Bayesian sampling without an early termination policy. ``to_spec`` is the sweep as plan data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.train.hyperdrive.policy import EarlyTerminationPolicy, NoTerminationPolicy
from airflow_azml.train.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    grid_points,
)

__all__ = ["HyperDriveConfig", "PrimaryMetricGoal", "MAX_TOTAL_RUNS", "MAX_CONCURRENT_RUNS"]

MAX_TOTAL_RUNS = 1000  # v1's limits
MAX_CONCURRENT_RUNS = 100
MAX_DURATION_MINUTES = 10080


class PrimaryMetricGoal(StrEnum):
    """Whether the primary metric is to be maximized or minimized."""

    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


def _bounded(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserErrorException(
            f"HyperDriveConfig: {name}={value!r} must be a whole number from {low} to {high}."
        )
    return value


class HyperDriveConfig:
    """``HyperDriveConfig(hyperparameter_sampling, primary_metric_name, primary_metric_goal,
    max_total_runs=None, max_concurrent_runs=None, max_duration_minutes=10080, policy=None,
    estimator=None, run_config=None, resume_from=None, resume_child_runs=None, pipeline=None,
    debug_flag=None, custom_run_id=None)``.

    ``max_total_runs=None`` is allowed for grid sampling (the whole grid) only, as in v1 a sweep
    needs a bound. ``resume_from``, ``resume_child_runs``, ``pipeline``, ``debug_flag`` and
    ``custom_run_id`` are accepted for v1's signature and not used.
    """

    def __init__(
        self,
        hyperparameter_sampling: HyperParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal,
        max_total_runs: int | None = None,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: int = MAX_DURATION_MINUTES,
        policy: EarlyTerminationPolicy | None = None,
        estimator: Any = None,
        run_config: Any = None,
        resume_from: Any = None,
        resume_child_runs: Any = None,
        pipeline: Any = None,
        debug_flag: Any = None,
        custom_run_id: Any = None,
    ):
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            raise UserErrorException(
                "HyperDriveConfig: hyperparameter_sampling must be RandomParameterSampling, GridParameterSampling "
                f"or BayesianParameterSampling, not {type(hyperparameter_sampling).__name__}."
            )
        if (estimator is None) == (run_config is None):
            raise UserErrorException(
                "HyperDriveConfig needs exactly one of run_config (a ScriptRunConfig: the training script, its "
                "source_directory, arguments and environment) and estimator."
            )
        if run_config is not None and not getattr(run_config, "script", None):
            raise UserErrorException(
                "HyperDriveConfig: run_config must be a ScriptRunConfig with script= (the training script that "
                "receives the hyperparameters as --name value arguments)."
            )
        if not isinstance(primary_metric_name, str) or not primary_metric_name:
            raise UserErrorException(
                "HyperDriveConfig: primary_metric_name must name the metric the script logs with "
                f"Run.get_context().log(name, value), got {primary_metric_name!r}."
            )
        self.hyperparameter_sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.primary_metric_goal = _goal(primary_metric_goal)
        self.policy = policy if policy is not None else NoTerminationPolicy()
        self.estimator = estimator
        self.run_config = run_config
        self.max_total_runs = self._total_runs(max_total_runs)
        self.max_concurrent_runs = (
            self.max_total_runs
            if max_concurrent_runs is None
            else _bounded("max_concurrent_runs", max_concurrent_runs, 1, MAX_CONCURRENT_RUNS)
        )
        self.max_duration_minutes = _bounded(
            "max_duration_minutes", max_duration_minutes, 1, MAX_DURATION_MINUTES
        )
        self._check_policy()

    def _total_runs(self, value: int | None) -> int:
        sampling = self.hyperparameter_sampling
        if value is None and isinstance(sampling, GridParameterSampling):
            return min(len(grid_points(sampling.get_parameter_space())), MAX_TOTAL_RUNS)
        if value is None:
            raise UserErrorException(
                f"HyperDriveConfig: max_total_runs is needed with {type(sampling).__name__} (how many child runs "
                "at most), e.g. max_total_runs=20."
            )
        return _bounded("max_total_runs", value, 1, MAX_TOTAL_RUNS)

    def _check_policy(self) -> None:
        if not isinstance(self.policy, EarlyTerminationPolicy):
            raise UserErrorException(
                "HyperDriveConfig: policy must be BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, "
                f"NoTerminationPolicy or None, not {type(self.policy).__name__}."
            )
        if isinstance(self.hyperparameter_sampling, BayesianParameterSampling) and not isinstance(
            self.policy, NoTerminationPolicy
        ):
            raise UserErrorException(
                f"HyperDriveConfig: BayesianParameterSampling does not take an early termination policy (got "
                f"{self.policy!r}): each child's result informs the next draw, so every child runs to its end. "
                "Give policy=None, or use RandomParameterSampling with the policy."
            )

    @property
    def source_directory(self) -> str | None:
        obj = self.run_config or self.estimator
        return getattr(obj, "source_directory", None)

    @property
    def entry_script(self) -> str:
        return self.run_config.script if self.run_config is not None else self.estimator.entry_script

    def to_spec(self) -> dict[str, Any]:
        """The sweep as plan data (what the execution layer runs)."""
        return {
            "sampling": self.hyperparameter_sampling.to_spec(),
            "policy": self.policy.to_spec(),
            "primary_metric_name": self.primary_metric_name,
            "primary_metric_goal": self.primary_metric_goal.value,
            "max_total_runs": self.max_total_runs,
            "max_concurrent_runs": self.max_concurrent_runs,
            "max_duration_minutes": self.max_duration_minutes,
        }

    def __repr__(self) -> str:
        return (
            f"HyperDriveConfig({self.hyperparameter_sampling!r}, primary_metric_name={self.primary_metric_name!r}, "
            f"goal={self.primary_metric_goal.value}, max_total_runs={self.max_total_runs}, "
            f"max_concurrent_runs={self.max_concurrent_runs}, policy={self.policy!r})"
        )


def _goal(goal: Any) -> PrimaryMetricGoal:
    try:
        return PrimaryMetricGoal(goal.value if isinstance(goal, PrimaryMetricGoal) else str(goal).upper())
    except ValueError:
        raise UserErrorException(
            f"HyperDriveConfig: primary_metric_goal={goal!r}; use PrimaryMetricGoal.MAXIMIZE or "
            "PrimaryMetricGoal.MINIMIZE."
        ) from None
