"""bulk (cpu, 40 x 1 MiB of seeded random bytes) -> verify (gpu, sha256 of each): Azurite pauses under it."""

from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
blobs = PipelineData("blobs", datastore=ws.get_default_datastore())
digests = PipelineData("digests", datastore=ws.get_default_datastore())
seed = PipelineParameter("seed", default_value=1)

bulk = PythonScriptStep(
    name="bulk",
    script_name="bulk.py",
    source_directory="steps",
    compute_target="cpu",
    arguments=["write", "--out", blobs, "--seed", seed],
    outputs=[blobs],
    allow_reuse=False,
)
verify = PythonScriptStep(
    name="verify",
    script_name="bulk.py",
    source_directory="steps",
    compute_target="gpu",
    arguments=["digest", "--src", blobs, "--out", digests],
    inputs=[blobs],
    outputs=[digests],
    allow_reuse=False,
)

dag = Pipeline(ws, [verify]).to_dag("celery_upload")
