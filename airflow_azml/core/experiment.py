"""Experiment: a named series of pipeline runs (the DAG id on Airflow)."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.run_conf import run_conf

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

    @staticmethod
    def list(workspace: Any, experiment_name: str | None = None, **_: Any) -> list[Experiment]:
        """The experiments that have runs recorded in ``workspace`` (one per pipeline DAG id)."""
        names = recorded_experiments(workspace)
        if experiment_name is not None:
            names = [n for n in names if n == experiment_name]
        return [Experiment(workspace, n) for n in names]

    def _run(self, states: Any, plan: dict[str, Any]) -> Any:
        """The PipelineRun of this experiment that the orchestrator port's ``states`` and ``plan`` describe."""
        from airflow_azml.pipeline.core.run import PipelineRun

        return PipelineRun(self, backend=states, plan=plan)

    def get_runs(self, **_: Any) -> Any:
        """This experiment's pipeline runs, newest first (v1 returned a generator too)."""
        from airflow_azml.pipeline.core.run import PipelineRun

        store = self.workspace.get_default_datastore().store
        prefix = f"{RUNS_FOLDER}/{self.name}"
        slugs = {rel[len(prefix) + 1 :].split("/", 1)[0] for rel in _listed(store, prefix)}
        for slug in sorted(slugs, reverse=True):
            yield PipelineRun(self, slug)

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, workspace={self.workspace.name!r})"


#: where run records live on the default datastore (execution.records.RUNS_PREFIX; not imported:
#: the model does not depend on the execution layer)
RUNS_FOLDER = ".azml/runs"


def _listed(store: Any, prefix: str) -> list[str]:
    return store.list_files(prefix) if store.exists(prefix) else []


def recorded_experiments(workspace: Any) -> list[str]:
    """Names of the experiments with run records on the workspace's default datastore, sorted."""
    store = workspace.get_default_datastore().store
    local = store.local_path(RUNS_FOLDER)
    if local is not None:
        return sorted(p.name for p in local.iterdir() if p.is_dir()) if local.is_dir() else []
    return sorted({rel[len(RUNS_FOLDER) + 1 :].split("/", 1)[0] for rel in _listed(store, RUNS_FOLDER)})


class Experiments(dict):
    """``ws.experiments``: name -> Experiment for the recorded ones; any other name gives its Experiment too,
    because on Airflow an experiment exists as soon as a run names it (a REST submit's ExperimentName)."""

    def __init__(self, workspace: Any):
        super().__init__((n, Experiment(workspace, n)) for n in recorded_experiments(workspace))
        self._workspace = workspace

    def __missing__(self, name: str) -> Experiment:
        return Experiment(self._workspace, name)


def _save_datasets(workspace: Any, pipeline: Any, pipeline_parameters: dict | None) -> None:
    """Datasets given to a run keep an id that ``Dataset.get_by_id`` (and REST bodies) resolve, as in v1."""
    from airflow_azml._lazy import loaded

    if not loaded("airflow_azml.data.dataset", "AbstractDataset"):
        return  # no dataset object exists in this process
    from airflow_azml.data.saved import save_datasets

    defaults = (p.default_value for p in pipeline.parameters().values())
    save_datasets(workspace, [*(pipeline_parameters or {}).values(), *defaults])
