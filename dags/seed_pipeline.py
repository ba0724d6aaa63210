"""Seed pipeline: a registered CSV dataset -> prep (PythonScriptStep) -> train (EstimatorStep).

Drop this folder (with config.json, data/ and steps/) into an Airflow dags folder, or run it
locally with `azml run dags/seed_pipeline.py`.
"""

from airflow_azml.core import Dataset, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import EstimatorStep, PythonScriptStep
from airflow_azml.train.estimator import Estimator

ws = Workspace.from_config()
raw = Dataset.get_by_name(ws, "my_data")
processed = PipelineData("processed", datastore=ws.get_default_datastore())
model = PipelineData("model", datastore=ws.get_default_datastore())
min_rows = PipelineParameter("min_rows", default_value=10)

prep = PythonScriptStep(
    name="prep",
    script_name="prep.py",
    source_directory="steps/prep",
    inputs=[raw.as_named_input("raw_data")],
    outputs=[processed],
    arguments=["--folder", processed, "--min", min_rows],
    compute_target="cpu",
)

estimator = Estimator(
    source_directory="steps/train",
    entry_script="train.py",
    script_params={"--learning-rate": 0.1},
    compute_target="cpu",
)
train = EstimatorStep(
    name="train",
    estimator=estimator,
    estimator_entry_script_arguments=["--model-dir", model],
    inputs=[processed.as_dataset().parse_delimited_files()],
    outputs=[model],
)

pipeline = Pipeline(workspace=ws, steps=[train], description="Seed: prep a CSV dataset, train a small model")
dag = pipeline.to_dag("seed_pipeline")
