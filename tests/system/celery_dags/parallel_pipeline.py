"""score-files: a ParallelRunStep on the `batch` queue, which both workers serve, node_count a
PipelineParameter (1 by default, 2 at submit): node 0 is the step's task, node 1 the node task
mapped at run time over what `score-files__node_count` computes; both claim mini-batches."""

from airflow_azml.core import Dataset, Environment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import ParallelRunConfig, ParallelRunStep

ws = Workspace.from_config()
store = ws.get_default_datastore()
config = ParallelRunConfig(
    source_directory="steps",
    entry_script="score_files.py",
    environment=Environment("batch"),
    compute_target="batch",
    node_count=PipelineParameter("nodes", default_value=1),
    process_count_per_node=1,
    mini_batch_size=2,
    error_threshold=0,
    output_action="append_row",
)
step = ParallelRunStep(
    name="score-files",
    parallel_run_config=config,
    inputs=[Dataset.File.from_files(path=(store, "prs_input/*.txt")).as_named_input("docs").as_download()],
    output=PipelineData("scores", datastore=store),
    allow_reuse=False,
)

dag = Pipeline(ws, [step]).to_dag("celery_parallel")
