"""Extra links on every pipeline step task: the pipeline view, and the step's outputs in it.

These links are the plugin's (``plugins/ui.py`` registers them with the step operators they belong
to), not the operators' own: Airflow's API server makes them when the UI asks, from the task
instance's ids and ``[api] base_url`` alone. An operator's own link would instead be computed by the
worker at the end of every task and stored as one XCom each (a request to the API and a database
write per link per task, ~8 ms each on a local run), for a URL the server can make by itself. The
pages they open are served by the plugin under ``UI_PREFIX``.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

__all__ = [
    "PipelineViewLink",
    "StepOutputsLink",
    "HyperDriveSweepLink",
    "UI_PREFIX",
    "STEP_OPERATORS",
    "pipeline_view_url",
]

#: where the plugin's pipeline pages are served (FastAPI app url_prefix)
UI_PREFIX = "/azml-ui"

#: the step operators whose tasks carry the pipeline links ("module:Class"; Airflow matches a serialized
#: task to a plugin link by its class's exact name and module, so subclasses are listed one by one)
STEP_OPERATORS = (
    "airflow_azml.provider.operators.step:AzmlStepOperator",
    "airflow_azml.provider.operators.step:PythonScriptStepOperator",
    "airflow_azml.provider.operators.step:EstimatorStepOperator",
    "airflow_azml.provider.operators.step:CommandStepOperator",
    "airflow_azml.provider.operators.adla:AdlaStepOperator",
    "airflow_azml.provider.operators.data_transfer:DataTransferStepOperator",
    "airflow_azml.provider.operators.parallel_run:ParallelRunStepOperator",
    "airflow_azml.provider.operators.hyperdrive:HyperDriveStepOperator",
)


class _PluginLink(BaseOperatorLink):
    """A link the API server makes for the tasks of :attr:`targets` (resolved when Airflow asks, so that
    this module never imports the operators that import it)."""

    targets: tuple[str, ...] = STEP_OPERATORS

    @functools.cached_property
    def operators(self) -> list[type]:  # type: ignore[override]
        """Resolved once per link: the api-server asks for it for every task of every DAG it loads."""
        found = []
        for path in self.targets:
            module, _, name = path.partition(":")
            found.append(getattr(importlib.import_module(module), name))
        return found


def pipeline_view_url(dag_id: str, run_id: str, task_id: str | None = None, base: str | None = None) -> str:
    """The pipeline page of one run (focused on ``task_id`` when given)."""
    if base is None:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="")
    url = f"{(base or '').rstrip('/')}{UI_PREFIX}/pipeline/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    return f"{url}?task_id={quote(task_id, safe='')}" if task_id else url


class PipelineViewLink(_PluginLink):
    """The "Pipeline view" link: the run's step graph, metrics and charts, focused on this step."""

    name = "Pipeline view"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return pipeline_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)


class StepOutputsLink(_PluginLink):
    """The "Step outputs" link: the step's inputs and outputs (datastore, path, size) in the pipeline view
    ("–" for a step without any)."""

    name = "Step outputs"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return pipeline_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id) + "#outputs"


class HyperDriveSweepLink(_PluginLink):
    """The "HyperDrive sweep" link of a HyperDriveStep: its children (hyperparameters, primary metric,
    best, stopped ones and why) and charts in the pipeline view."""

    name = "HyperDrive sweep"
    targets = ("airflow_azml.provider.operators.hyperdrive:HyperDriveStepOperator",)

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = pipeline_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)
        return f"{url}#azml-sweep-{quote(ti_key.task_id, safe='')}"
