"""What a step run produced: StepRunOutput (one declared output) and PortDataReference (its data).

As in v1, a step's outputs are the outputs it *declares* (the graph's output ports), not only
the ones it wrote: ``step_run.get_output("processed")`` works for any declared name, and its
PortDataReference names the place the output has (or will have) on its datastore. Downloading
an output the step did not produce says why (it failed, was canceled, has not run yet) instead
of answering that the name is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import UserErrorException, did_you_mean

__all__ = ["StepRunOutput", "PortDataReference", "OutputNotFoundError"]


class OutputNotFoundError(UserErrorException, KeyError):
    """A step run has no output by that name (a KeyError too, as v1's dictionary lookup raised)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PortDataReference:
    """A step output on a datastore: ``datastore_name``, ``path_on_datastore``, ``download(local_path)``."""

    def __init__(self, name: str, datastore_name: str, path_on_datastore: str, run: Any):
        self.name = name
        self.datastore_name = datastore_name
        self.path_on_datastore = path_on_datastore
        self._run = run
        #: why there is no data yet (the producing step has not finished), asked only when it is missing
        self._pending: Callable[[], str] | None = None

    @property
    def datastore(self) -> Any:
        return self._run.workspace._require_datastore(self.datastore_name)

    @property
    def data_reference(self) -> Any:
        """The output as a DataReference, to feed it to a step of another pipeline."""
        return self._reference(self.name)

    def _reference(self, input_name: str | None) -> Any:
        from airflow_azml.data.data_reference import DataReference

        return DataReference(self.datastore, input_name or self.name, self.path_on_datastore)

    def as_mount(self, input_name: str | None = None) -> Any:
        return self._reference(input_name)

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: bool = False
    ) -> Any:
        return self._reference(input_name).as_download(path_on_compute, overwrite)

    def as_input(self, input_name: str) -> Any:
        return self._reference(input_name)

    def download(self, local_path: str, overwrite: bool = False, show_progress: bool = True) -> str:
        """Copy the output under ``local_path/<path_on_datastore>``, as v1 does; returns that path."""
        target = Path(local_path) / self.path_on_datastore
        if self._pending is not None and not self.datastore.store.exists(self.path_on_datastore):
            raise UserErrorException(self._pending())
        self.datastore.store.get(self.path_on_datastore, target, overwrite=overwrite)
        if show_progress:
            print(f"Downloaded {self.datastore_name}/{self.path_on_datastore} to {target}")
        return str(target)

    def __repr__(self) -> str:
        return f"PortDataReference(datastore={self.datastore_name!r}, path={self.path_on_datastore!r})"


class StepRunOutput:
    """One declared output of a step run; ``get_port_data_reference()`` is where its data is (or will be)."""

    def __init__(self, step_run: Any, name: str, location: dict[str, Any], produced: bool = True):
        self.step_run = step_run
        self.name = name
        self.pipeline_run_id = step_run.pipeline_run.id
        self._location = location
        self._produced = produced

    def get_port_data_reference(self) -> PortDataReference:
        where = self._location
        ref = PortDataReference(self.name, where["datastore"], where["path"], self.step_run.pipeline_run)
        ref._pending = None if self._produced else self._why_no_data
        return ref

    def _why_no_data(self) -> str:
        step = self.step_run
        lines = [
            line.strip() for line in ((step.record or {}).get("error") or "").splitlines() if line.strip()
        ]
        why = f" Its error: {lines[0]}" + (f" ({lines[-1]})" if len(lines) > 1 else "") if lines else ""
        return (
            f"Step {step.name!r} of run {self.pipeline_run_id!r} has no data for its output {self.name!r} yet: "
            f"the step is {step.get_status()}, and outputs are kept only when a step finishes.{why}"
        )

    def __repr__(self) -> str:
        return f"StepRunOutput(step={self.step_run.name!r}, name={self.name!r})"


def _planned(step_run: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Where a declared output goes when its step finishes (v1 knows an output's place beforehand)."""
    from airflow_azml.execution.outputs import output_location
    from airflow_azml.execution.records import run_slug

    run = step_run.pipeline_run
    datastore = spec.get("datastore") or run.workspace.get_default_datastore().name
    return {"datastore": datastore, "path": output_location(spec, run_slug(run.id), step_run.task_id)}


def step_outputs(step_run: Any, declared: list[dict[str, Any]]) -> dict[str, StepRunOutput]:
    """Every output of ``step_run``: the declared ones in plan order, then any the record adds."""
    produced = (step_run.record or {}).get("outputs") or {}
    outputs = {
        spec["name"]: StepRunOutput(step_run, spec["name"], produced[spec["name"]])
        if spec["name"] in produced
        else StepRunOutput(step_run, spec["name"], _planned(step_run, spec), produced=False)
        for spec in declared
    }
    outputs.update(
        {n: StepRunOutput(step_run, n, where) for n, where in produced.items() if n not in outputs}
    )
    return outputs


def step_output(step_run: Any, declared: list[dict[str, Any]], name: str) -> StepRunOutput:
    outputs = step_outputs(step_run, declared)
    if name not in outputs:
        raise OutputNotFoundError(
            f"Step {step_run.name!r} has no output named {name!r}.{did_you_mean(name, outputs)} "
            f"Its outputs: {', '.join(outputs) or '(none)'}; an output's name is the name given to its "
            "PipelineData or OutputFileDatasetConfig."
        )
    return outputs[name]
