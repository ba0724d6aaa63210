"""What a local run prepares once before its task children fork (provider/local/task_api.ready_for_run):
one DAG bag that already holds the run's DAG for every task's requests, and the SQL of the read-only
requests and of the asset-event registration compiled, with nothing written and no listener told.
Real Airflow, a real pipeline DAG file with lineage, the real SQLite DB, a fresh process (the
preparation changes per-process state), then the run itself through the real runner."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_azml.provider.local.embedded import airflow_home, embedded_env, ensure_db
from bench.bench_chain import OURS
from bench.bench_chain import SCRIPT as TINY
from tests.support.processes import python_json

#: a 3-step chain with lineage (each step one PipelineData output, the next one's input)
DAG_FILE = OURS.format(steps=3)
DAG_ID = "bench_chain_ours"

SCRIPT = r"""
import json, sys
from datetime import datetime, timezone
from pathlib import Path

import structlog
from airflow import settings
from airflow.api_fastapi.common.dagbag import dag_bag_from_app
from airflow.api_fastapi.execution_api.routes.task_instances import validate_inlets_and_outlets
from airflow.api_fastapi.execution_api.routes.xcoms import GetXComSliceFilterParams, get_mapped_xcom_by_slice
from airflow.listeners import hookimpl
from airflow.listeners.listener import get_listener_manager
from airflow.models.taskinstance import TaskInstance
from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, in_process_api_server
from airflow.serialization.definitions.assets import SerializedAsset
from sqlalchemy import func, select
from airflow.models.asset import AssetEvent

from airflow_azml.provider.local.loop import LocalDagRun, parse_dag
from airflow_azml.provider.local.task_api import warm_task_api


class Heard:
    events = []

    @hookimpl
    def on_asset_changed(self, asset):
        Heard.events.append(asset.uri)


get_listener_manager().add_listener(Heard())
warm_task_api()
dag = parse_dag(Path(sys.argv[1]), sys.argv[3])
run = LocalDagRun(dag, Path(sys.argv[2]), 2)
when = datetime.now(timezone.utc)
dr = run.start(when, "manual__ready_check", {})  # ready_for_run is called here

out = {"contextvars": sorted(structlog.contextvars.get_contextvars())}

# the statements of a later task's reads and asset registration are compiled already: no new entry
cache = settings.engine._compiled_cache
session = settings.NonScopedSession()
ti = session.scalar(select(TaskInstance).where(TaskInstance.run_id == dr.run_id, TaskInstance.task_id == "s2"))
before = set(cache.keys())
bag = InProcessTestSupervisor.__dict__["_api_client"].__func__.azml_bag  # the run's, as its tasks' requests get it
validate_inlets_and_outlets(task_instance_id=ti.id, session=session, dag_bag=bag)
get_mapped_xcom_by_slice(dag_id=dr.dag_id, run_id=dr.run_id, task_id="s1", key="azml_outputs",
                         params=GetXComSliceFilterParams(), session=session)
task = bag.get_dag_for_run(dag_run=dr, session=session).get_task("s2")
TaskInstance.register_asset_changes_in_db(
    ti, [a.asprofile() for a in task.outlets if isinstance(a, SerializedAsset)], [], session=session
)
session.rollback()
out["compiled_anew"] = [str(cache[k])[:120] for k in set(cache.keys()) - before]
out["events_before_run"] = session.scalar(
    select(func.count()).select_from(AssetEvent).where(AssetEvent.source_dag_id == dr.dag_id)
)
session.close()
out["listener_heard_before_run"] = list(Heard.events)
out["state"] = run.run()
# a task's client (made here only after the run: it starts the in-process API's thread, which forked task
# children must not inherit) answers the DAG bag with the run's one bag, already holding its DAG
InProcessTestSupervisor._api_client(dag)
bag_1 = in_process_api_server().app.dependency_overrides[dag_bag_from_app]()
InProcessTestSupervisor._api_client(dag)  # the next task's client: the same bag
bag_2 = in_process_api_server().app.dependency_overrides[dag_bag_from_app]()
out["one_bag"] = bag_1 is bag_2
out["bag_holds_the_run_dag"] = list(bag_1._dags) == [dr.created_dag_version_id]
print(json.dumps(out))
"""


def test_a_run_prepares_its_tasks_once_and_writes_nothing_ahead(embedded_airflow_home, tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "tiny.py").write_text(TINY)
    (tmp_path / "ready_check.py").write_text(DAG_FILE)
    (tmp_path / "config.json").write_text(json.dumps({"workspace_name": "ready_check"}))
    env = {**embedded_env(airflow_home() / "dags"), "AZML_HOME": str(tmp_path / "azml")}
    ensure_db(env)
    args = (str(tmp_path / "ready_check.py"), str(tmp_path / "status.json"), DAG_ID)
    seen = python_json(SCRIPT, *args, env=env, cwd=tmp_path, timeout=600)
    assert "ti_id" not in seen["contextvars"]  # the check's log binding did not leak into the tasks
    assert seen["one_bag"] and seen["bag_holds_the_run_dag"]
    assert seen["compiled_anew"] == []
    # nothing written ahead, no listener told: the only asset events are the steps' own
    assert seen["events_before_run"] == 0 and seen["listener_heard_before_run"] == []
    assert seen["state"] == "success"
    status = json.loads((tmp_path / "status.json").read_text())
    assert {t: s["state"] for t, s in status["tasks"].items()} == {
        "s0": "success",
        "s1": "success",
        "s2": "success",
    }
    import sqlite3

    with sqlite3.connect(airflow_home() / "airflow.db") as db:
        events = db.execute(
            "SELECT source_task_id FROM asset_event WHERE source_dag_id=? ORDER BY 1", (DAG_ID,)
        ).fetchall()
    assert events == [("s0",), ("s1",), ("s2",)]  # one per output, each from its step's success
