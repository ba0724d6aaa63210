"""Lineage on the Airflow side: step data as Assets, their events, and OpenLineage facets.

``plan_assets`` turns the plan's lineage (``compiler/lineage.py``, pure) into ``Asset`` objects,
one per location (a producer's outlet and its consumers' inlet are the same object), so the
renderer gives every task its ``inlets`` and ``outlets`` at parse time without I/O.
``AZML_LINEAGE=0`` turns the declarations off (a DAG then looks as it did before #16).

:class:`LineageMixin` (a base of every step operator) fills ``outlet_events`` after a successful
step (``execution/lineage_events.py`` says what each event carries) and answers the OpenLineage
provider's ``get_openlineage_facets_on_start`` / ``_on_complete`` / ``_on_failure`` with the
same inputs and outputs; OpenLineage is imported only inside them, as Airflow's providers do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import attrs
from airflow.sdk import Asset, AssetAlias

from airflow_azml.compiler.lineage import StepLineage, plan_lineage

if TYPE_CHECKING:
    from airflow_azml.data.asset_uri import AssetRef

__all__ = ["plan_assets", "lineage_enabled", "LineageMixin", "StepAssets"]

#: a step's (inlets, outlets): its Assets (and the AssetAlias of a dataset it registers)
StepAssets = tuple[list[Asset], list[Any]]


def lineage_enabled() -> bool:
    """``AZML_LINEAGE`` (default on): declare step data as Assets."""
    return os.environ.get("AZML_LINEAGE", "1").strip().lower() not in ("0", "false", "no", "off")


class _AssetMaker:
    """``Asset(name=uri, uri=uri)`` for the canonical URIs of ``data/asset_uri.py``, ~10x cheaper.

    ``Asset()`` costs ~10 µs (attrs validators, URI sanitizing, a provider lookup for the scheme's
    normalizer): 5% of a 200-step DAG file's parse. Our URIs are already in the form Airflow's
    sanitizing gives back (tests/operators/test_lineage.py checks every kind, and every field,
    against ``Asset()``), so an asset gets its name and URI as they are and the other fields their
    attrs defaults (fresh containers for the mutable ones). A URI that could need sanitizing (a
    trailing '/', a query, a fragment, upper case in its scheme, a non-ASCII character) goes
    through ``Asset()``.
    """

    def __init__(self) -> None:
        values = [(a.name, _default(a)) for a in Asset.__attrs_attrs__ if a.name not in ("name", "uri")]  # type: ignore[attr-defined]
        self.shared = [(f, v) for f, v in values if not isinstance(v, (dict, list, set))]
        self.fresh = [(f, type(v)) for f, v in values if isinstance(v, (dict, list, set))]
        self.made: dict[str, Asset] = {}

    def __call__(self, uri: str) -> Asset:
        """The Asset of ``uri`` (one object per URI: a producer's outlet is its consumers' inlet)."""
        return self.made.get(uri) or self.new(uri)

    def new(self, uri: str) -> Asset:
        """A new Asset for ``uri``, kept for the next ask (``_assets`` looks in ``made`` itself first)."""
        if (
            not uri.isascii()
            or "?" in uri
            or "#" in uri
            or uri[-1] == "/"
            or not uri.partition(":")[0].islower()
        ):
            asset = Asset(name=uri, uri=uri)
        else:
            asset = object.__new__(Asset)
            setattr_ = object.__setattr__
            setattr_(asset, "name", uri)
            setattr_(asset, "uri", uri)
            for field, value in self.shared:
                setattr_(asset, field, value)
            for field, kind in self.fresh:
                setattr_(asset, field, kind())
        self.made[uri] = asset
        return asset


def _default(field: Any) -> Any:
    """The value ``Asset()`` gives a field it is not passed (attrs default or factory; a factory that
    takes ``self`` reads only class attributes, such as ``asset_type`` for ``group``)."""
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory(Asset) if default.takes_self else default.factory()
    return default


def _assets(maker: _AssetMaker, refs: dict[str, AssetRef]) -> list[Asset]:
    made, new = maker.made, maker.new  # a URI seen before (a consumer's inlet) costs no call
    if len(refs) == 1:  # most steps: one input, one output
        uri = next(iter(refs.values())).uri
        return [made.get(uri) or new(uri)]
    return [made.get(uri) or new(uri) for uri in dict.fromkeys(ref.uri for ref in refs.values())]


def plan_assets(plan: dict[str, Any]) -> tuple[dict[str, StepLineage], dict[str, StepAssets]]:
    """(task_id -> its StepLineage, task_id -> its inlet and outlet Assets) for every step of ``plan``.

    An asset's name is its URI (``data/asset_uri.py``), so whatever declares the same location
    declares the same Asset.
    """
    maker = _AssetMaker()
    lineages = plan_lineage(plan)
    _watch_registered(maker, plan, lineages)
    assets: dict[str, StepAssets] = {}
    for task_id, lineage in lineages.items():
        inlets = _assets(maker, lineage.inlets)
        outlets: list[Any] = _assets(maker, lineage.outlets)
        if lineage.registers:
            outlets += [AssetAlias(name=register_alias(r)) for r in lineage.registers.values()]
        assets[task_id] = (inlets, outlets)
    return lineages, assets


def register_alias(ref: AssetRef) -> str:
    """The AssetAlias a ``register_on_complete`` step declares: a run adds the dataset's new version
    through it, and a reused run (no new version) adds nothing, where a plain outlet would always
    have an event."""
    return f"azml-register:{ref.uri}"


def _watch_registered(maker: _AssetMaker, plan: dict[str, Any], lineages: dict[str, StepLineage]) -> None:
    """A registered dataset's Asset is declared with its version watcher (``triggers.dataset_asset``)
    wherever it appears: Airflow keeps one declaration per asset, and one without the watcher (a
    task's inlet) would remove the watcher of a DAG scheduled on that dataset."""
    names = {
        unquote(ref.path.partition("/")[2])
        for lineage in lineages.values()
        for ref in lineage.inlets.values()
        if ref.uri.startswith("azureml://") and ref.path.startswith("datasets/")
    }
    if names:
        from airflow_azml.provider.triggers import dataset_asset

        for name in names:
            asset = dataset_asset(plan["workspace"], name)
            maker.made[asset.uri] = asset


class LineageMixin:
    """Asset events and OpenLineage facets of a step operator.

    The renderer keeps the DAG's lineage once, in the steps' shared ``pipeline`` data
    (``pipeline["lineage"][task_id]``), instead of on each operator: an operator attribute set at
    parse time costs a trip through BaseOperator's ``__setattr__`` per task.
    """

    pipeline: dict[str, Any] | None
    task_id: str
    #: set when the step succeeded: outlet key -> the extra of its asset event
    _azml_event_extras: dict[str, dict[str, Any]] | None = None

    @property
    def lineage(self) -> StepLineage | None:
        return ((self.pipeline or {}).get("lineage") or {}).get(self.task_id)

    def _note_assets(self, attempt: Any) -> None:
        """The run record names each port's asset (the pipeline view links it to its Asset page)."""
        if self.lineage:
            attempt.record["assets"] = self.lineage.as_record()

    def _emit_asset_events(self, context: Any, attempt: Any, result: Any) -> None:
        """One asset event per output of this successful run: the extra says where, what, which run."""
        if not self.lineage or not self.lineage.outlets:
            return
        from airflow_azml.execution.lineage_events import output_event_extras

        extras = output_event_extras(
            attempt.ws,
            run_id=attempt.inv.run_id,
            step=attempt.step,
            result=result,
            outlets=list(self.lineage.outlets),
            record=attempt.record,
            log=self.log,  # type: ignore[attr-defined]
        )
        events = context["outlet_events"]
        for key, ref in self.lineage.outlets.items():
            events[Asset(name=ref.name, uri=ref.uri)].extra.update(extras[key])
        outputs = (result.get("outputs") or {}) if not result.get("reused") else {}
        for key, ref in self.lineage.registers.items():  # register_on_complete: the new version
            registered = (outputs.get(key) or {}).get("registered")
            if registered:
                extra = {**extras.get(key, {}), "output": key, **registered}
                events[AssetAlias(name=register_alias(ref))].add(
                    Asset(name=ref.name, uri=ref.uri), extra=extra
                )
        self._azml_event_extras = extras  # for OpenLineage's COMPLETE event, in this same process

    # -- OpenLineage (the provider calls these; imported only when it does) -----------------------
    def _openlineage(self, complete: bool = False) -> Any:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        lineage = self.lineage or StepLineage()
        extras = (self._azml_event_extras or {}) if complete else {}

        def output(key: str, ref: AssetRef) -> Any:
            extra = extras.get(key) or {}
            if extra.get("size") is None and extra.get("rows") is None:
                return Dataset(namespace=ref.namespace, name=ref.path)
            stats = OutputStatisticsOutputDatasetFacet(
                rowCount=extra.get("rows"), size=extra.get("size"), fileCount=extra.get("files")
            )
            return OutputDataset(
                namespace=ref.namespace, name=ref.path, outputFacets={"outputStatistics": stats}
            )

        inputs = {ref.uri: Dataset(namespace=ref.namespace, name=ref.path) for ref in lineage.inlets.values()}
        outputs = {ref.uri: output(key, ref) for key, ref in lineage.outlets.items()}
        return OperatorLineage(inputs=list(inputs.values()), outputs=list(outputs.values()))

    def get_openlineage_facets_on_start(self) -> Any:
        """The step's inputs and outputs, as OpenLineage datasets (the same as its Asset inlets/outlets)."""
        return self._openlineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The same, each output with its size and file count (``outputStatistics``) from this run."""
        return self._openlineage(complete=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self._openlineage()
