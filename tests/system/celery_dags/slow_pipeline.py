"""slow (cpu, writes parts for several seconds) -> check (gpu): the victim of the worker SIGKILL."""

from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
parts = PipelineData("parts", datastore=ws.get_default_datastore())
summary = PipelineData("summary", datastore=ws.get_default_datastore())

slow = PythonScriptStep(
    name="slow",
    script_name="parts.py",
    source_directory="steps",
    compute_target="cpu",
    arguments=["write", "--out", parts, "--parts", 6, "--pause", 1.5],
    outputs=[parts],
    allow_reuse=False,
)
check = PythonScriptStep(
    name="check",
    script_name="parts.py",
    source_directory="steps",
    compute_target="gpu",
    arguments=["check", "--src", parts, "--out", summary],
    inputs=[parts],
    outputs=[summary],
    allow_reuse=False,
)

dag = Pipeline(ws, [check]).to_dag("celery_slow")
