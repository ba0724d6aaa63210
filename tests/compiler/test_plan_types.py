"""compiler/types.py describes the plan the compiler writes: every key it declares required is
there, and every key the compiler writes is declared (a step kind's own plan_fields aside)."""

from __future__ import annotations

import typing
from typing import Any

from airflow_azml.compiler import compile_pipeline
from airflow_azml.compiler.types import InputSpec, OutputSpec, ParameterSpec, Plan, RunRecord, StepSpec
from airflow_azml.execution.lifecycle import step_record
from tests.compiler.test_plan import pipeline  # noqa: F401 - the fixture


def _check(data: dict[str, Any], shape: Any, extra: set[str] = frozenset()) -> None:
    missing = shape.__required_keys__ - set(data)
    assert not missing, f"{shape.__name__} lacks {sorted(missing)}"
    unknown = set(data) - shape.__required_keys__ - shape.__optional_keys__ - extra
    assert not unknown, f"{shape.__name__} does not declare {sorted(unknown)}"


def test_the_compiled_plan_has_the_declared_shape(pipeline):  # noqa: F811
    plan = compile_pipeline(pipeline, "demo_exp")
    _check(plan, Plan)
    for spec in plan["parameters"].values():
        _check(spec, ParameterSpec)
    for step in plan["steps"].values():
        kind_keys = set(pipeline_step(pipeline, step["task_id"]).plan_fields())
        _check(step, StepSpec, kind_keys)
        for item in step["inputs"]:
            _check(item, InputSpec)
        for item in step["outputs"]:
            _check(item, OutputSpec)
    record = step_record(next(iter(plan["steps"].values())), "manual__1", 1, 0.0)
    _check(record, RunRecord)
    assert typing.get_type_hints(Plan)["steps"] == dict[str, StepSpec]


def pipeline_step(pipe: Any, task_id: str) -> Any:
    return next(s for s in pipe.steps if s.task_id == task_id)
