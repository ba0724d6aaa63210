"""Where a submitted run goes: the orchestrator port's adapter for the workspace (``core/_orchestrator.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_azml.core._home import uses_remote_airflow
from airflow_azml.core._interrupt import interrupt_scope
from airflow_azml.core._orchestrator import orchestrator
from airflow_azml.pipeline.core.run import PipelineRun

if TYPE_CHECKING:
    from airflow_azml.compiler.types import Plan

__all__ = ["submit_plan", "LocalBackend", "uses_remote_airflow"]


class LocalBackend:
    """States of a run executed by the local runner (a child process; ``local/loop.py``)."""

    #: Ctrl-C while waiting on it cancels the run (``pipeline.core.progress.cancel_on_interrupt``)
    cancel_on_interrupt = True

    def __init__(self, handle: Any, plan: dict[str, Any]):
        self.handle = handle
        self.plan = plan
        with interrupt_scope(handle.cancel):  # Ctrl-C while the run is submitted: canceled, not left going
            self._run_id = handle.wait_for_run_id()

    def run_id(self) -> str:
        return self._run_id

    def state(self) -> str | None:
        return self.handle.status().get("state")

    def task_states(self) -> dict[str, str | None]:
        st = self.handle.status()
        if "tasks" in st:
            return {tid: t.get("state") for tid, t in st["tasks"].items()}
        return {}

    def cancel(self) -> None:
        self.handle.cancel()

    def error(self) -> str | None:
        return self.handle.status().get("error")


def submit_plan(experiment: Any, plan: Plan, conf: dict[str, Any]) -> PipelineRun:
    """A running Airflow when the workspace file (``airflow.base_url``) or ``AZML_AIRFLOW_URL`` names
    one; otherwise the embedded Airflow on this machine (the orchestrator port chooses). Ctrl-C before the run
    is returned cancels it: the local adapter arms its cancel before it sends the run (``core/_interrupt.py``)."""
    with interrupt_scope():
        states = orchestrator(experiment.workspace).submit(plan, conf)
        return PipelineRun(experiment, backend=states, plan=plan)
