"""What a pipeline DAG file's parse loads and builds: the renderer's shortcuts give the DAG Airflow's
own calls would (bench/bench_parse.py measures the cost; these check the result)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write
from tests.support.processes import python_json

SCRIPT_DAG = """from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
a, b = PipelineData("a"), PipelineData("b")
prep = PythonScriptStep("s.py", name="prep", source_directory="src", outputs=[a, b])
left = PythonScriptStep("s.py", name="left", source_directory="src", inputs=[a])
right = PythonScriptStep("s.py", name="right", source_directory="src", inputs=[a, b])
join = PythonScriptStep("s.py", name="join", source_directory="src")
join.run_after(left)
join.run_after(right)
dag = Pipeline(ws, [join, left, right, prep]).to_dag("parse_shape")
"""

_MODULES_PROBE = """
import json, runpy, sys
runpy.run_path(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("airflow_azml.provider"))))
"""


def test_a_script_pipeline_parse_loads_no_other_step_kind(workspace_dir: Path):
    write(workspace_dir / "src" / "s.py", "print(1)\n")
    dag_file = write(workspace_dir / "parse_shape.py", SCRIPT_DAG)
    loaded = python_json(_MODULES_PROBE, str(dag_file), cwd=workspace_dir)
    assert "airflow_azml.provider.operators.render" in loaded
    for other in ("hyperdrive", "routing", "parallel_run", "databricks", "data_transfer", "adla"):
        assert f"airflow_azml.provider.operators.{other}" not in loaded


def test_the_dag_is_the_one_airflows_own_edges_give(workspace_dir: Path, monkeypatch):
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_azml.compiler.capture import plans_of
    from airflow_azml.provider.operators import render

    write(workspace_dir / "src" / "s.py", "print(1)\n")
    plan = plans_of(write(workspace_dir / "parse_shape.py", SCRIPT_DAG))[0]["plan"]
    dag = render.render_dag(plan)
    assert {t.task_id: t.upstream_task_ids for t in dag.tasks} == {
        "prep": set(),
        "left": {"prep"},
        "right": {"prep"},
        "join": {"left", "right"},
    }
    assert dag.get_task("prep").downstream_task_ids == {"left", "right"}

    def with_rshift(task, upstream):
        for up in upstream:
            up >> task

    monkeypatch.setattr(render, "_set_upstream", with_rshift)
    expected = render.render_dag(plan)
    assert DagSerialization.to_dict(dag) == DagSerialization.to_dict(expected)
