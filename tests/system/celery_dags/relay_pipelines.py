"""Token relays: celery_chain (a -> b -> c, 3 s each; the scheduler restarts under it) and
celery_many (emit -> echo, tiny; triggered 20 times at once with a tag each)."""

from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
store = ws.get_default_datastore()


def relay(name: str, target: str, add: object, src: PipelineData | None, sleep: float):
    """A step appending ``add`` to the token read from ``src``; returns (step, its token output)."""
    out = PipelineData(f"{name}_token", datastore=store)
    args = ["--out", out, "--add", add, "--sleep", sleep] + (["--src", src] if src is not None else [])
    step = PythonScriptStep(
        name=name,
        script_name="relay.py",
        source_directory="steps",
        compute_target=target,
        arguments=args,
        inputs=[src] if src is not None else [],
        outputs=[out],
        allow_reuse=False,
    )
    return step, out


_, a_out = relay("a", "cpu", "a", None, 3)
_, b_out = relay("b", "gpu", "b", a_out, 3)
c, _ = relay("c", "cpu", "c", b_out, 3)
chain = Pipeline(ws, [c]).to_dag("celery_chain")

tag = PipelineParameter("tag", default_value="none")
_, emit_out = relay("emit", "cpu", tag, None, 0)
echo, _ = relay("echo", "gpu", "|echo", emit_out, 0)
many = Pipeline(ws, [echo]).to_dag("celery_many")
