"""doc_md of a pipeline DAG: each step's type, compute, script, data in/out (with datastore), run_after, params."""

from __future__ import annotations

from pathlib import Path

from airflow_azml.compiler.capture import plans_of
from airflow_azml.provider.operators.render import describe_plan
from tests.conftest import write

DAG = """from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
feats = PipelineData("feats", datastore=ws.get_default_datastore())
n = PipelineParameter("n", default_value=3)
prep = PythonScriptStep(name="prep", script_name="s.py", source_directory="steps", outputs=[feats],
                        arguments=["--n", n], compute_target="cpu")
train = PythonScriptStep(name="train", script_name="s.py", source_directory="steps", inputs=[feats])
notify = PythonScriptStep(name="notify", script_name="s.py", source_directory="steps")
notify.run_after(train)
dag = Pipeline(workspace=ws, steps=[notify, train], description="Doc test").to_dag("doc_pipe")
"""


def test_doc_md_lists_steps_data_and_parameters(workspace_dir: Path) -> None:
    write(workspace_dir / "steps" / "s.py", "print(1)\n")
    plan = plans_of(write(workspace_dir / "doc_pipe.py", DAG))[0]["plan"]
    doc = describe_plan(plan).splitlines()
    assert doc[:3] == ["# doc_pipe", "", "Doc test"]
    assert "| prep | python_script | cpu | `s.py` | - | `feats` → workspaceblobstore | - |" in doc
    assert "| train | python_script | local | `s.py` | `feats` ← prep.feats | - | - |" in doc
    assert "| notify | python_script | local | `s.py` | - | - | train |" in doc
    assert "| `n` | int | `3` |  |" in doc
