"""AdlaStep: a SQL (or U-SQL) script over the step's inputs, written into its outputs.

Azure Data Lake Analytics was retired on 2024-02-29; the step keeps its job — SQL over files
in the lake — and runs the script on DuckDB embedded in the worker (the default) or on an
Airflow SQL connection named by the compute target. ``@@name@@`` in the script is replaced by
the path of the input or output called ``name``, or by ``params[name]``.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.steps.python_script_step import encode_params, script_problems

__all__ = ["AdlaStep", "priority_weight"]

#: ADLA's default job priority; lower numbers ran first.
DEFAULT_PRIORITY = 1000


def priority_weight(priority: int) -> int:
    """ADLA priority (lower runs first, default 1000) as Airflow priority_weight (higher runs first)."""
    return max(1, DEFAULT_PRIORITY + 1 - int(priority))


def _positive(value: Any, what: str, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserErrorException(f"AdlaStep {name!r}: {what} must be a positive int, got {value!r}.")
    return value


class AdlaStep(PipelineStep):
    """v1's ``AdlaStep(script_name, name=None, inputs=None, outputs=None, params=None,
    degree_of_parallelism=None, priority=None, runtime_version=None, compute_target=None,
    source_directory=None, allow_reuse=True, version=None, hash_paths=None)``.

    ``degree_of_parallelism`` becomes DuckDB's thread count; ``priority`` the task's Airflow
    priority_weight; ``runtime_version`` is recorded (there is no ADLA runtime to pick).
    """

    step_kind = "adla"
    operator_class = "airflow_azml.provider.operators.adla.AdlaStepOperator"

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        inputs: list | None = None,
        outputs: list | None = None,
        params: dict | None = None,
        degree_of_parallelism: int | None = None,
        priority: int | None = None,
        runtime_version: str | None = None,
        compute_target: Any = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: list | None = None,
    ):
        if not script_name or not isinstance(script_name, str):
            raise UserErrorException(
                f"AdlaStep needs script_name, the SQL/U-SQL script to run (got {script_name!r})."
            )
        step_name = name or script_name
        self.script_name = script_name
        self.degree_of_parallelism = _positive(degree_of_parallelism, "degree_of_parallelism", step_name)
        self.priority = _positive(priority, "priority", step_name)
        self.runtime_version = runtime_version
        super().__init__(
            step_name, inputs, outputs, None, compute_target, allow_reuse, version, source_directory, params
        )
        self._params_plan = encode_params(self)

    def known_names(self) -> list[str]:
        """Every name a ``@@name@@`` may use: inputs, outputs and params."""
        return sorted({d.name for d in self.inputs} | {d.name for d in self.outputs} | set(self.params))

    def check(self, workspace: Any) -> list[str]:
        """The script exists, its placeholders all have values, and U-SQL stays inside the subset."""
        problems = script_problems(self, self.script_name)
        spec = (
            workspace._compute_specs.get(self.compute_target, {}) if workspace and self.compute_target else {}
        )
        if spec and spec.get("type") != "ADLAnalytics":
            problems.append(
                f"Step {self.name!r}: compute target {self.compute_target!r} is of type {spec.get('type')!r}; an "
                "AdlaStep needs an AdlaCompute target (AdlaCompute.attach_configuration(conn_id=...) or none)."
            )
        if problems:
            return problems
        return self._script_problems((self.source_directory / self.script_name).read_text())

    def _script_problems(self, script: str) -> list[str]:
        from airflow_azml.runtime.sql import SqlScriptError, is_usql, substitute, translate_usql

        where = f"Step {self.name!r}: "
        values = {n: f"/azml/{n}" for n in self.known_names()}
        try:
            text = substitute(script, values, script_name=self.script_name)
            if is_usql(text):
                translate_usql(text)
        except SqlScriptError as exc:
            return [where + str(exc)]
        return []

    def plan_fields(self) -> dict[str, Any]:
        return {
            "script_name": self.script_name,
            "params": self._params_plan,
            "degree_of_parallelism": self.degree_of_parallelism,
            "priority": self.priority,
            "runtime_version": self.runtime_version,
        }
