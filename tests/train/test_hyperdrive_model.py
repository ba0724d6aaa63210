"""HyperDrive's pure model: expressions, samplings, policies and the config's v1 rules."""

from __future__ import annotations

import pytest

from airflow_azml.core.script_run_config import ScriptRunConfig
from airflow_azml.exceptions import UserErrorException
from airflow_azml.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    loguniform,
    normal,
    qnormal,
    quniform,
    randint,
    uniform,
)
from airflow_azml.train.hyperdrive.policy import evaluate
from airflow_azml.train.hyperdrive.sampling import make_sampler


def _draw(sampling, n, seed=None, maximize=True):
    sampler = make_sampler(sampling.to_spec(), maximize, seed)
    out = []
    for _ in range(n):
        point = sampler.next()
        if point is None:
            break
        out.append(point)
    return out


def test_expressions_are_v1_lists():
    assert choice(1, 2, 3) == ["choice", [[1, 2, 3]]]
    assert choice([0.1, 0.2]) == ["choice", [[0.1, 0.2]]]
    assert choice(range(2)) == ["choice", [[0, 1]]]
    assert uniform(0, 1) == ["uniform", [0, 1]]
    assert quniform(0, 10, 2) == ["quniform", [0, 10, 2]]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: choice(), "at least one option"),
        (lambda: randint(0), "upper must be a whole number >= 1"),
        (lambda: uniform(1, 1), "first bound must be below"),
        (lambda: quniform(0, 1, 0), "q=0 must be > 0"),
        (lambda: normal(0, -1), "sigma=-1 must be > 0"),
        (lambda: loguniform("a", 1), "must be a finite number"),
    ],
)
def test_bad_expressions_are_refused(make, words):
    with pytest.raises(UserErrorException, match=words):
        make()


def test_grid_enumerates_every_combination_in_order():
    grid = GridParameterSampling({"--a": choice(1, 2), "--b": choice("x", "y", "z")})
    points = _draw(grid, 100)
    assert points == [{"--a": a, "--b": b} for a in (1, 2) for b in ("x", "y", "z")]


def test_grid_takes_only_choice():
    with pytest.raises(
        UserErrorException, match=r"'--lr' uses uniform\(\); GridParameterSampling takes only choice"
    ):
        GridParameterSampling({"--lr": uniform(0, 1)})


def test_random_is_reproducible_with_a_seed_and_within_bounds():
    space = {
        "lr": loguniform(-6, -1),
        "layers": randint(4),
        "drop": quniform(0, 1, 0.25),
        "m": qnormal(0, 1, 1),
    }
    seeded = RandomParameterSampling(space, properties={"rndseed": 7})
    first, again = _draw(seeded, 10), _draw(seeded, 10)
    assert first == again
    assert first != _draw(RandomParameterSampling(space, properties={"rndseed": 8}), 10)
    for p in first:
        assert 2.4e-3 <= p["lr"] <= 0.368 and p["layers"] in range(4) and p["drop"] in (0, 0.25, 0.5, 0.75, 1)


def test_random_over_choices_never_repeats_and_runs_out():
    points = _draw(RandomParameterSampling({"a": choice(1, 2), "b": choice(3, 4)}), 10, seed=1)
    assert len(points) == 4 and len({tuple(p.values()) for p in points}) == 4


def test_bayesian_takes_only_some_expressions_and_no_policy():
    with pytest.raises(
        UserErrorException, match="BayesianParameterSampling takes only choice, uniform, quniform"
    ):
        BayesianParameterSampling({"lr": loguniform(-3, -1)})
    with pytest.raises(UserErrorException, match="does not take an early termination policy"):
        HyperDriveConfig(
            run_config=ScriptRunConfig(script="train.py"),
            hyperparameter_sampling=BayesianParameterSampling({"x": uniform(0, 1)}),
            primary_metric_name="acc",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
            max_total_runs=4,
            policy=BanditPolicy(slack_factor=0.1),
        )


def test_bayesian_learns_from_results():
    sampling = BayesianParameterSampling({"x": uniform(-3, 3)})
    sampler = make_sampler(sampling.to_spec(), maximize=False, seed=3)
    values = []
    for _ in range(30):
        point = sampler.next()
        values.append((point["x"] - 1) ** 2)
        sampler.tell(point, values[-1])
    assert min(values[20:]) < 0.05 and min(values) < min(values[:5])


def _config(**kw):
    base = dict(
        run_config=ScriptRunConfig(script="train.py"),
        hyperparameter_sampling=RandomParameterSampling({"x": uniform(0, 1)}),
        primary_metric_name="acc",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=8,
    )
    return HyperDriveConfig(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"run_config": None}, "exactly one of run_config"),
        ({"max_total_runs": 0}, "max_total_runs=0 must be a whole number from 1 to 1000"),
        ({"max_total_runs": None}, "max_total_runs is needed with RandomParameterSampling"),
        ({"max_concurrent_runs": 101}, "max_concurrent_runs=101"),
        ({"primary_metric_goal": "up"}, "PrimaryMetricGoal.MAXIMIZE or"),
        ({"primary_metric_name": ""}, "primary_metric_name must name the metric"),
        ({"policy": "bandit"}, "policy must be BanditPolicy"),
        ({"hyperparameter_sampling": {"x": 1}}, "hyperparameter_sampling must be"),
    ],
)
def test_config_refuses_what_v1_refused(kw, words):
    with pytest.raises(UserErrorException, match=words):
        _config(**kw)


