"""Stage a step's outputs privately and publish them only when the step succeeds."""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import StepFailedError

__all__ = ["OutputStager", "output_location"]


def output_location(spec: dict[str, Any], slug: str, task_id: str) -> str:
    """Where an output is published: ``azureml/<run>/<step>/<name>`` or the configured destination."""
    if spec["kind"] == "output_dataset":
        dest = (
            spec["destination"]
            .replace("{run-id}", f"{slug}_{task_id}")
            .replace("{output-name}", spec["name"])
        )
        return dest.strip("/")
    return f"azureml/{slug}/{task_id}/{spec['name']}"


class OutputStager:
    """For each output: a staging path the script writes to, and the final datastore location."""

    def __init__(self, workspace: Any, workdir: Path, slug: str, task_id: str, try_key: str, dag_id: str):
        self.ws = workspace
        self.workdir = workdir
        self.slug = slug
        self.task_id = task_id
        self.try_key = try_key
        self.dag_id = dag_id
        self.staged: dict[str, tuple[dict[str, Any], Any, Path, str]] = {}

    def _store(self, spec: dict[str, Any]) -> tuple[str, Any]:
        ds = (
            self.ws._require_datastore(spec["datastore"])
            if spec.get("datastore")
            else self.ws.get_default_datastore()
        )
        return ds.name, ds.store

    def prepare(self, spec: dict[str, Any]) -> Path:
        """The local path handed to the script (it does not exist yet: the script creates it)."""
        name, store = self._store(spec)
        final = output_location(spec, self.slug, self.task_id)
        if spec["mode"] == "upload" and spec.get("path_on_compute"):
            poc = Path(spec["path_on_compute"])
            local = poc if poc.is_absolute() else self.workdir / "outputs" / poc
        else:
            root = store.local_path(".azml") if store.local_path("") is not None else None
            base = root if root is not None else self.workdir
            local = base / "staging" / self.dag_id / self.slug / self.task_id / self.try_key / spec["name"]
        if local.exists():
            shutil.rmtree(local) if local.is_dir() else local.unlink()
        local.parent.mkdir(parents=True, exist_ok=True)
        self.staged[spec["name"]] = (spec, (name, store), local, final)
        return local

    def commit(self, log: Any) -> dict[str, dict[str, str]]:
        """Publish every staged output; returns {name: {datastore, path}} for consumers."""
        published = {}
        for out_name, (spec, (ds_name, store), local, final) in self.staged.items():
            if not local.exists():
                log.warning(
                    "Output %r: the script wrote nothing at %s; publishing an empty folder.", out_name, local
                )
                local.mkdir(parents=True, exist_ok=True)
            if spec.get("source_globs"):
                self._filter(local, spec["source_globs"])
            if (
                spec.get("kind") == "output_dataset"
                and not spec.get("overwrite")
                and spec["mode"] == "upload"
                and "{run-id}" not in spec["destination"]
                and store.exists(final)
            ):
                raise StepFailedError(
                    f"Output {out_name!r}: {ds_name}/{final} already exists and as_upload(overwrite=False) was "
                    "asked; pass overwrite=True or use a destination with {run-id}."
                )
            store.commit(local, final)
            published[out_name] = {"datastore": ds_name, "path": final}
            log.info("Output %r published at %s/%s", out_name, ds_name, final)
        return published

    @staticmethod
    def _filter(local: Path, globs: list[str]) -> None:
        if not local.is_dir():
            return
        for f in [p for p in local.rglob("*") if p.is_file()]:
            rel = f.relative_to(local).as_posix()
            if not any(fnmatch.fnmatch(rel, g) for g in globs):
                f.unlink()

    def discard(self) -> None:
        """Remove every staged output: a failed step leaves nothing where consumers look."""
        for _spec, _store, local, _final in self.staged.values():
            if local.is_dir():
                shutil.rmtree(local, ignore_errors=True)
            elif local.exists():
                local.unlink()
