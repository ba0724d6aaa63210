"""A step run's files and details, as v1's Run methods show them.

The files are the ones the step kept in its run record folder on the default datastore:
the files the script uploaded (``run.upload_file(name, path)``, under that name) and its logs
under ``logs/``: ``logs/stdout.txt`` and ``logs/stderr.txt`` (the script's output) and
``logs/job_log.txt`` (what the worker did around the script: reuse decision, inputs,
environment build, launch, outputs; v1's job log). A reused step shows the script output and
uploads of the run it reused (v1's reused StepRun is that earlier run) and its own job log,
which says why it was reused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import UserErrorException, did_you_mean

__all__ = ["StepRunFiles", "LOG_FILES", "utc"]

#: record file -> the name a step run shows it under
LOG_FILES = {
    "stdout.txt": "logs/stdout.txt",
    "stderr.txt": "logs/stderr.txt",
    "job_log.txt": "logs/job_log.txt",
}
_UPLOADED = "files/"


def utc(timestamp: float | None) -> str | None:
    """A record's epoch seconds as v1's ISO time (``2024-01-01T10:00:00.123456Z``)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(float(timestamp), UTC).isoformat().replace("+00:00", "Z")


class StepRunFiles:
    """File and detail methods of StepRun (``pipeline_run``, ``task_id``, ``record`` come from it)."""

    pipeline_run: Any
    task_id: str
    record: dict[str, Any] | None
    name: str

    def _folders(self) -> list[str]:
        """Where this step run's files are: its own record folder, after the reused run's (whose
        script output and uploads it shows, as v1's reused StepRun is that run)."""
        records = self.pipeline_run.records
        own = f"{records.prefix}/{self.task_id}"
        earlier = (self.record or {}).get("reused_from") or {}
        if not earlier.get("run_id"):
            return [own]
        from airflow_azml.execution.records import RunRecords

        reused = RunRecords(records.store, records.dag_id, earlier["run_id"])
        return [f"{reused.prefix}/{earlier.get('task_id') or self.task_id}", own]

    def _files(self) -> dict[str, str]:
        """Shown name -> datastore-relative path, sorted by name (this run's own files win)."""
        store = self.pipeline_run.records.store
        found: dict[str, str] = {}
        for folder in self._folders():
            for rel in store.list_files(folder) if store.exists(folder) else []:
                inner = rel[len(folder) + 1 :]
                if inner.startswith(_UPLOADED):
                    found[inner[len(_UPLOADED) :]] = rel
                elif inner in LOG_FILES:
                    found[LOG_FILES[inner]] = rel
        return dict(sorted(found.items()))

    def get_file_names(self) -> list[str]:
        """Names of the files this step run kept (uploaded files and ``logs/...``)."""
        return list(self._files())

    def _file(self, name: str) -> str:
        files = self._files()
        if name not in files:
            raise UserErrorException(
                f"Step run {self.name!r} has no file {name!r}.{did_you_mean(name, files)} Its files: "
                f"{', '.join(files) or '(none)'} (see get_file_names())."
            )
        return files[name]

    def download_file(self, name: str, output_file_path: str | None = None, **_: Any) -> str:
        """Copy the file ``name`` to ``output_file_path`` (a file path, or a folder to put it in;
        default: its base name in the current folder); returns the local path."""
        target = Path(output_file_path) if output_file_path else Path(Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        self.pipeline_run.records.store.get(self._file(name), target, overwrite=True)
        return str(target)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | None = None,
        append_prefix: bool = True,
        **_: Any,
    ) -> list[str]:
        """Copy every file whose name starts with ``prefix`` under ``output_directory`` (default: the
        current folder), keeping its name as a relative path; ``append_prefix=False`` drops the prefix."""
        out = Path(output_directory or ".")
        written = []
        for name, rel in self._files().items():
            if prefix and not name.startswith(prefix):
                continue
            local = name[len(prefix) :].lstrip("/") if prefix and not append_prefix else name
            written.append(str(self.pipeline_run.records.store.get(rel, out / local, overwrite=True)))
        return written

    def _read(self, shown: str) -> str:
        rel = self._files().get(shown)
        return self.pipeline_run.records.read_text(rel) if rel else ""

    def get_job_log(self) -> str:
        """What the worker did around the script (reuse, inputs, environment, launch, outputs, error)."""
        return self._read(LOG_FILES["job_log.txt"])

    def get_stdout_log(self) -> str:
        return self._read(LOG_FILES["stdout.txt"])

    def get_stderr_log(self) -> str:
        return self._read(LOG_FILES["stderr.txt"])

    def get_details(self) -> dict[str, Any]:
        """v1's run details (runId, status, times, target, inputs/outputs, logFiles, error) and ours
        (name, duration, reuse)."""
        rec = self.record or {}
        store = self.pipeline_run.records.store
        details: dict[str, Any] = {
            "runId": self.id,  # type: ignore[attr-defined]
            "target": rec.get("compute_target"),
            "status": self.get_status(),  # type: ignore[attr-defined]
            "startTimeUtc": utc(rec.get("start")),
            "endTimeUtc": utc(rec.get("end")),
            "properties": {"azureml.pipelinerunid": self.pipeline_run.id, "StepType": rec.get("kind")},
            "inputDatasets": rec.get("inputs", {}),
            "outputDatasets": rec.get("outputs", {}),
            "logFiles": {n: store.uri(rel) for n, rel in self._files().items() if n.startswith("logs/")},
            "name": self.name,
            "duration": rec.get("duration"),
            "reused": bool(rec.get("reused")),
            "reuse_reason": rec.get("reuse_reason"),
            "run_reason": rec.get("run_reason"),
            "reused_from": rec.get("reused_from"),
            "fingerprint": rec.get("fingerprint"),
            "host": rec.get("host"),
        }
        if rec.get("error"):
            details["error"] = {"error": {"code": "UserError", "message": rec["error"]}}
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """get_details() with each log's text in ``logFiles`` (v1 adds STDOUT, STDERR and JOBLOG too)."""
        details = self.get_details()
        details["logFiles"] = {n: self._read(n) for n in details["logFiles"]}
        details["logFiles"].update(
            STDOUT=self.get_stdout_log(), STDERR=self.get_stderr_log(), JOBLOG=self.get_job_log()
        )
        return details
