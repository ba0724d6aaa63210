"""PipelineRun and StepRun: status, steps, metrics, outputs and logs of a submitted run.

A run is read from two places: its backend (the local runner, or a remote Airflow over REST)
for states, and the run records on the default datastore for metrics, outputs and logs.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from airflow_azml.core._orchestrator import RunStates
from airflow_azml.exceptions import ActivityFailedException, UserErrorException
from airflow_azml.pipeline.core.run_files import StepRunFiles, utc
from airflow_azml.pipeline.core.run_outputs import PortDataReference, StepRunOutput, step_output, step_outputs
from airflow_azml.pipeline.core.status import (
    AIRFLOW_TO_V1,
    CANCELED,
    FAILED,
    NOT_STARTED,
    TERMINAL,
    airflow_to_v1,
    step_status,
    wait_until_ended,
)

if TYPE_CHECKING:
    from airflow_azml.compiler.types import Plan

__all__ = ["PipelineRun", "StepRun", "StepRunOutput", "PortDataReference", "RunBackend", "STATUS"]

#: Airflow state -> Azure ML status (the one map lives in status.py; STATUS is kept for importers)
STATUS = AIRFLOW_TO_V1


#: where a run's states come from: the orchestrator port's RunStates (local runner or REST)
RunBackend = RunStates


class PipelineRun:
    """A pipeline run (an Airflow DAG run). ``id`` is the Airflow run id.

    ``PipelineRun(experiment, run_id)`` finds a run started elsewhere (another process, the REST
    API, a schedule), as in v1; ``Experiment.submit`` passes the backend and plan it already has.
    """

    def __init__(
        self,
        experiment: Any,
        run_id: str | None = None,
        *,
        backend: RunBackend | None = None,
        plan: Plan | None = None,
        **_: Any,
    ):
        if backend is None or plan is None:
            from airflow_azml.pipeline.core.run_lookup import attach_run

            if not run_id:
                raise TypeError("PipelineRun(experiment, run_id) needs the run id of the run to follow.")
            backend, plan = attach_run(experiment, run_id)
        self.experiment = experiment
        self._backend = backend
        self._plan = plan
        self.id = run_id or backend.run_id()
        self._records: Any = None

    @classmethod
    def get(cls, workspace: Any, run_id: str, experiment_name: str | None = None, **_: Any) -> PipelineRun:
        """The run ``run_id`` on the Airflow the workspace runs on (the one its file or AZML_AIRFLOW_* names,
        else the embedded one); the experiment name is its DAG id (found from the run id when omitted)."""
        from airflow_azml.pipeline.core.run_lookup import find_run

        backend, plan = find_run(workspace, run_id, experiment_name)
        return cls(workspace._experiment(plan["dag_id"]), run_id, backend=backend, plan=plan)

    @functools.cached_property
    def workspace(self) -> Any:
        """The workspace the run's plan was compiled against (its datastores hold outputs and records)."""
        return type(self.experiment.workspace).from_spec(self._plan["workspace"])

    @property
    def records(self) -> Any:
        if self._records is None:
            from airflow_azml.execution.records import RunRecords

            store = self.workspace.get_default_datastore().store
            self._records = RunRecords(store, self._plan["dag_id"], self.id)
        return self._records

    def get_status(self) -> str:
        return airflow_to_v1(self._backend.state())

    def get_steps(self) -> list[StepRun]:
        """Step runs in pipeline order."""
        states = self._backend.task_states()
        records = self.records.steps()
        return [
            _step_run_class(step)(self, tid, step["name"], states.get(tid), records.get(tid))
            for tid, step in self._plan["steps"].items()
        ]

    def get_children(self, recursive: bool = False, **_: Any) -> list[StepRun]:
        """The step runs created so far (queued, running or ended), in pipeline order, as v1's child runs."""
        return [s for s in self.get_steps() if s.record is not None or s.get_status() != NOT_STARTED]

    def find_step_run(self, name: str) -> list[StepRun]:
        return [s for s in self.get_steps() if s.name == name or s.task_id == name]

    def get_metrics(self) -> dict[str, Any]:
        """Metrics logged on the pipeline run (``run.parent.log`` in steps)."""
        from airflow_azml.runtime.metrics import summarize

        lines: list[dict[str, Any]] = []
        for tid in self._plan["steps"]:
            text = self.records.read_text(f"{self.records.prefix}/{tid}/parent_metrics.jsonl")
            lines += [json.loads(x) for x in text.splitlines() if x.strip()]
        return summarize(sorted(lines, key=lambda r: r.get("time", 0)))

    def get_pipeline_output(self, pipeline_output_name: str) -> PortDataReference:
        for step in self.get_steps():
            for spec in self._plan["steps"][step.task_id]["outputs"]:
                if (
                    spec.get("pipeline_output_name") == pipeline_output_name
                    or spec["name"] == pipeline_output_name
                ):
                    return step.get_output_data(spec["name"])
        raise KeyError(f"No output named {pipeline_output_name!r} in this pipeline.")

    def cancel(self) -> None:
        self._backend.cancel()

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Block until the run ends; with show_output, print each step as its status changes."""
        from airflow_azml.pipeline.core.progress import cancel_on_interrupt

        shown: dict[str, str] = {}
        if show_output:
            print(f"PipelineRunId: {self.id}\nExperiment: {self.experiment.name}")
        started = time.monotonic()
        on_poll = (lambda _: self._print_changes(shown, time.monotonic() - started)) if show_output else None
        status = cancel_on_interrupt(
            self,
            lambda: wait_until_ended(
                self.get_status,
                on_poll=on_poll,
                timeout_seconds=timeout_seconds,
                what=f"Run {self.id}",
            ),
            show_output,
        )
        if show_output:
            print(f"\nPipelineRun Status: {status}\n{self.step_table()}")
        if status != "Finished" and raise_on_error:
            raise ActivityFailedException(
                f"Pipeline run {self.id} ended {status}.\n{self._failure_summary()}"
            )
        return status

    def _print_changes(self, shown: dict[str, str], elapsed: float = 0.0) -> None:
        from airflow_azml.pipeline.core.progress import progress_line, step_elapsed
        from airflow_azml.runtime.parallel_progress import step_progress_line

        steps, changed = self.get_steps(), False
        for step in steps:
            status = step.get_status()
            if shown.get(step.task_id) != status:
                shown[step.task_id] = status
                changed = True
                seconds = step_elapsed(step) if status != "Running" else None
                took = f" ({seconds:.1f}s)" if seconds is not None else ""
                print(f"StepRun({step.name}) Status: {status}{took}")
            line = step_progress_line(step)  # a running ParallelRunStep's progress bar
            if line and shown.get(f"{step.task_id}:progress") != line:
                shown[f"{step.task_id}:progress"] = line
                print(line)
        if changed and len(steps) > 1:
            print(progress_line(steps, elapsed), flush=True)

    def _failure_summary(self) -> str:
        lines = [
            (s.record or {}).get("error") or f"Step {s.name!r} failed."
            for s in self.get_steps()
            if s.get_status() == "Failed"
        ]
        # where the run is (a remote run's URL), then why: the failing steps' errors
        err = self._backend.error()
        return "\n".join(([err] if err else []) + lines)

    def step_table(self) -> str:
        """Status, duration, reuse, metrics and outputs of every step, as text."""
        from airflow_azml.pipeline.core.report import step_table

        return step_table(self.get_steps())

    def get_details(self) -> dict[str, Any]:
        """v1's run details: runId, status, start/end times, properties, and the error once failed."""
        steps = [s.record or {} for s in self.get_steps()]
        starts = [r["start"] for r in steps if r.get("start")]
        ends = [r["end"] for r in steps if r.get("end")]
        status = self.get_status()
        details: dict[str, Any] = {
            "runId": self.id,
            "experiment": self.experiment.name,
            "status": status,
            "startTimeUtc": utc(min(starts)) if starts else None,
            "endTimeUtc": utc(max(ends)) if ends and status in TERMINAL else None,
            "properties": {"azureml.runsource": "azureml.PipelineRun", "dag_id": self._plan["dag_id"]},
            "logFiles": {},
        }
        if status in (FAILED, CANCELED):
            details["error"] = {"error": {"code": "UserError", "message": self._failure_summary()}}
        return details

    def publish_pipeline(
        self,
        name: str,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
        **_: Any,
    ) -> Any:
        """Publish the pipeline this run ran (its compiled plan), as ``Pipeline.publish`` does."""
        from airflow_azml.pipeline.core.published import publish_plan

        if any("kind" not in step for step in self._plan["steps"].values()):
            raise UserErrorException(
                f"Run {self.id!r} was read from a running Airflow, which does not hand back the pipeline it ran; "
                "publish the Pipeline object instead (pipeline.publish(name, description, version))."
            )
        plan_for = lambda pid: {**self._plan, "dag_id": pid}  # noqa: E731 - the run's plan under the new id
        return publish_plan(self.workspace, plan_for, name, description, version, continue_on_step_failure)

    def __repr__(self) -> str:
        return (
            f"PipelineRun(id={self.id!r}, experiment={self.experiment.name!r}, status={self.get_status()!r})"
        )


