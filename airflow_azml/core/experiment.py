"""Experiment: a named series of pipeline runs (the DAG id on Airflow)."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException, did_you_mean

__all__ = ["Experiment"]


class Experiment:
    """``Experiment(workspace, name)``; ``submit(pipeline, pipeline_parameters=...)`` starts a run."""

    def __init__(self, workspace: Any, name: str, **_: Any):
        self.workspace = workspace
        self.name = name

    def submit(
        self,
        config: Any,
        tags: dict | None = None,
        pipeline_parameters: dict | None = None,
        continue_on_step_failure: bool | None = None,
        regenerate_outputs: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Run ``config`` (a Pipeline, a ScriptRunConfig, a PublishedPipeline, or a PipelineEndpoint with its
        default or ``pipeline_version=``) and return its run."""
        from airflow_azml.compiler import compile_pipeline
        from airflow_azml.pipeline.core.pipeline import Pipeline

        if hasattr(config, "to_step"):
            config = Pipeline(self.workspace, [config.to_step()])
        if not isinstance(config, Pipeline):
            if hasattr(config, "get_pipeline"):  # a PipelineEndpoint
                return config.submit(
                    self.name, pipeline_parameters, pipeline_version=kwargs.get("pipeline_version")
                )
            if hasattr(config, "submit"):
                return config.submit(self.workspace, self.name, pipeline_parameters)
            raise UserErrorException(
                f"Experiment.submit takes a Pipeline or ScriptRunConfig, not {config!r}."
            )
        plan = compile_pipeline(config, self.name)
        conf = run_conf(plan, pipeline_parameters, continue_on_step_failure, regenerate_outputs)
        _save_datasets(self.workspace, config, pipeline_parameters)
        from airflow_azml.pipeline.core.backends import submit_plan

        return submit_plan(self, plan, conf)

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"


def _save_datasets(workspace: Any, pipeline: Any, pipeline_parameters: dict | None) -> None:
    """Datasets given to a run keep an id that ``Dataset.get_by_id`` (and REST bodies) resolve, as in v1."""
    from airflow_azml._lazy import loaded

    if not loaded("airflow_azml.data.dataset", "AbstractDataset"):
        return  # no dataset object exists in this process
    from airflow_azml.data.saved import save_datasets

    defaults = (p.default_value for p in pipeline.parameters().values())
    save_datasets(workspace, [*(pipeline_parameters or {}).values(), *defaults])


def run_conf(
    plan: dict[str, Any],
    pipeline_parameters: dict | None,
    continue_on_step_failure: bool | None,
    regenerate_outputs: bool,
) -> dict[str, Any]:
    """The DAG run conf: parameter values (checked by name and type now) plus run options."""
    from airflow_azml.compiler.plan import param_default
    from airflow_azml.execution.params import coerce_value

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
