"""The shapes of the plan, its step specs and a step's run record, as TypedDicts (issue #13).

They describe the JSON the compiler writes and the lifecycle records, without changing it: a
plan is still a plain dict (``plan_to_json`` / ``load_plan`` round-trip it), these names only
let annotations say which dict a function takes. Keys a step kind adds (``plan_fields()``:
``script_name``, ``hyperdrive``, ``parallel_run``, ``databricks``...) are not listed: the
TypedDicts are ``total=False`` where the compiler omits keys, and a kind's own keys pass
through untyped. Import them under ``TYPE_CHECKING``: a DAG parse never loads this module.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = [
    "ParameterSpec",
    "InputSpec",
    "OutputSpec",
    "StepSpec",
    "Plan",
    "RunRecord",
]


class ParameterSpec(TypedDict):
    """``plan["parameters"][name]``: a PipelineParameter."""

    type: str
    default: Any
    description: str | None


class _InputBase(TypedDict):
    name: str
    source: Literal["step_output", "datastore", "dataset", "datapath_param", "dataset_param"]
    mode: str
    path_on_compute: str | None
    overwrite: bool | None


class InputSpec(_InputBase, total=False):
    """One entry of ``step["inputs"]``; which optional keys are there depends on ``source``."""

    tabular: dict[str, Any]
    step: str  # step_output: the producing step's task id
    output: str  # step_output: that step's output name
    datastore: str  # datastore: a DataReference
    path: str
    dataset: dict[str, Any]  # dataset: {"name", "version"} or {"definition"}
    param: str  # *_param: the PipelineParameter's name


class _OutputBase(TypedDict):
    name: str
    kind: Literal["pipeline_data", "output_dataset"]
    datastore: str | None
    mode: str
    path_on_compute: str | None
    overwrite: bool | None


class OutputSpec(_OutputBase, total=False):
    """One entry of ``step["outputs"]``: PipelineData or an OutputFileDatasetConfig."""

    is_directory: bool
    pipeline_output_name: str | None
    source_globs: Any
    destination: Any
    register: Any
    tabular: Any


class _StepBase(TypedDict):
    name: str
    task_id: str
    kind: str
    operator: str
    compute_target: str | None
    routing: dict[str, Any]
    upstream: list[str]
    source_directory: str
    arguments: list[Any]
    allow_reuse: bool
    version: str | None
    inputs: list[InputSpec]
    outputs: list[OutputSpec]


class StepSpec(_StepBase, total=False):
    """``plan["steps"][task_id]``; ``run_class`` names a StepRun subclass; a kind adds its own keys."""

    run_class: str


class _PlanBase(TypedDict):
    format: int
    dag_id: str
    description: str | None
    workspace: dict[str, Any]
    parameters: dict[str, ParameterSpec]
    steps: dict[str, StepSpec]


class Plan(_PlanBase, total=False):
    """A compiled pipeline (``compile_pipeline``): pure JSON data, rendered into one Airflow DAG."""

    compat: bool  # compiled under the compat switch: the steps' scripts import azureml.*


class _RecordBase(TypedDict):
    name: str
    task_id: str
    kind: str
    status: str
    start: float
    try_number: int
    host: str
    worker: str | None
    compute_target: str | None
    run_id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class RunRecord(_RecordBase, total=False):
    """A step attempt's run record on the default datastore (``execution.lifecycle.step_record``);
    the lifecycle and the step kinds add the keys below as the attempt goes on."""

    run_class: str
    end: float
    error: str
    reused: bool
    reused_from: Any
    fingerprint: str
    run_reason: str
    metrics: dict[str, Any]
    parameters: dict[str, Any]
    logs: dict[str, Any]
