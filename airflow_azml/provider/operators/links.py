"""Extra links on every pipeline step task: the pipeline view, and the step's outputs in it.

Airflow 3 computes extra links in the worker when the task ends and stores them as XCom,
so ``get_link`` only needs the task instance's ids and ``[api] base_url``. The pages they
open are served by the plugin (``plugins/ui.py``) under ``UI_PREFIX``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

__all__ = ["PipelineViewLink", "StepOutputsLink", "HyperDriveSweepLink", "UI_PREFIX", "pipeline_view_url"]

#: where the plugin's pipeline pages are served (FastAPI app url_prefix)
UI_PREFIX = "/azml-ui"


def pipeline_view_url(dag_id: str, run_id: str, task_id: str | None = None, base: str | None = None) -> str:
    """The pipeline page of one run (focused on ``task_id`` when given)."""
    if base is None:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="")
    url = f"{(base or '').rstrip('/')}{UI_PREFIX}/pipeline/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    return f"{url}?task_id={quote(task_id, safe='')}" if task_id else url


class PipelineViewLink(BaseOperatorLink):
    """The "Pipeline view" link: the run's step graph, metrics and charts, focused on this step."""

    name = "Pipeline view"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return pipeline_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)


class StepOutputsLink(BaseOperatorLink):
    """The "Step outputs" link: where this step's outputs are (datastore, path, size) in the pipeline view."""

    name = "Step outputs"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if not getattr(operator, "step", {}).get("outputs", True):
            return ""
        return pipeline_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id) + "#outputs"


class HyperDriveSweepLink(BaseOperatorLink):
    """The "HyperDrive sweep" link of a HyperDriveStep: its children (hyperparameters, primary metric,
    best, stopped ones and why) and charts in the pipeline view."""

    name = "HyperDrive sweep"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        url = pipeline_view_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)
        return f"{url}#azml-sweep-{quote(ti_key.task_id, safe='')}"
