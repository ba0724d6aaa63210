"""The DAG run conf of a submission: parameter values checked by name and type, plus run options."""

from __future__ import annotations

from typing import Any

from airflow_azml.compiler.plan import param_default
from airflow_azml.exceptions import UserErrorException, did_you_mean
from airflow_azml.execution.params import coerce_value

__all__ = ["run_conf"]


def run_conf(
    plan: dict[str, Any],
    pipeline_parameters: dict | None,
    continue_on_step_failure: bool | None,
    regenerate_outputs: bool,
) -> dict[str, Any]:
    """The DAG run conf: parameter values (checked by name and type now) plus run options."""
    known = plan["parameters"]
    conf: dict[str, Any] = {}
    for name, value in (pipeline_parameters or {}).items():
        if name not in known:
            raise UserErrorException(
                f"Unknown pipeline parameter {name!r}.{did_you_mean(name, known)} This pipeline's parameters: "
                f"{', '.join(sorted(known)) or '(none)'}."
            )
        conf[name] = coerce_value(name, known[name]["type"], param_default(value))
    if regenerate_outputs:
        conf["regenerate_outputs"] = True
    if continue_on_step_failure is not None:
        conf["continue_on_step_failure"] = bool(continue_on_step_failure)
    return conf
