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

from airflow.sdk import Asset

from airflow_azml.compiler.lineage import StepLineage, plan_lineage

if TYPE_CHECKING:
    from airflow_azml.data.asset_uri import AssetRef

__all__ = ["plan_assets", "lineage_enabled", "LineageMixin", "StepAssets"]

#: task_id -> (lineage, inlets, outlets)
StepAssets = tuple[StepLineage, list[Asset], list[Asset]]


def lineage_enabled() -> bool:
    """``AZML_LINEAGE`` (default on): declare step data as Assets."""
    return os.environ.get("AZML_LINEAGE", "1").strip().lower() not in ("0", "false", "no", "off")


def plan_assets(plan: dict[str, Any]) -> dict[str, StepAssets]:
    """task_id -> (its StepLineage, inlet Assets, outlet Assets) for every step of ``plan``."""
    made: dict[str, Asset] = {}

    def asset(ref: AssetRef) -> Asset:
        if ref.uri not in made:
            made[ref.uri] = Asset(name=ref.name, uri=ref.uri)
        return made[ref.uri]

    out = {}
    for task_id, lineage in plan_lineage(plan).items():
        inlets = list({ref.uri: asset(ref) for ref in lineage.inlets.values()}.values())
        outlets = list({ref.uri: asset(ref) for ref in lineage.outlets.values()}.values())
        out[task_id] = (lineage, inlets, outlets)
    return out


class LineageMixin:
    """Asset events and OpenLineage facets of a step operator (its ``lineage`` is set by the renderer)."""

    lineage: StepLineage | None = None

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

    # -- OpenLineage (the provider calls these; imported only when it does) -----------------------
    def _openlineage(self) -> Any:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        lineage = self.lineage or StepLineage()

        def datasets(refs: dict[str, AssetRef]) -> list[Any]:
            unique = {ref.uri: ref for ref in refs.values()}
            return [Dataset(namespace=ref.namespace, name=ref.path) for ref in unique.values()]

        return OperatorLineage(inputs=datasets(lineage.inlets), outputs=datasets(lineage.outlets))

    def get_openlineage_facets_on_start(self) -> Any:
        """The step's inputs and outputs, as OpenLineage datasets (the same as its Asset inlets/outlets)."""
        return self._openlineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._openlineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self._openlineage()
