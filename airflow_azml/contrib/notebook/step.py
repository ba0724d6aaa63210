"""NotebookRunnerStep: a Jupyter notebook as a pipeline step, executed with papermill.

It compiles to the plan of a PythonScriptStep whose script is the notebook: the step's
process (``airflow_azml.runtime.launch``) sees the ``.ipynb`` and runs it through
``airflow_azml.runtime.notebook``. Inputs and outputs arrive as papermill parameters named
after them (local paths), ``params`` as parameters too (pipeline parameters resolved, with
their types) and as ``AML_PARAMETER_<name>`` variables. The executed notebook is kept as the
output ``output_notebook_pipeline_data_name`` when given, else as the step's file
``outputs/<output notebook>``; its text is printed at the end of the step log.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_azml.contrib.notebook.run_config import NotebookRunConfig
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.core.pipeline_data import PipelineData
from airflow_azml.pipeline.steps.python_script_step import PythonScriptStep

__all__ = ["NotebookRunnerStep"]


class NotebookRunnerStep(PythonScriptStep):
    """``NotebookRunnerStep(name=None, notebook_run_config=None, runconfig=None, compute_target=None,
    params=None, inputs=None, outputs=None, allow_reuse=True, version=None,
    output_notebook_pipeline_data_name=None)``."""

    def __init__(
        self,
        name: str | None = None,
        notebook_run_config: NotebookRunConfig | None = None,
        runconfig: Any = None,
        compute_target: Any = None,
        params: dict | None = None,
        inputs: list | None = None,
        outputs: list | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        output_notebook_pipeline_data_name: str | None = None,
        runconfig_pipeline_params: dict | None = None,
    ):
        cfg = notebook_run_config
        if not isinstance(cfg, NotebookRunConfig):
            raise UserErrorException(
                f"NotebookRunnerStep {name!r} needs notebook_run_config=NotebookRunConfig(source_directory=..., "
                f"notebook=...), not {cfg!r}."
            )
        runconfig = runconfig if runconfig is not None else cfg.run_config
        if compute_target is None and getattr(runconfig, "target", "local") not in (None, "local"):
            compute_target = runconfig.target
        outputs = list(outputs or [])
        self.output_notebook_data = output_notebook_pipeline_data_name
        if output_notebook_pipeline_data_name:
            outputs.append(
                PipelineData(
                    output_notebook_pipeline_data_name,
                    is_directory=True,
                    pipeline_output_name=output_notebook_pipeline_data_name,
                )
            )
        self.notebook_run_config = cfg
        super().__init__(
            cfg.notebook,
            name=name or cfg.notebook,
            compute_target=compute_target,
            runconfig=runconfig,
            runconfig_pipeline_params=runconfig_pipeline_params,
            inputs=inputs,
            outputs=outputs,
            params=params,
            source_directory=cfg.source_directory,
            allow_reuse=allow_reuse,
            version=version,
        )
        self._name_defaulted = name is None
        self._args = self._runner_arguments()

    def _runner_arguments(self) -> list[Any]:
        """What the notebook runner gets: handler options, where the output notebook goes, parameters."""
        cfg = self.notebook_run_config
        args: list[Any] = ["--azml-handler", json.dumps(cfg.handler.to_spec())]
        args += ["--azml-output-notebook", cfg.output_notebook]
        if self.output_notebook_data:
            args += ["--azml-output-dir", {"$output": self.output_notebook_data}]
        literals = dict(cfg.parameters)
        typed: list[Any] = []
        for decl in self.inputs:
            if decl.mode != "direct" and not decl.tabular:  # tabular data comes as run.input_datasets[name]
                typed += ["--azml-param", decl.name, "path", {"$input": decl.name}]
        for decl in self.outputs:
            if decl.name != self.output_notebook_data:
                typed += ["--azml-param", decl.name, "path", {"$output": decl.name}]
        for key, value in self.params.items():
            if isinstance(value, PipelineParameter):
                typed += ["--azml-param", key, value.param_type, {"$param": value.name}]
            else:
                literals[key] = value
        return [*args, "--azml-parameters", json.dumps(literals), *typed]

    def plan_fields(self) -> dict[str, Any]:
        fields = super().plan_fields()
        fields["notebook"] = {
            "notebook": self.notebook_run_config.notebook,
            "output_notebook": self.notebook_run_config.output_notebook,
            "output_notebook_data": self.output_notebook_data,
        }
        return fields
