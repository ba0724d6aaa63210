"""HyperDriveStepRun: a HyperDriveStep's step run, with its sweep's child runs, as in v1.

``PipelineRun.find_step_run`` / ``get_steps`` return one for a HyperDriveStep. Its children are
read from their run records (``<task>/children/HD_<n>.json``, written as each child starts and
ends), so they can be listed while the sweep runs and from another machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_azml.execution.hyperdrive import CANCEL_FLAG, CHILDREN_DIR
from airflow_azml.execution.records import RunRecords
from airflow_azml.pipeline.core.run import StepRun
from airflow_azml.pipeline.core.run_files import StepRunFiles, utc

__all__ = ["HyperDriveStepRun", "HyperDriveChildRun"]


class HyperDriveChildRun(StepRunFiles):
    """One child run of a sweep: its hyperparameters, status, metrics and why it was stopped, and
    its files (``outputs/...`` as the script saved them, ``logs/...``) to download or register."""

    def __init__(self, parent: HyperDriveStepRun, record: dict[str, Any], folder: str):
        self.parent = parent
        self.pipeline_run = parent.pipeline_run
        self.record = record
        self.id: str = record["run_id"]
        self.number: int = record["number"]
        self.name = f"{parent.name}_HD_{self.number}"
        self.task_id = parent.task_id
        self._folder = folder

    def _folders(self) -> list[str]:
        return [self._folder]

    def register_model(self, model_name: str, model_path: str | None = None, **kwargs: Any) -> Any:
        """v1's ``best_run.register_model(model_name, model_path="outputs/model.pkl")``: a file or
        folder of this child's files, registered in the pipeline's workspace."""
        import tempfile

        from airflow_azml.core.model import Model

        where = Path(tempfile.mkdtemp(prefix="azml-hd-model-"))
        if not self.download_files(prefix=model_path or "outputs", output_directory=str(where)):
            self._file(model_path or "outputs")  # raises, listing the child's files
        local = where / (model_path or "outputs")
        return Model.register(self.pipeline_run.workspace, str(local), model_name, _run_id=self.id, **kwargs)

    def get_status(self) -> str:
        return str(self.record["status"])

    @property
    def status(self) -> str:
        return self.get_status()

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        metrics = dict(self.record.get("metrics") or {})
        return {name: metrics[name]} if name and name in metrics else ({} if name else metrics)

    def get_hyperparameters(self) -> dict[str, Any]:
        return dict(self.record["hyperparameters"])

    def get_details(self) -> dict[str, Any]:
        """v1's shape, with the hyperparameters as arguments and the termination reason when stopped."""
        rec = self.record
        return {
            "runId": self.id,
            "status": rec["status"],
            "startTimeUtc": utc(rec.get("start_time")),
            "endTimeUtc": utc(rec.get("end_time")),
            "properties": {"hyperparameters": json.dumps(rec["hyperparameters"])},
            "terminationReason": rec.get("termination_reason"),
            "error": rec.get("error"),
            "logFiles": {
                n: self.pipeline_run.records.store.uri(r)
                for n, r in self._files().items()
                if n.startswith("logs/")
            },
        }

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, status={self.get_status()!r}, hyperparameters={self.record['hyperparameters']!r})"


class HyperDriveStepRun(StepRun):
    """A HyperDriveStep's run: v1's HyperDriveRun calls on top of StepRun's."""

    def _sweep(self) -> dict[str, Any]:
        """The sweep's settings: from the plan, or (a run followed over REST has no full plan) the record."""
        step = self.pipeline_run._plan["steps"].get(self.task_id) or {}
        sweep = step.get("hyperdrive") or (self.record or {}).get("hyperdrive")
        if not sweep:  # a reused step's record has no summary: its children's records name the metric
            first = next(iter(self.get_children()), None)
            sweep = {
                k: v for k, v in (first.record if first else {}).items() if k.startswith("primary_metric_")
            }
        return sweep

    def _children_prefix(self) -> str:
        """Where the children's records are: this run's, or for a reused step the run it reused."""
        records = self.pipeline_run.records
        earlier = (self.record or {}).get("reused_from") if self.reused else None
        if earlier:
            other = RunRecords(records.store, records.dag_id, earlier["run_id"])
            return f"{other.prefix}/{earlier.get('task_id') or self.task_id}/{CHILDREN_DIR}"
        return f"{records.prefix}/{self.task_id}/{CHILDREN_DIR}"

    def get_children(self, recursive: bool = False, **_: Any) -> list[HyperDriveChildRun]:
        """The child runs started so far, in the order they started."""
        records = self.pipeline_run.records
        prefix = self._children_prefix()
        if not records.store.exists(prefix):
            return []
        found = []
        for rel in records.store.list_files(prefix):
            name = rel[len(prefix) + 1 :]
            if "/" not in name and name.endswith(".json"):
                found.append(HyperDriveChildRun(self, json.loads(records.store.read_bytes(rel)), rel[:-5]))
        return sorted(found, key=lambda c: c.number)

    def _maximize(self) -> bool:
        return self._sweep().get("primary_metric_goal", "MAXIMIZE") == "MAXIMIZE"

    def get_best_run_by_primary_metric(
        self,
        include_failed: bool = True,
        include_canceled: bool = True,
        include_resume_from_runs: bool = True,
    ) -> HyperDriveChildRun | None:
        """The child with the best logged value of the primary metric (None when none logged it)."""
        keep = (
            {"Completed", "Running"}
            | ({"Failed"} if include_failed else set())
            | ({"Canceled"} if include_canceled else set())
        )
        scored = [
            c
            for c in self.get_children()
            if c.get_status() in keep and c.record.get("best_primary_metric") is not None
        ]
        if not scored:
            return None
        pick = max if self._maximize() else min
        return pick(scored, key=lambda c: c.record["best_primary_metric"])

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """Children as v1's dicts (run_id, hyperparameters, best_primary_metric, status), best first."""
        rows = [
            {
                "run_id": c.id,
                "hyperparameters": json.dumps(c.record["hyperparameters"]),
                "best_primary_metric": c.record.get("best_primary_metric"),
                "status": c.get_status(),
            }
            for c in self.get_children()
        ]
        if discard_no_metric:
            rows = [r for r in rows if r["best_primary_metric"] is not None]
        sign = -1 if self._maximize() else 1
        rows.sort(key=lambda r: (r["best_primary_metric"] is None, sign * (r["best_primary_metric"] or 0)))
        if reverse:
            rows.reverse()
        return rows[:top] if top else rows

    def get_hyperparameters(self) -> dict[str, dict[str, Any]]:
        """Every child's hyperparameters, by child run id."""
        return {c.id: c.get_hyperparameters() for c in self.get_children()}

    def get_metrics(self, name: str | None = None) -> dict[str, Any]:
        """Every child's metrics, by child run id (v1's HyperDriveRun.get_metrics)."""
        return {c.id: c.get_metrics(name) for c in self.get_children()}

    def get_primary_metric_name(self) -> str | None:
        return self._sweep().get("primary_metric_name")

    def cancel(self) -> None:
        """Stop the sweep: no more children start, the running ones are canceled; the best so far stands."""
        records = self.pipeline_run.records
        records.store.write_bytes(f"{records.prefix}/{self.task_id}/{CANCEL_FLAG}", b"")

    def __repr__(self) -> str:
        return f"HyperDriveStepRun(name={self.name!r}, status={self.get_status()!r})"
