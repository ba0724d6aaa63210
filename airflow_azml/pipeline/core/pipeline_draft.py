"""PipelineDraft: an editable, not yet published pipeline with its run settings, kept in the workspace.

v1 kept drafts in the Azure ML service; here a draft is a registry entry
``.azml/published/drafts/<id>.json`` on the workspace's default datastore, beside the published
pipelines: the compiled plan of its pipeline plus name, description, experiment name, parameter
values, continue_on_step_failure, tags and properties. ``submit_run()`` runs the plan as
``Experiment(ws, experiment_name).submit(pipeline)`` would (embedded Airflow, or the configured
one); ``publish()`` stores it as a published pipeline. The plan is checked when the draft is
created or updated (unknown parameters, invalid names), not when it runs.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from airflow_azml.core import registry
from airflow_azml.exceptions import UserErrorException

__all__ = ["PipelineDraft"]

_KIND = "drafts"


class PipelineDraft:
    """``PipelineDraft.create(ws, pipeline, name, ...)`` / ``get`` / ``list``; ``update``, ``submit_run``,
    ``publish``, ``delete``."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        self._workspace = workspace
        self._entry = entry

    # -- attributes -------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self._entry["id"])

    @property
    def name(self) -> str | None:
        return self._entry.get("name")

    @property
    def description(self) -> str | None:
        return self._entry.get("description")

    @property
    def experiment_name(self) -> str | None:
        return self._entry.get("experiment_name")

    @property
    def pipeline_parameters(self) -> dict[str, Any]:
        return dict(self._entry.get("pipeline_parameters") or {})

    @property
    def continue_on_step_failure(self) -> bool | None:
        return self._entry.get("continue_on_step_failure")

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self._entry.get("tags") or {})

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self._entry.get("properties") or {})

    @property
    def last_submitted_pipeline_run_id(self) -> str | None:
        return self._entry.get("last_submitted_pipeline_run_id")

    @property
    def parent_pipeline_id(self) -> str | None:
        """The published pipeline this draft was made from (create_from_published_pipeline)."""
        return self._entry.get("parent_pipeline_id")

    @property
    def parent_pipeline_run_id(self) -> str | None:
        """The run this draft was made from (create_from_run)."""
        return self._entry.get("parent_pipeline_run_id")

    @property
    def plan(self) -> dict[str, Any]:
        return copy.deepcopy(self._entry["plan"])

    # -- creating and finding -----------------------------------------------------------------
    @classmethod
    def create(
        cls,
        workspace: Any,
        pipeline: Any,
        name: str | None = None,
        description: str | None = None,
        experiment_name: str | None = None,
        pipeline_parameters: dict | None = None,
        continue_on_step_failure: bool | None = None,
        tags: dict | None = None,
        properties: dict | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> PipelineDraft:
        """A new draft of ``pipeline`` (compiled and checked now)."""
        return cls._new(
            workspace,
            _compile(pipeline),
            name=name,
            description=description,
            experiment_name=experiment_name,
            pipeline_parameters=pipeline_parameters,
            continue_on_step_failure=continue_on_step_failure,
            tags=tags,
            properties=properties,
        )

    @classmethod
    def create_from_run(
        cls,
        workspace: Any,
        pipeline_run: Any,
        name: str | None = None,
        description: str | None = None,
        experiment_name: str | None = None,
        tags: dict | None = None,
    ) -> PipelineDraft:
        """A draft of the pipeline ``pipeline_run`` ran (its plan), in its experiment unless another is named."""
        plan = copy.deepcopy(pipeline_run._plan)
        if any("kind" not in step for step in plan["steps"].values()):
            raise UserErrorException(
                f"Run {pipeline_run.id!r} was read from a running Airflow, which does not hand back the "
                "pipeline it ran; create the draft from the Pipeline object instead."
            )
        experiment = experiment_name or pipeline_run.experiment.name
        return cls._new(
            workspace,
            plan,
            name=name,
            description=description,
            experiment_name=experiment,
            tags=tags,
            parent_pipeline_run_id=pipeline_run.id,
        )

    @classmethod
    def create_from_published_pipeline(
        cls,
        workspace: Any,
        published_pipeline: Any,
        name: str | None = None,
        description: str | None = None,
        experiment_name: str | None = None,
        tags: dict | None = None,
        properties: dict | None = None,
    ) -> PipelineDraft:
        """A draft of a published pipeline's plan (with its continue_on_step_failure)."""
        return cls._new(
            workspace,
            published_pipeline.plan,
            name=name or published_pipeline.name,
            description=description or published_pipeline.description,
            experiment_name=experiment_name,
            continue_on_step_failure=published_pipeline.continue_on_step_failure,
            tags=tags,
            properties=properties,
            parent_pipeline_id=published_pipeline.id,
        )

    @classmethod
    def _new(cls, workspace: Any, plan: dict[str, Any], **fields: Any) -> PipelineDraft:
        entry = {"id": uuid.uuid4().hex, "created": time.time(), "plan": plan, "pipeline_parameters": {}}
        draft = cls(workspace, entry)
        draft._apply(fields)
        draft._save()
        return draft

    @classmethod
    def get(
        cls, workspace: Any, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> PipelineDraft:
        entry = registry.read(workspace, _KIND, id)
        if entry is None:
            known = sorted(e["id"] for e in registry.entries(workspace, _KIND))
            raise UserErrorException(
                f"No PipelineDraft {id!r} in workspace {workspace.name!r}; drafts: {known}."
            )
        return cls(workspace, entry)

    @classmethod
    def list(cls, workspace: Any, tags: dict | None = None, **_: Any) -> list[PipelineDraft]:
        """Every draft, or those whose tags include all of ``tags`` (key and value), oldest first."""
        wanted = dict(tags or {})
        drafts = [cls(workspace, e) for e in registry.entries(workspace, _KIND)]
        drafts = [d for d in drafts if all(d.tags.get(k) == v for k, v in wanted.items())]
        return sorted(drafts, key=lambda d: (d._entry.get("created", 0), d.id))

    # -- changing ------------------------------------------------------------------------------
    def update(
        self,
        pipeline: Any = None,
        name: str | None = None,
        description: str | None = None,
        experiment_name: str | None = None,
        tags: dict | None = None,
        pipeline_parameters: dict | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> None:
        """Change what is given (a new pipeline is compiled and checked now); the id stays."""
        fields = {
            "name": name,
            "description": description,
            "experiment_name": experiment_name,
            "tags": tags,
            "pipeline_parameters": pipeline_parameters,
            "continue_on_step_failure": continue_on_step_failure,
        }
        if pipeline is not None:
            self._entry["plan"] = _compile(pipeline)
        self._apply({k: v for k, v in fields.items() if v is not None})
        self._save()

    def _apply(self, fields: dict[str, Any]) -> None:
        """Set ``fields`` on the entry, checking the experiment name and the parameters against the plan."""
        from airflow_azml.core.experiment import run_conf

        entry = {**self._entry, **{k: v for k, v in fields.items() if v is not None or k not in self._entry}}
        # checked (unknown name, wrong type) and kept as the JSON values a run's conf carries
        entry["pipeline_parameters"] = run_conf(entry["plan"], entry.get("pipeline_parameters"), None, False)
        experiment = entry.get("experiment_name")
        if experiment is not None and not _valid_name(experiment):
            raise UserErrorException(
                f"PipelineDraft {entry.get('name')!r}: experiment_name {experiment!r} is invalid; "
                "use letters, digits, '_', '-' and '.'."
            )
        self._entry = entry

    def _save(self) -> None:
        registry.write(self._workspace, _KIND, self.id, self._entry)

    def delete(self) -> None:
        """Remove the draft from the workspace (runs and published pipelines made from it stay)."""
        registry.delete(self._workspace, _KIND, self.id)

    # -- running and publishing ---------------------------------------------------------------
    def submit_run(self, _workflow_provider: Any = None, _service_endpoint: Any = None) -> Any:
        """Run the draft in its experiment with its parameter values; returns the PipelineRun."""
        from airflow_azml.core.experiment import Experiment, run_conf
        from airflow_azml.pipeline.core.backends import submit_plan

        if not self.experiment_name:
            raise UserErrorException(
                f"PipelineDraft {self.name!r} has no experiment_name; call update(experiment_name=...) first."
            )
        plan = {**self.plan, "dag_id": self.experiment_name}
        conf = run_conf(plan, self.pipeline_parameters, self.continue_on_step_failure, False)
        run = submit_plan(Experiment(self._workspace, self.experiment_name), plan, conf)
        self._entry["last_submitted_pipeline_run_id"] = run.id
        self._save()
        return run

    def publish(self, properties: dict | None = None) -> Any:
        """Publish the draft's pipeline under its name (the next version); returns the PublishedPipeline."""
        from airflow_azml.pipeline.core.published import publish_plan

        if not self.name:
            raise UserErrorException("PipelineDraft.publish needs a name: call update(name=...) first.")
        plan_for = lambda pid: {**self.plan, "dag_id": pid}  # noqa: E731 - the draft's plan under the new id
        return publish_plan(
            self._workspace, plan_for, self.name, self.description, None, self.continue_on_step_failure
        )

    def get_graph(self) -> dict[str, list[str]]:
        """Each step's task id -> the task ids it waits for."""
        return {tid: list(step.get("upstream", [])) for tid, step in self._entry["plan"]["steps"].items()}

    def __repr__(self) -> str:
        return (
            f"PipelineDraft(id={self.id!r}, name={self.name!r}, experiment_name={self.experiment_name!r}, "
            f"steps={sorted(self._entry['plan']['steps'])}, tags={self.tags!r})"
        )

    __str__ = __repr__


def _compile(pipeline: Any) -> dict[str, Any]:
    """The plan of ``pipeline`` (validated now); its dag id is set when it runs or is published."""
    from airflow_azml.compiler import compile_pipeline

    if not hasattr(pipeline, "ordered_graph"):
        raise UserErrorException(f"A PipelineDraft needs a Pipeline, not {pipeline!r}.")
    return compile_pipeline(pipeline, "draft")


def _valid_name(name: str) -> bool:
    from airflow_azml.compiler.plan import _valid_dag_id

    return _valid_dag_id(name)
