"""DatabricksStepOperator: a DatabricksStep submitted with apache-airflow-providers-databricks.

The provider's DatabricksSubmitRunOperator does the work: one-time ``runs/submit``, polling
or deferral (``[operators] default_deferrable``), re-attaching on retry through
ResumableJobMixin, ``on_kill`` cancelling, the run page extra link from the ``run_page_url``
XCom, and failure messages with the run's state message and the error of its output. This
subclass is also an AzmlStepOperator, so it runs the one step lifecycle (continue-on-failure
gate, run record, reuse, ``azml_outputs`` XCom); its run part only builds the payload from the
step's plan (data as URIs, parameters resolved, the script uploaded to DBFS) and hands it to
the provider. A deferred run comes back through ``execute_complete`` into the same lifecycle.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from airflow.providers.databricks.exceptions import DatabricksApiError
from airflow.providers.databricks.operators.databricks import (
    DatabricksJobRunLink,
    DatabricksSubmitRunOperator,
)
from airflow.providers.databricks.utils.databricks import normalise_json_content

from airflow_azml.core.workspace import Workspace
from airflow_azml.exceptions import StepFailedError, UserErrorException
from airflow_azml.execution.lifecycle import StepAttempt
from airflow_azml.execution.local_spark import LocalSparkExecution
from airflow_azml.execution.outputs import output_location
from airflow_azml.execution.params import coerce_params
from airflow_azml.execution.records import run_slug
from airflow_azml.provider.operators.step import AzmlStepOperator, ReusedFromLink

__all__ = ["DatabricksStepOperator", "LocalSparkExecution", "data_uri", "DBFS_PUT_LIMIT"]

#: ``dbfs/put`` takes at most 1 MB of contents per call.
DBFS_PUT_LIMIT = 1024 * 1024
_SPEC_KWARGS = {
    "polling_period_seconds": int,
    "databricks_retry_limit": int,
    "databricks_retry_delay": float,
    "deferrable": bool,
}


def data_uri(ws: Workspace, datastore: str, path: str) -> str:
    """The URI a Databricks job uses for ``path`` on ``datastore``."""
    ds = ws._require_datastore(datastore)
    path = path.strip("/")
    if ds.kind in ("azure_blob", "adls_gen2"):
        return f"abfss://{ds.container_name}@{ds.account_name}.dfs.core.windows.net/{path}"
    if ds.kind == "dbfs":
        return f"dbfs:/{path}"
    if ds.kind == "local":
        return ds.store.uri(path)
    raise UserErrorException(
        f"Datastore {datastore!r} ({ds.datastore_type}) holds tables, not files; a DatabricksStep reads and "
        "writes Blob, ADLS Gen2, DBFS or local datastores."
    )


def _compute_spec(step: dict[str, Any], pipeline: dict[str, Any]) -> dict[str, Any]:
    targets = (pipeline["workspace"].get("config") or {}).get("compute_targets") or {}
    return dict(targets.get(step.get("compute_target") or "", {}) or {})


class DatabricksStepOperator(AzmlStepOperator, DatabricksSubmitRunOperator):
    """Runs one DatabricksStep; the compute target's ``conn_id`` names the Databricks connection.

    The step lifecycle (continue-on-failure gate, run record, reuse, XCom) is AzmlStepOperator's;
    the run part is the provider's DatabricksSubmitRunOperator (submit, poll or defer, re-attach).
    The compute target spec may also set ``polling_period_seconds``, ``databricks_retry_limit``,
    ``databricks_retry_delay`` and ``deferrable``; ``local: true`` runs a python_script_name step
    on the worker with a local PySpark session instead (debugging without a workspace).
    """

    template_fields = ()
    ui_color = "#fde2d5"
    operator_extra_links = (DatabricksJobRunLink(), ReusedFromLink())

    def __init__(self, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any):
        spec = _compute_spec(step, pipeline)
        kwargs.setdefault("databricks_conn_id", spec.get("conn_id") or "databricks_default")
        for key, cast in _SPEC_KWARGS.items():
            if spec.get(key) is not None:
                kwargs.setdefault(key, cast(spec[key]))
        super().__init__(**kwargs)
        self.step = step
        self.pipeline = pipeline
        self.local = bool(spec.get("local"))
        self._ctx: dict[str, Any] = {}

    @classmethod
    def for_step(
        cls, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any
    ) -> DatabricksStepOperator:
        """The task of one plan step (the renderer's constructor for every step operator)."""
        return cls(step=step, pipeline=pipeline, **kwargs)

    # -- the run part: the provider's machinery inside the shared step lifecycle ----------------
    def run_step(self, attempt: StepAttempt, context: Any) -> dict[str, Any]:
        """Reuse an earlier run of the same fingerprint, or submit (the provider polls or defers)."""
        if self.local:
            self._execution = LocalSparkExecution(attempt.inv, log=attempt.log)
            return self._execution.work(attempt)
        self._prepare(attempt.inv, attempt.ws)
        attempt.record.update(
            inputs=self._ctx["inputs"], data_uris=self._ctx["uris"], parameters=self._ctx["params"]
        )
        attempt.collectors.append(lambda: {"databricks_run_id": self.run_id})
        params, inputs, upstream, extra = self._fingerprint_args()
        if attempt.decide(params, inputs, extra=extra) is not None:
            return {}
        DatabricksSubmitRunOperator.execute(self, context)
        return self._completed(attempt)

    def execute_complete(self, context: Any, event: dict) -> None:
        """Back from deferral: the provider checks the event, then the step publishes its outputs."""
        self.run_id = event.get("run_id")
        self.resume(context, lambda attempt: self._complete(attempt, context, event))

    def _complete(self, attempt: StepAttempt, context: Any, event: dict) -> dict[str, Any]:
        self._prepare(attempt.inv, attempt.ws)
        attempt.collectors.append(lambda: {"databricks_run_id": self.run_id})
        DatabricksSubmitRunOperator.execute_complete(self, context, event)
        self._check_fingerprint(attempt)
        return self._completed(attempt)

    def _completed(self, attempt: StepAttempt) -> dict[str, Any]:
        """The run succeeded: its outputs are where the payload told it to write them."""
        url = self._hook.get_run_page_url(self.run_id) if self.run_id else None
        attempt.record.update(run_page_url=url, metrics={})
        return dict(self._ctx["outputs"])

    # -- reuse: the shared gate, fed with this step's inputs, parameters and job spec -----------
    def _fingerprint_args(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(parameter values, inputs (the gate adds their versions), upstream outputs, uploaded source hash)."""
        job = self.step["databricks"].get("spark_python_task") or {}
        extra = (
            {"uploaded source": self._source_files()[1]} if isinstance(job.get("python_file"), dict) else {}
        )
        return self._ctx["params"], self._ctx["inputs"], self._ctx["inv"].upstream, extra

    def _check_fingerprint(self, attempt: StepAttempt) -> None:
        """After a deferral: offer the run for reuse only if its inputs still fingerprint as when it started."""
        expected = attempt.record.get("fingerprint")
        params, inputs, upstream, extra = self._fingerprint_args()
        gate = attempt.gate
        if gate.fingerprint(params, inputs, upstream, extra) is not None and gate.fp.digest != expected:
            self.log.warning(
                "Step %s: its inputs changed while the run was deferred; it will not be reused.",
                self.step["name"],
            )
            gate.fp, attempt.record["fingerprint"] = None, expected

    def _prepare(self, inv: Any, ws: Any) -> None:
        """Parameter values, and every input/output as a datastore location and as a URI."""
        params = coerce_params(inv.parameters, inv.params, self.step["name"])
        slug = run_slug(inv.run_id)
        outputs = {}
        for spec in self.step["outputs"]:
            ds = spec.get("datastore") or ws.get_default_datastore().name
            outputs[spec["name"]] = {
                "datastore": ds,
                "path": output_location(spec, slug, self.step["task_id"]),
            }
        inputs = {
            spec["name"]: self._input_location(spec, params, inv.upstream) for spec in self.step["inputs"]
        }
        uris = {n: data_uri(ws, w["datastore"], w["path"]) for n, w in {**inputs, **outputs}.items()}
        self._ctx = {"params": params, "inputs": inputs, "outputs": outputs, "uris": uris, "inv": inv}

    def _input_location(self, spec: dict[str, Any], params: dict[str, Any], upstream: dict[str, Any]) -> dict:
        source = spec["source"]
        if source == "step_output":
            produced = (upstream.get(spec["step"]) or {}).get(spec["output"])
            if not produced:
                raise UserErrorException(
                    f"Step {self.step['name']!r}: input {spec['name']!r} comes from step {spec['step']!r} output "
                    f"{spec['output']!r}, but that step published no such output (did it run?)."
                )
            return {"datastore": produced["datastore"], "path": produced["path"]}
        if source == "datastore":
            return {"datastore": spec["datastore"], "path": spec["path"]}
        if source == "datapath_param":
            value = params[spec["param"]]
            return {"datastore": value["datastore"], "path": value.get("path_on_datastore", "")}
        ref = spec.get("dataset") or params.get(spec.get("param", ""))
        paths = ((ref or {}).get("definition") or {}).get("paths") or []
        if len(paths) != 1:
            raise UserErrorException(
                f"Step {self.step['name']!r}: input {spec['name']!r} is a dataset; a DatabricksStep takes a dataset "
                "defined on exactly one datastore path (or use a DataReference / PipelineData)."
            )
        return {"datastore": paths[0]["datastore"], "path": paths[0]["path"]}

    # -- the runs/submit payload --------------------------------------------------------------
    def _prepare_submit_json(self, context: Any) -> dict[str, Any]:
        """Called by the provider right before ``runs/submit`` (never on a re-attach)."""
        if not self._ctx:
            self._prepare(self._invocation(context), Workspace.from_spec(self.pipeline["workspace"]))
        payload = self.build_payload()
        self._validate_merged_json(payload)
        self.log.info("Databricks runs/submit payload: %s", json.dumps(payload, sort_keys=True))
        return normalise_json_content(payload)

    def build_payload(self) -> dict[str, Any]:
        """The job spec of the plan with parameters resolved, data URIs added, the script uploaded."""
        job = copy.deepcopy(self.step["databricks"])
        uris = self._ctx["uris"]
        if "notebook_task" in job:
            task = job["notebook_task"]
            task["base_parameters"] = {**self._resolve_dict(task.get("base_parameters") or {}), **uris}
        else:
            task = job.get("spark_python_task") or job["spark_jar_task"]
            pairs = [x for name, uri in uris.items() for x in (f"-{name}", uri)]
            task["parameters"] = self._resolve_list(task.get("parameters") or []) + pairs
            if isinstance(task.get("python_file"), dict):
                task["python_file"] = self._upload_source(task["python_file"]["$upload"])
        if not job.get("libraries"):
            job.pop("libraries", None)
        return job

    def _resolve_dict(self, values: dict[str, Any]) -> dict[str, Any]:
        params = self._ctx["params"]
        return {k: params[v["$param"]] if isinstance(v, dict) else v for k, v in values.items()}

    def _resolve_list(self, values: list[Any]) -> list[Any]:
        """``{"$param": NAME}`` becomes ``--NAME value``, as v1 expands a PipelineParameter."""
        out: list[Any] = []
        for value in values:
            if isinstance(value, dict) and "$param" in value:
                out += [f"--{value['$param']}", self._ctx["params"][value["$param"]]]
            else:
                out.append(value)
        return out

    # -- python_script_name + source_directory: upload once per content ------------------------
    def _source_files(self) -> tuple[list[Path], str]:
        root = Path(self.step["source_directory"])
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts)
        )
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
        return files, digest.hexdigest()[:20]

    def _upload_source(self, script_name: str) -> str:
        """Upload source_directory to ``dbfs:/azml/src/<content hash>/`` unless it is there already."""
        root = Path(self.step["source_directory"])
        files, digest = self._source_files()
        base = f"/azml/src/{digest}"
        target = f"{base}/{script_name}"
        try:
            self._hook._do_api_call(("GET", "2.0/dbfs/get-status"), {"path": target})
            self.log.info(
                "Source of step %r already on DBFS at dbfs:%s; not uploading.", self.step["name"], base
            )
            return f"dbfs:{target}"
        except DatabricksApiError as exc:
            if exc.http_status_code != 404:
                raise
        script = root / script_name
        for f in [f for f in files if f != script] + [
            script
        ]:  # the script last: its presence means "complete"
            data = f.read_bytes()
            if len(data) > DBFS_PUT_LIMIT:
                raise StepFailedError(
                    f"Step {self.step['name']!r}: {f} is {len(data)} bytes; files uploaded with the step's "
                    f"source_directory must be under {DBFS_PUT_LIMIT} bytes. Put large files on a datastore."
                )
            dest = f"{base}/{f.relative_to(root).as_posix()}"
            self._hook._do_api_call(
                ("POST", "2.0/dbfs/put"),
                {"path": dest, "contents": base64.b64encode(data).decode(), "overwrite": True},
            )
        self.log.info("Uploaded %s file(s) of step %r to dbfs:%s", len(files), self.step["name"], base)
        return f"dbfs:{target}"

    def on_kill(self) -> None:
        if self._attempt is not None:  # the record ends Canceled, as every step kind's on a kill
            self._attempt.cancel()
        if self._execution is not None:  # local mode: the script process on this worker
            self._execution.kill()
            return
        DatabricksSubmitRunOperator.on_kill(self)
