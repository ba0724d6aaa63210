"""``Run.get_context()`` inside a step: ids, input/output data, metrics, tags, files.

Outside a pipeline it returns an offline run that prints what it logs.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from airflow_azml.runtime import CONTEXT_ENV
from airflow_azml.runtime.metrics import MetricsWriter, read_metrics, summarize

__all__ = ["Run", "OfflineRun", "RunExperiment"]


class RunExperiment:
    """``run.experiment``: its name (the DAG id) and the workspace."""

    def __init__(self, name: str, workspace_spec: dict[str, Any] | None):
        self.name = name
        self._workspace_spec = workspace_spec
        self._workspace: Any = None

    @property
    def workspace(self) -> Any:
        from airflow_azml.core.workspace import Workspace

        if self._workspace is None:
            self._workspace = (
                Workspace.from_spec(self._workspace_spec) if self._workspace_spec else Workspace()
            )
        return self._workspace


class Run:
    """The current step run. ``Run.get_context()`` is the way to get one."""

    def __init__(self, ctx: dict[str, Any], *, metrics_file: str, files_dir: str, parent: Run | None = None):
        self._ctx = ctx
        self.id: str = ctx.get("run_id", "")
        self.name = ctx.get("step_name", "")
        self.display_name = self.name
        self._writer = MetricsWriter(metrics_file)
        self._files_dir = Path(files_dir)
        self._parent = parent
        self.experiment = RunExperiment(ctx.get("experiment", ""), ctx.get("workspace"))
        self._inputs: dict[str, Any] | None = None

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_: Any) -> Run:
        path = os.environ.get(CONTEXT_ENV)
        if not path:
            if not allow_offline:
                raise RuntimeError("Run.get_context(allow_offline=False) outside a pipeline step.")
            return OfflineRun()
        ctx = json.loads(Path(path).read_text())
        parent = _ParentRun(ctx)
        return cls(ctx, metrics_file=ctx["metrics_file"], files_dir=ctx["files_dir"], parent=parent)

    @property
    def parent(self) -> Run | None:
        return self._parent

    @property
    def input_datasets(self) -> dict[str, Any]:
        """Paths for mounted/downloaded data, Dataset objects for tabular and direct inputs."""
        if self._inputs is None:
            from airflow_azml.data.dataset import dataset_from_definition

            self._inputs = {}
            for name, item in self._ctx.get("input_datasets", {}).items():
                if "definition" in item:
                    self._inputs[name] = dataset_from_definition(
                        item["definition"],
                        None,
                        name=item.get("dataset_name"),
                        version=item.get("dataset_version"),
                    )
                else:
                    self._inputs[name] = item["path"]
        return self._inputs

    @property
    def output_datasets(self) -> dict[str, str]:
        return dict(self._ctx.get("output_datasets", {}))

    # -- metrics ---------------------------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        self._writer.write("scalar", name, value, step=step)

    def log_list(self, name: str, value: list, description: str = "") -> None:
        self._writer.write("list", name, list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._writer.write("row", name, kwargs)

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        self._writer.write("table", name, {k: list(v) for k, v in value.items()})

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        target = self._files_dir / "images" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if plot is not None:
            plot.savefig(target)
        elif path is not None:
            shutil.copyfile(path, target)
        else:
            raise ValueError("log_image needs path= or plot=.")
        self._writer.write("image", name, target.relative_to(self._files_dir).as_posix())

    def tag(self, key: str, value: str | None = None) -> None:
        self._writer.write("tag", key, "" if value is None else str(value))

    def set_tags(self, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.tag(key, value)

    def get_tags(self) -> dict[str, str]:
        return {r["name"]: r["value"] for r in read_metrics(self._writer.path) if r["kind"] == "tag"}

    def get_metrics(self, name: str | None = None, **_: Any) -> dict[str, Any]:
        metrics = summarize(read_metrics(self._writer.path))
        return {name: metrics[name]} if name and name in metrics else ({} if name else metrics)

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        target = self._files_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(path_or_stream, "read"):
            target.write_bytes(path_or_stream.read())
        else:
            shutil.copyfile(path_or_stream, target)
        self._writer.write("file", name, name)

    def upload_folder(self, name: str, path: str) -> None:
        shutil.copytree(path, self._files_dir / name, dirs_exist_ok=True)

    def register_model(self, model_name: str, model_path: str | None = None, **kwargs: Any) -> Any:
        """v1's ``run.register_model``: a file or folder this run uploaded (``upload_file``) or wrote
        (a path relative to the working directory), registered in the step's workspace."""
        from airflow_azml.core.model import Model

        path = Path(model_path or ".")
        local = self._files_dir / path if (self._files_dir / path).exists() else path
        return Model.register(self.experiment.workspace, str(local), model_name, _run_id=self.id, **kwargs)

    def get_status(self) -> str:
        return "Running"

    def complete(self) -> None:
        """The operator decides the status from the exit code; nothing to do here."""

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment.name!r})"


class _ParentRun(Run):
    """``run.parent``: logs on the pipeline run."""

    def __init__(self, ctx: dict[str, Any]):
        parent_ctx = {
            "run_id": ctx.get("parent_run_id", ""),
            "experiment": ctx.get("experiment", ""),
            "workspace": ctx.get("workspace"),
            "step_name": ctx.get("experiment", ""),
        }
        super().__init__(parent_ctx, metrics_file=ctx["parent_metrics_file"], files_dir=ctx["files_dir"])


class OfflineRun(Run):
    """Outside a pipeline: prints what it logs and keeps metrics in a temporary file."""

    def __init__(self) -> None:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="azml-offline-"))
        super().__init__(
            {"run_id": f"OfflineRun_{uuid.uuid4()}", "experiment": "offline"},
            metrics_file=str(tmp / "metrics.jsonl"),
            files_dir=str(tmp / "files"),
        )

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        print(f"Attempted to log scalar metric {name}:\n{value}")
        super().log(name, value, description, step)

    def log_list(self, name: str, value: list, description: str = "") -> None:
        print(f"Attempted to log list metric {name}:\n{list(value)}")
        super().log_list(name, value, description)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        print(f"Attempted to log row metric {name}:\n{kwargs}")
        super().log_row(name, description, **kwargs)

    def log_table(self, name: str, value: dict, description: str = "") -> None:
        print(f"Attempted to log table metric {name}:\n{value}")
        super().log_table(name, value, description)