def test_config_defaults_and_spec():
    cfg = _config(
        hyperparameter_sampling=GridParameterSampling({"x": choice(1, 2, 3)}),
        max_total_runs=None,
        policy=None,
    )
    spec = cfg.to_spec()
    assert spec["max_total_runs"] == 3 and spec["max_concurrent_runs"] == 3
    assert spec["policy"]["name"] == "none" and spec["primary_metric_goal"] == "MAXIMIZE"
    assert isinstance(cfg.policy, NoTerminationPolicy)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BanditPolicy(slack_factor=0.1, slack_amount=0.2),
        lambda: BanditPolicy(),
        lambda: BanditPolicy(evaluation_interval=0, slack_factor=0.1),
        lambda: TruncationSelectionPolicy(truncation_percentage=100),
        lambda: MedianStoppingPolicy(delay_evaluation=-1),
    ],
)
def test_bad_policies_are_refused(make):
    with pytest.raises(UserErrorException):
        make()


BANDIT = BanditPolicy(evaluation_interval=2, slack_factor=0.1).to_spec()
BANDIT_AMOUNT = BanditPolicy(slack_amount=0.2, delay_evaluation=3).to_spec()
MEDIAN = MedianStoppingPolicy().to_spec()
TRUNC = TruncationSelectionPolicy(truncation_percentage=50).to_spec()


@pytest.mark.parametrize(
    ("spec", "series", "maximize", "expected"),
    [
        # Bandit at interval 4 (evaluation_interval=2): 0.71 < 0.83 / 1.1 = 0.7545
        (
            BANDIT,
            {"c": [0.5, 0.6, 0.7, 0.71], "b": [0.6, 0.7, 0.8, 0.83]},
            True,
            "Bandit: 0.71 < best 0.83 / (1 + 0.1) = 0.7545 at interval 4",
        ),
        (BANDIT, {"c": [0.5, 0.6, 0.7, 0.76], "b": [0.6, 0.7, 0.8, 0.83]}, True, None),  # within slack
        (BANDIT, {"c": [0.5, 0.6, 0.1], "b": [0.6, 0.7, 0.8, 0.83]}, True, None),  # interval 3: not due
        (
            BANDIT,
            {"c": [9, 9, 9, 2.3], "b": [1, 1, 1, 2.0]},
            False,
            "Bandit: 2.3 > best 2 × (1 + 0.1) = 2.2 at interval 4",
        ),
        (BANDIT_AMOUNT, {"c": [0.1, 0.1], "b": [0.9, 0.9]}, True, None),  # delayed to interval 3
        (
            BANDIT_AMOUNT,
            {"c": [0.1, 0.1, 0.5], "b": [0.9, 0.9, 0.9]},
            True,
            "Bandit: 0.5 < best 0.9 - 0.2 = 0.7 at interval 3",
        ),
        (
            MEDIAN,
            {"c": [0.2, 0.3], "b": [0.8, 0.9], "a": [0.5, 0.6]},
            True,
            "Median stopping: best 0.3 < median 0.55 of 3 running averages at interval 2",
        ),
        (MEDIAN, {"c": [0.5, 0.6], "b": [0.8, 0.9], "a": [0.2, 0.3]}, True, None),
        (MEDIAN, {"c": [0.1]}, True, None),  # alone: nothing to compare with
        (
            TRUNC,
            {"c": [0.1], "b": [0.9], "a": [0.5], "d": [0.7]},
            True,
            "Truncation: 0.1 is in the lowest 50% (2 of 4) at interval 1",
        ),
        (TRUNC, {"c": [0.7], "b": [0.9], "a": [0.5], "d": [0.1]}, True, None),
        (NoTerminationPolicy().to_spec(), {"c": [0.0], "b": [1.0]}, True, None),
    ],
)
def test_policy_decisions(spec, series, maximize, expected):
    assert evaluate(spec, "c", series, maximize) == expected


def test_truncation_can_exclude_finished_children():
    spec = TruncationSelectionPolicy(truncation_percentage=50, exclude_finished_jobs=True).to_spec()
    series = {"c": [0.5], "b": [0.9], "a": [0.1], "d": [0.2]}
    assert evaluate(spec, "c", series, True) is None  # 2 of 4 cut: a, d
    assert evaluate(spec, "c", series, True, frozenset({"a", "d"})) == (
        "Truncation: 0.5 is in the lowest 50% (1 of 2) at interval 1"
    )
