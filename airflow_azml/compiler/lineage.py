"""Lineage of a plan: the data each step reads (inlets) and writes (outlets), as stable asset names.

Pure and cheap (no I/O, no Airflow): computed from the plan when the DAG is rendered, so every
task declares its Assets at parse time. A step output's asset names its *logical* location
(``azureml/<dag_id>/<task>/<name>`` on its datastore, see ``data/asset_uri.py``), the same for
every run; each run's own path goes into the asset event. A consumer's inlet is the very asset
its producer declares as outlet, so Airflow draws the edge.

What each kind of step reads and writes:

- outputs (PipelineData, OutputFileDatasetConfig, HyperDrive/ParallelRun/Databricks outputs):
  the output's datastore + logical path; a DataTransferStep's output is its destination
  (a fixed datastore path, or a SQL table, which has no output port: it is keyed ``sql:<table>``);
- inputs from another step: that step's output asset; from a DataReference or a DataPath
  parameter (its default): the datastore path; a DataTransferStep's SQL source table;
- a registered dataset (``Dataset.get_by_name``, as an input or a parameter's default) is the
  registry's asset of its name (``registry_asset`` in ``data/watch.py``), whose events are its
  versions; a dataset defined in place (``Dataset.File.from_files``) has no stable name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_azml.data.asset_uri import (
    AssetRef,
    DatastoreBase,
    datastore_base,
    logical_output_path,
    table_asset,
)
from airflow_azml.data.watch import registry_asset

__all__ = ["StepLineage", "plan_lineage", "SQL_OUTLET_PREFIX"]

SQL_OUTLET_PREFIX = "sql:"


@dataclass(slots=True)
class StepLineage:
    """A step's inlets (input name -> asset) and outlets (output name -> asset), in plan order."""

    inlets: dict[str, AssetRef] = field(default_factory=dict)
    outlets: dict[str, AssetRef] = field(default_factory=dict)
    #: output name -> the registered dataset it becomes a version of (``register_on_complete``)
    registers: dict[str, AssetRef] = field(default_factory=dict)

    def as_record(self) -> dict[str, dict[str, str]]:
        """The asset URIs by port name, as the step's run record keeps them (``assets``)."""
        return {
            "inputs": {name: ref.uri for name, ref in self.inlets.items()},
            "outputs": {name: ref.uri for name, ref in self.outlets.items()},
        }


class _Namer:
    """Asset names from the plan's workspace (datastore specs), one AssetRef per location."""

    def __init__(self, plan: Mapping[str, Any]):
        cfg = (plan.get("workspace") or {}).get("config") or {}
        self.cfg = cfg
        self.datastores: Mapping[str, Any] = cfg.get("datastores") or {}
        self.default = str(cfg.get("default_datastore") or "workspaceblobstore")
        self.dag_id = str(plan["dag_id"])
        self._bases: dict[str, DatastoreBase] = {}

    def path(self, datastore: str | None, path: str) -> AssetRef:
        name = datastore or self.default
        base = self._bases.get(name)
        if base is None:
            spec = self.datastores.get(name)
            try:
                base = datastore_base(spec, datastore=name, workspace=self.cfg)
            except ValueError:  # an incomplete spec or a SQL datastore: the step itself reports that
                base = datastore_base(None, datastore=name, workspace=self.cfg)
            self._bases[name] = base
        return base.at(path)

    def table(self, datastore: str | None, table: str) -> AssetRef | None:
        name = datastore or self.default
        try:
            return table_asset(self.datastores.get(name), table, datastore=name)
        except ValueError:
            return None

    def output(self, step: Mapping[str, Any], out: Mapping[str, Any]) -> AssetRef:
        dest = step.get("destination") if step.get("kind") == "data_transfer" else None
        if dest and dest.get("kind") == "datastore" and out["name"] == step.get("output_name"):
            return self.path(dest.get("datastore"), str(dest.get("path") or ""))
        return self.path(out.get("datastore"), logical_output_path(out, self.dag_id, step["task_id"]))


def plan_lineage(plan: Mapping[str, Any]) -> dict[str, StepLineage]:
    """task_id -> StepLineage for every step of ``plan`` (one pass: a plan lists producers first)."""
    namer = _Namer(plan)
    lineage: dict[str, StepLineage] = {}
    later: list[tuple[StepLineage, Mapping[str, Any]]] = []  # inputs from a step listed after them
    for task_id, step in plan["steps"].items():
        here = lineage[task_id] = StepLineage()
        for out in step.get("outputs") or ():
            here.outlets[out["name"]] = namer.output(step, out)
            register = out.get("register")
            if register and register.get("name"):
                here.registers[out["name"]] = registry_asset(namer.cfg, "datasets", str(register["name"]))
        for spec in step.get("inputs") or ():
            if spec.get("source") == "step_output":
                producer = lineage.get(spec["step"])
                if producer is None:
                    later.append((here, spec))
                    continue
                ref = producer.outlets.get(spec["output"])
            else:
                ref = _input(namer, plan, spec)
            if ref is not None:
                here.inlets[spec["name"]] = ref
        if step.get("kind") == "data_transfer":
            _tables(namer, step, here)
    for here, spec in later:
        ref = lineage[spec["step"]].outlets.get(spec["output"]) if spec["step"] in lineage else None
        if ref is not None:
            here.inlets[spec["name"]] = ref
    return lineage


def _tables(namer: _Namer, step: Mapping[str, Any], here: StepLineage) -> None:
    """A DataTransferStep's SQL ends: the table it reads is an inlet, the one it loads an outlet."""
    for end, ports in (("source", here.inlets), ("destination", here.outlets)):
        spec = step.get(end) or {}
        if spec.get("kind") == "sql" and spec.get("sql_table"):
            table = namer.table(spec.get("datastore"), spec["sql_table"])
            if table is not None:
                ports[f"{SQL_OUTLET_PREFIX}{spec['sql_table']}"] = table


def _input(namer: _Namer, plan: Mapping[str, Any], spec: Mapping[str, Any]) -> AssetRef | None:
    source = spec.get("source")
    if source == "datastore":
        return namer.path(spec.get("datastore"), str(spec.get("path") or ""))
    if source == "dataset":
        return _dataset(namer, spec.get("dataset"))
    if source == "param":
        default = ((plan.get("parameters") or {}).get(spec.get("param")) or {}).get("default")
        if isinstance(default, Mapping) and "path_on_datastore" in default:  # a DataPath's default
            return namer.path(default.get("datastore"), str(default.get("path_on_datastore") or ""))
        return _dataset(namer, default)
    return None


def _dataset(namer: _Namer, ref: Any) -> AssetRef | None:
    """A registered dataset's asset (by name); None for a definition or anything else."""
    if isinstance(ref, Mapping) and ref.get("name"):
        return registry_asset(namer.cfg, "datasets", str(ref["name"]))
    return None
