"""PipelineStep: what every step type shares (name, data, arguments, compute, reuse)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from airflow_azml.core._home import caller_dir
from airflow_azml.exceptions import UserErrorException, is_word
from airflow_azml.pipeline.core._ports import (
    InputDecl,
    OutputDecl,
    data_types,
    normalize_input,
    normalize_output,
    origin,
)
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.core.pipeline_data import (
    InputPortBinding,
    PipelineData,
    PipelineOutputFileDataset,
    PipelineOutputTabularDataset,
)

__all__ = ["PipelineStep", "task_id_for", "compute_name"]

_LITERALS = (bool, int, float, str)  # tuples, not ``X | Y``: a union is rebuilt on every call
_PIPELINE_DATA = (PipelineData, InputPortBinding, PipelineOutputFileDataset, PipelineOutputTabularDataset)


@functools.lru_cache(maxsize=1024)
def _join_resolved(base: Path, source_directory: str) -> Path:
    path = Path(source_directory).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def task_id_for(name: str) -> str:
    """Airflow task ids allow letters, digits, '_', '-' and '.'; everything else becomes '_'."""
    if not is_word(name, also=".-"):  # no regex when already valid
        name = re.sub(r"[^\w.-]+", "_", name)
    return name.strip("_") or "step"


def compute_name(compute_target: Any) -> str | None:
    """v1 takes a ComputeTarget, its name, or a (name, type) tuple."""
    if compute_target is None:
        return None
    if isinstance(compute_target, tuple):
        return str(compute_target[0])
    return str(getattr(compute_target, "name", compute_target))


class PipelineStep:
    """Base of every step. Subclasses set ``step_kind`` and add their fields to the plan."""

    step_kind = "base"
    #: the Airflow operator class that runs this step type (imported only by the renderer)
    operator_class = "airflow_azml.provider.operators.step.AzmlStepOperator"

    def __init__(
        self,
        name: str,
        inputs: list | None = None,
        outputs: list | None = None,
        arguments: list | None = None,
        compute_target: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
        source_directory: str | None = None,
        params: dict | None = None,
    ):
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException(f"A {type(self).__name__} needs a non-empty name (got {name!r}).")
        self.name = name
        self.task_id = task_id_for(name)
        self.compute_target = compute_name(compute_target)
        self._compute_obj = compute_target if hasattr(compute_target, "routing") else None
        self.allow_reuse = bool(allow_reuse)
        self.version = version
        self._source_dir_given = source_directory is not None
        self.source_directory = self._resolve_dir(source_directory)
        self._run_after: list[PipelineStep] = []
        self._inputs: list[InputDecl] = [normalize_input(i, name) for i in (inputs or [])]
        self._outputs: list[OutputDecl] = [normalize_output(o, name) for o in (outputs or [])]
        self.arguments = list(arguments or [])
        self._args = [self._encode_arg(a) for a in self.arguments]
        self.params = dict(params or {})
        self._check_names()
        for out in self._outputs:
            origin(out.obj)._producers.append(self)

    @staticmethod
    def _resolve_dir(source_directory: str | None) -> Path:
        base = caller_dir()
        if source_directory is None:
            return base
        return _join_resolved(base, str(source_directory))

    # -- data declarations -------------------------------------------------------------
    @property
    def inputs(self) -> list[InputDecl]:
        return self._inputs

    @property
    def outputs(self) -> list[OutputDecl]:
        return self._outputs

    def _find(self, obj: Any) -> tuple[str, str] | None:
        if isinstance(obj, tuple) and obj and isinstance(obj[0], PipelineParameter):
            obj = obj[0]
        ids = (id(obj), id(origin(obj)))
        for decl in self._outputs:
            if not decl.alias_ids.isdisjoint(ids):
                return "output", decl.name
        for decl in self._inputs:
            if ids[0] in decl.alias_ids:
                return "input", decl.name
        underlying = getattr(obj, "bind_object", getattr(obj, "pipeline_data", obj))
        for decl in self._inputs:
            if decl.source == "step_output" and origin(underlying) is decl.obj:
                return "input", decl.name
        return None

    def _encode_arg(self, arg: Any) -> Any:
        """An argument as plan data: literals as is, data and parameters as placeholders."""
        if isinstance(arg, _LITERALS):
            return arg
        if isinstance(arg, PipelineParameter) and arg.param_type not in ("datapath", "dataset"):
            return {"$param": arg.name}
        found = self._find(arg) or self._declare_from_argument(arg)
        return {f"${found[0]}": found[1]}

    def _declare_from_argument(self, arg: Any) -> tuple[str, str]:
        """v1 adds an OutputFileDatasetConfig / named dataset found only in arguments to the ports."""
        if isinstance(arg, data_types("dataset", "AbstractDataset")):
            raise UserErrorException(
                f"Step {self.name!r}: dataset {arg!r} is in arguments without a name; pass "
                "dataset.as_named_input('name') (and list it in inputs, or let arguments add it)."
            )
        if isinstance(arg, data_types("output_dataset_config", "OutputFileDatasetConfig")):
            self._outputs.append(normalize_output(arg, self.name))
            return "output", arg.name
        auto = data_types("dataset_consumption_config", "DatasetConsumptionConfig") + data_types(
            "output_dataset_config", "OutputTabularDatasetConfig"
        )
        if isinstance(arg, auto):
            self._inputs.append(normalize_input(arg, self.name))
            return "input", self._inputs[-1].name
        if isinstance(
            arg, (*_PIPELINE_DATA, PipelineParameter, tuple, *data_types("data_reference", "DataReference"))
        ):
            raise UserErrorException(
                f"Step {self.name!r}: {arg!r} is used in arguments but is not declared in the step's inputs or "
                "outputs. Add it to inputs=[...] (data the step reads) or outputs=[...] (data it writes)."
            )
        raise UserErrorException(
            f"Step {self.name!r}: argument {arg!r} of type {type(arg).__name__} is not supported; use str, "
            "int, float, bool, a PipelineParameter or declared data."
        )

    def _check_names(self) -> None:
        seen: dict[str, str] = {}
        for role, decls in (("input", self._inputs), ("output", self._outputs)):
            for d in decls:
                if d.name in seen:
                    raise UserErrorException(
                        f"Step {self.name!r}: the name {d.name!r} is used by two {seen[d.name]}/{role} ports; "
                        "give each input and output its own name (as_input('other_name') for inputs)."
                    )
                seen[d.name] = role

    # -- graph -------------------------------------------------------------------------
    def run_after(self, step: PipelineStep) -> None:
        """Run this step only after ``step`` finishes (a control edge, no data)."""
        if not isinstance(step, PipelineStep):
            raise UserErrorException(f"{self.name}.run_after() takes a step, not {step!r}.")
        self._run_after.append(step)

    def parameters(self) -> list[PipelineParameter]:
        """Every PipelineParameter this step uses (arguments, params, inputs)."""
        found = [a for a in self.arguments if isinstance(a, PipelineParameter)]
        found += [v for v in self.params.values() if isinstance(v, PipelineParameter)]
        found += [d.obj for d in self._inputs if isinstance(d.obj, PipelineParameter)]
        return found + self._extra_parameters()

    def _extra_parameters(self) -> list[PipelineParameter]:
        return []

    # -- hooks for subclasses ----------------------------------------------------------
    def check(self, workspace: Any) -> list[str]:
        """Problems only visible with the whole pipeline (missing files...), as sentences."""
        return []

    def plan_fields(self) -> dict[str, Any]:
        """Step-type-specific plan data (JSON-able)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
