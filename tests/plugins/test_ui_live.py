"""The pipeline view's JSON endpoint on a real api-server: Airflow data reaches it through the package's
one REST client (client/rest.py) with the caller's token, and Airflow's answers become the view's.

Light deployment: the api-server and the dag-processor only. The run is created through the REST
API on the paused DAG, so nothing executes: its steps are listed with their Airflow states.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import REPO
from tests.support.live_airflow import LiveAirflow, live_airflow

pytestmark = pytest.mark.slow

DAG_ID = "seed_pipeline"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    root = tmp_path_factory.mktemp("ui_live")
    dags = root / "dags"
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    yield from live_airflow(
        dags,
        wait_dag=DAG_ID,
        home=root / "airflow",
        extra_env={"AZML_HOME": str(root / "azml_home")},
        processes=(("dag-processor", ["dag-processor"]),),
    )


def _view_url(af: LiveAirflow, run_id: str) -> str:
    return f"{af.base_url}/azml-ui/api/pipeline/{DAG_ID}/{quote(run_id, safe='')}"


def test_view_json_lists_the_runs_steps_from_airflows_rest_api(live: LiveAirflow) -> None:
    resp = live.api("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    tasks = sorted(t["task_id"] for t in live.api("GET", f"/api/v2/dags/{DAG_ID}/tasks").json()["tasks"])

    view = httpx.get(_view_url(live, run_id), headers={"Authorization": f"Bearer {live.token()}"}, timeout=60)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["dag_id"] == DAG_ID and body["run_id"] == run_id
    assert sorted(s["task_id"] for s in body["steps"]) == tasks
    assert {s["status"] for s in body["steps"]} <= {"NotStarted", "Queued"}  # the DAG is paused
    assert [e for e in body["edges"] if e["kind"] == "order"]  # edges from the tasks' downstream lists

    viewer = httpx.get(_view_url(live, run_id), headers={"Authorization": f"Bearer {live.token('viewer1')}"})
    assert viewer.status_code == 200


def test_airflows_errors_come_back_with_their_status(live: LiveAirflow) -> None:
    headers = {"Authorization": f"Bearer {live.token()}"}
    missing = httpx.get(_view_url(live, "no_such_run"), headers=headers, timeout=60)
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"DAG {DAG_ID!r} has no run 'no_such_run'."
    assert httpx.get(_view_url(live, "no_such_run"), timeout=60).status_code == 401
