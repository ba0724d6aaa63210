"""make (cpu) -> square (gpu) -> total (cpu): each step on the worker serving its target's queue."""

from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
store = ws.get_default_datastore()
numbers = PipelineData("numbers", datastore=store)
squares = PipelineData("squares", datastore=store)
total = PipelineData("total", datastore=store)
count = PipelineParameter("count", default_value=5)

make = PythonScriptStep(
    name="make",
    script_name="numbers.py",
    source_directory="steps",
    compute_target="cpu",
    arguments=["make", "--out", numbers, "--count", count],
    outputs=[numbers],
    allow_reuse=False,
)
square = PythonScriptStep(
    name="square",
    script_name="numbers.py",
    source_directory="steps",
    compute_target="gpu",
    arguments=["square", "--src", numbers, "--out", squares],
    inputs=[numbers],
    outputs=[squares],
    allow_reuse=False,
)
add_up = PythonScriptStep(
    name="total",
    script_name="numbers.py",
    source_directory="steps",
    compute_target="cpu",
    arguments=["total", "--src", squares, "--out", total],
    inputs=[squares],
    outputs=[total],
    allow_reuse=False,
)

dag = Pipeline(ws, [add_up]).to_dag("celery_routes")