def _step_run_class(step: dict[str, Any]) -> type[StepRun]:
    """StepRun, or the subclass a step kind names in its plan (``run_class``, as ``operator_class``)."""
    path = step.get("run_class")
    if not path:
        return StepRun
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class StepRun(StepRunFiles):
    """One step of a pipeline run; files, logs and details come from StepRunFiles."""

    def __init__(
        self,
        pipeline_run: PipelineRun,
        task_id: str,
        name: str,
        state: str | None,
        record: dict[str, Any] | None,
    ):
        self.pipeline_run = pipeline_run
        self.task_id = task_id
        self.name = name
        self._state = state
        self.record = record
        self.id = (record or {}).get("run_id", task_id)

    @property
    def parent(self) -> PipelineRun:
        return self.pipeline_run

    def get_status(self) -> str:
        """The status when this object was read (``wait_for_completion`` reads it again)."""
        return step_status(self._state, self.record)

    def _refresh(self) -> str:
        fresh = next((s for s in self.pipeline_run.get_steps() if s.task_id == self.task_id), self)
        self._state, self.record = fresh._state, fresh.record
        return self.get_status()

    def wait_for_completion(
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Block until this step ends; with show_output, print its status changes and its output at the end."""
        shown: list[str] = []

        def changed(status: str) -> None:
            if show_output and (not shown or shown[-1] != status):
                shown.append(status)
                print(f"StepRun({self.name}) Status: {status}")

        status = wait_until_ended(
            self._refresh, on_poll=changed, timeout_seconds=timeout_seconds, what=f"Step run {self.name!r}"
        )
        if show_output:
            print(f"\nStepRun({self.name}) Execution Summary\n{self.get_stdout_log()}")
        if status in (FAILED, CANCELED) and raise_on_error:
            raise ActivityFailedException(
                (self.record or {}).get("error")
                or f"Step {self.name!r} of run {self.pipeline_run.id} ended {status}."
            )
        return status

    @property
    def reused(self) -> bool:
        return bool((self.record or {}).get("reused"))

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        metrics = dict((self.record or {}).get("metrics", {}))
        return {name: metrics[name]} if name and name in metrics else ({} if name else metrics)

    def _declared_outputs(self) -> list[dict[str, Any]]:
        step = self.pipeline_run._plan["steps"].get(self.task_id) or {}
        return list(step.get("outputs", []))

    def get_outputs(self) -> dict[str, StepRunOutput]:
        """Every output the step declares (and any its record adds), by name."""
        return step_outputs(self, self._declared_outputs())

    def get_output(self, name: str) -> StepRunOutput:
        """The output ``name`` (a declared output even when the step has not produced it)."""
        return step_output(self, self._declared_outputs(), name)

    def get_output_data(self, name: str) -> PortDataReference:
        """Where the output ``name`` is; an error says why when the step did not produce it."""
        return self.get_output(name).get_port_data_reference()

    def __repr__(self) -> str:
        return f"StepRun(name={self.name!r}, status={self.get_status()!r})"
