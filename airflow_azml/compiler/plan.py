"""Compile a Pipeline into a Plan: pure data an Airflow renderer (or anything else) can run.

No I/O happens here: no hashing, no datastore listing, no registry reads. The plan's shape (Plan,
StepSpec, InputSpec, OutputSpec, ParameterSpec) is written down in ``compiler/types.py``.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from airflow_azml.exceptions import UserErrorException, is_word
from airflow_azml.pipeline.core._ports import InputDecl, OutputDecl, data_types
from airflow_azml.pipeline.core.pipeline_data import PipelineData

if TYPE_CHECKING:
    from airflow_azml.compiler.types import InputSpec, OutputSpec, ParameterSpec, Plan, StepSpec
    from airflow_azml.data.data_reference import DataReference

__all__ = ["compile_pipeline", "plan_to_json", "load_plan", "PLAN_FORMAT", "dataset_ref", "param_default"]

PLAN_FORMAT = 1


def _valid_dag_id(dag_id: Any) -> bool:
    """Letters, digits, '_', '-' and '.', at most 250 (Airflow's rule; no regex compile per parse)."""
    return isinstance(dag_id, str) and len(dag_id) <= 250 and is_word(dag_id, also=".-")


def compile_pipeline(pipeline: Any, dag_id: str) -> Plan:
    """The Plan of ``pipeline`` under ``dag_id`` (which is also the experiment name)."""
    if not _valid_dag_id(dag_id):
        raise UserErrorException(
            f"Experiment/DAG id {dag_id!r} is invalid: use letters, digits, '_', '-' and '.' (max 250)."
        )
    upstream, order = pipeline.ordered_graph()
    ws = pipeline.workspace
    by_id = {s.task_id: s for s in pipeline.steps}
    steps = {tid: _compile_step(by_id[tid], upstream[tid], ws) for tid in order}
    return {
        "format": PLAN_FORMAT,
        "dag_id": dag_id,
        "description": pipeline.description,
        "workspace": ws.to_spec(),
        "parameters": {n: _param_spec(p) for n, p in pipeline.parameters().items()},
        "steps": steps,
        # built under the compat switch: its steps' scripts import azureml.*, wherever the plan is rendered
        **({"compat": True} if _compat_enabled() else {}),
    }


def _compat_enabled() -> bool:
    """The compat switch is on in this process (only if its module was imported and enable() called)."""
    compat = sys.modules.get("airflow_azml.compat")
    return compat is not None and compat.is_enabled()


def _compile_step(step: Any, upstream: list[str], ws: Any) -> StepSpec:
    spec: StepSpec = {
        "name": step.name,
        "task_id": step.task_id,
        "kind": step.step_kind,
        "operator": step.operator_class,
        "compute_target": step.compute_target,
        "routing": _routing(step.compute_target, ws),
        "upstream": upstream,
        "source_directory": str(step.source_directory),
        "arguments": step._args,
        "allow_reuse": step.allow_reuse,
        "version": step.version,
        "inputs": [_input(d) for d in step.inputs],
        "outputs": [_output(d, ws) for d in step.outputs],
    }
    spec.update(step.plan_fields())  # type: ignore[typeddict-item]  # a kind's own keys
    return spec


def _routing(target: str | None, ws: Any) -> dict[str, Any]:
    if target is None or ws is None:
        return {}
    spec = ws._compute_specs.get(target, {})
    from airflow_azml.core.compute import ROUTING_KEYS

    return {k: spec[k] for k in ROUTING_KEYS if spec.get(k) is not None}


def _input(decl: InputDecl) -> InputSpec:
    out: InputSpec = {
        "name": decl.name,
        "source": decl.source,
        "mode": decl.mode,
        "path_on_compute": decl.path_on_compute,
        "overwrite": decl.overwrite,
    }
    if decl.tabular:
        out["tabular"] = decl.tabular
    if decl.source == "step_output":
        producer = decl.obj._producers[0]
        out.update(step=producer.task_id, output=decl.obj.name)
    elif decl.source == "datastore":
        ref: DataReference = decl.obj
        out.update(datastore=ref.datastore_name, path=ref.path_on_datastore)
    elif decl.source == "dataset":
        out["dataset"] = dataset_ref(decl.obj)
    else:
        out["param"] = decl.obj.name
    return out


def dataset_ref(dataset: Any) -> dict[str, Any]:
    """A dataset as plan data: a registered name+version (resolved at run time) or a definition."""
    from airflow_azml.data.lazy import LazyDataset

    if isinstance(dataset, LazyDataset) or (dataset.name and dataset.version):
        return {"name": dataset.name, "version": str(dataset.version)}
    return {"definition": dataset.definition}


def _output(decl: OutputDecl, ws: Any) -> OutputSpec:
    obj = decl.obj
    if not isinstance(obj, PipelineData):  # an OutputFileDatasetConfig
        return {
            "name": decl.name,
            "kind": "output_dataset",
            "datastore": obj.datastore_name,
            "mode": obj.mode,
            "path_on_compute": obj.source,
            "overwrite": obj.upload_overwrite,
            "source_globs": obj.source_globs,
            "destination": obj.destination_path,
            "register": obj.registration,
            "tabular": obj.tabular,
        }
    return {
        "name": decl.name,
        "kind": "pipeline_data",
        "datastore": obj.datastore_name,
        "mode": obj.output_mode,
        "path_on_compute": obj.output_path_on_compute,
        "overwrite": obj.output_overwrite,
        "is_directory": obj.is_directory,
        "pipeline_output_name": obj.pipeline_output_name,
    }


def param_default(value: Any) -> Any:
    if isinstance(value, data_types("datapath", "DataPath")):
        return value.to_json()
    if isinstance(value, data_types("dataset", "AbstractDataset")):
        return dataset_ref(value)
    return value


def _param_spec(param: Any) -> ParameterSpec:
    return {
        "type": param.param_type,
        "default": param_default(param.default_value),
        "description": param.description,
    }


def plan_to_json(plan: Plan | dict[str, Any]) -> str:
    return json.dumps(plan, indent=1, sort_keys=False, default=str)


def load_plan(text: str) -> Plan:
    plan = json.loads(text)
    if plan.get("format") != PLAN_FORMAT:
        raise UserErrorException(
            f"Plan format {plan.get('format')!r} is not supported (expected {PLAN_FORMAT})."
        )
    return plan
