"""The Airflow side: everything that imports Airflow, and nothing else does.

- ``operators``: the renderer (plan -> DAG), one operator per step kind on one step lifecycle,
  the published-pipeline loader, lineage declarations and extra links;
- ``hooks``: datastore I/O through Airflow connections and the providers' own hooks;
- ``triggers`` and ``timetables``: deferrable waits, datastore watchers, schedules;
- ``xcom``: the XCom backend that keeps large values on the default datastore;
- ``plugins``: the UI views and the REST submit API;
- ``local``: the embedded Airflow that runs pipelines on a laptop;
- ``deployment``: writing and checking an Airflow deployment's configuration.

The v1 model reaches this package only through the orchestrator port
(``airflow_azml.core._orchestrator``); see docs/architecture.md.
"""
