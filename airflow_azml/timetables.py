"""Airflow-side schedule code: the watcher DAG of a datastore schedule.

Every ``polling_interval`` minutes the watcher lists the schedule's folder (no subfolders) on
the datastore, then triggers the published pipeline once per new or changed blob with the
blob passed as the DataPath parameter. Each trigger uses a run id derived from the blob's path
and version, and ``skip_when_already_exists``: Airflow itself guarantees a blob version never
starts two runs, even if recording the seen versions failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, DeltaTriggerTimetable, task

__all__ = ["datastore_watcher_dag"]


def datastore_watcher_dag(entry: dict[str, Any], workspace: Any) -> DAG:
    """The DAG ``entry['id']`` that polls ``entry['path_on_datastore']`` and triggers ``entry['pipeline_id']``."""
    import pendulum

    spec = workspace.to_spec()
    with DAG(
        dag_id=entry["id"],
        schedule=DeltaTriggerTimetable(timedelta(minutes=int(entry.get("polling_interval") or 5))),
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=entry.get("status") != "Active",
        tags=["azml", "azml-schedule"],
        doc_md=f"Datastore schedule **{entry['name']}**: one run of `{entry['pipeline_id']}` per new or changed "
        f"blob in `{entry['datastore']}/{entry.get('path_on_datastore') or ''}`.",
    ) as dag:

        @task(task_id="find_new_blobs")
        def find_new_blobs() -> list[dict[str, Any]]:
            from airflow_azml.core.workspace import Workspace
            from airflow_azml.pipeline.core.schedule import new_blobs

            return new_blobs(Workspace.from_spec(spec), entry)

        @task(task_id="record_seen", trigger_rule="none_failed")
        def record(found: list[dict[str, Any]]) -> int:
            from airflow_azml.core.workspace import Workspace
            from airflow_azml.pipeline.core.schedule import record_seen

            record_seen(Workspace.from_spec(spec), entry, found)
            return len(found)

        found = find_new_blobs()
        triggers = TriggerDagRunOperator.partial(
            task_id="trigger_pipeline",
            trigger_dag_id=entry["pipeline_id"],
            skip_when_already_exists=True,
            logical_date=None,
        ).expand_kwargs(found)
        triggers >> record(found)
    return dag
