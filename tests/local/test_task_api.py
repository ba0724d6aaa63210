"""The in-process Execution API warmed before the task children fork (provider/local/task_api.py): a
request reads no endpoint source, analyses no dependency and builds no parameter model's fields
(all done for every route before), and still answers as before. Real Airflow, real in-process API, real SQLite DB (a fresh
process, since the warm-up changes FastAPI's per-process state)."""

from __future__ import annotations

from airflow_azml.provider.local.embedded import airflow_home, embedded_env, ensure_db
from tests.support.processes import python_json

SCRIPT = r"""
import inspect, json
import fastapi.dependencies.utils as fastapi_deps
from airflow_azml.provider.local.task_api import warm_task_api
from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

warm_task_api()
warm_task_api()  # again (each local run calls it): nothing is wrapped twice
client = InProcessTestSupervisor._api_client()  # what a task's requests go through (with its overrides)

sources, analyses = [], []
real_source, real_signature = inspect.getsourcelines, fastapi_deps.get_typed_signature
inspect.getsourcelines = lambda obj: (sources.append(obj), real_source(obj))[1]
fastapi_deps.get_typed_signature = lambda call: (analyses.append(call), real_signature(call))[1]

models_built = fastapi_deps.get_cached_model_fields.cache_info().misses
rounds = []
for value in ("one", "two"):
    analyses.clear()
    client.variables.set("azml_task_api_check", value)
    got = client.variables.get("azml_task_api_check")
    # what an upstream pull asks (its query is a parameter model): no such XCom, an empty slice
    pulled = client.xcoms.get_sequence_slice("no_dag", "no_run", "no_task", "azml_outputs", None, None, None)
    rounds.append({"value": got.value, "pulled": pulled.root, "analyses": len(analyses)})
print(json.dumps({
    "rounds": rounds,
    "sources": len(sources),
    "models_built": fastapi_deps.get_cached_model_fields.cache_info().misses - models_built,
    "kept": fastapi_deps.get_dependant.azml_kept,
}))
"""


def test_a_warmed_api_repeats_no_work_and_answers_the_same(embedded_airflow_home):
    env = embedded_env(airflow_home() / "dags")
    ensure_db(env)
    seen = python_json(SCRIPT, env=env, timeout=300)
    assert [(r["value"], r["pulled"]) for r in seen["rounds"]] == [("one", []), ("two", [])]
    # every endpoint's location was found, every dependency analysed and every parameter model's
    # fields built before the first request
    assert seen["sources"] == 0
    assert [r["analyses"] for r in seen["rounds"]] == [0, 0]
    assert seen["models_built"] == 0
    assert seen["kept"] is True
