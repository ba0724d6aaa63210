"""The model registry: Model.register / Model(ws, name) / list / download / get_model_path, and
run.register_model from inside a step, on the workspace's default datastore."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Experiment, Workspace
from airflow_azml.core.model import Model, ModelNotFoundError
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.runtime import CONTEXT_ENV
from airflow_azml.runtime.run import Run
from tests.conftest import write


def _workspace(folder: Path, name: str) -> Workspace:
    write(folder / "config.json", json.dumps({"workspace_name": name}))
    return Workspace.from_config(folder)


def test_register_versions_lookup_and_download(azml_home: Path, tmp_path: Path, monkeypatch) -> None:
    ws = _workspace(tmp_path / "proj", "models-ws")
    model_file = write(tmp_path / "out" / "model.pkl", "v1 weights")
    first = Model.register(ws, str(model_file), "sales-model", tags={"area": "sales"}, description="first")
    write(model_file, "v2 weights")
    second = Model.register(ws, str(model_file), "sales-model", tags={"area": "sales", "stage": "prod"})
    assert (first.id, second.id, second.version) == ("sales-model:1", "sales-model:2", 2)

    assert Model(ws, "sales-model").version == 2
    old = Model(ws, "sales-model", version=1)
    assert (old.description, old.tags) == ("first", {"area": "sales"})
    assert Model(ws, id="sales-model:1").version == 1
    # the files are copies: changing the source after registering changes nothing
    assert Path(Model.get_model_path("sales-model", version=1, _workspace=ws)).read_text() == "v1 weights"
    assert Path(Model.get_model_path("sales-model", _workspace=ws)).read_text() == "v2 weights"
    # stored on this workspace's default datastore
    root = ws.get_default_datastore().root
    assert (root / ".azml" / "models" / "sales-model" / "2.json").is_file()

    assert [m.id for m in Model.list(ws)] == ["sales-model:2", "sales-model:1"]
    assert [m.id for m in Model.list(ws, tags=[["stage", "prod"]])] == ["sales-model:2"]
    assert [m.id for m in Model.list(ws, name="sales-model", latest=True)] == ["sales-model:2"]

    target = tmp_path / "dl"
    path = old.download(target_dir=str(target))
    assert Path(path) == target / "model.pkl" and Path(path).read_text() == "v1 weights"
    with pytest.raises(Exception, match="exist_ok=True"):
        old.download(target_dir=str(target))
    assert Path(second.download(target_dir=str(target), exist_ok=True)).read_text() == "v2 weights"

    with pytest.raises(ModelNotFoundError, match=r"No model named 'sales_model'.*Did you mean 'sales-model'"):
        Model(ws, "sales_model")
    with pytest.raises(ModelNotFoundError, match=r"has no version 7; versions: \[1, 2\]"):
        Model(ws, "sales-model", version=7)


def test_folder_model_with_datasets_and_v1_import_paths(azml_home: Path, tmp_path: Path) -> None:
    from airflow_azml import compat

    ws = _workspace(tmp_path / "proj", "models-ws")
    store = ws.get_default_datastore()
    write(store.root / "train" / "rows.csv", "a,b\n1,2\n")
    train = Dataset.Tabular.from_delimited_files(path=[(store, "train/rows.csv")]).register(ws, "train_rows")
    folder = tmp_path / "model_dir"
    write(folder / "weights.bin", "w")
    write(folder / "sub" / "vocab.txt", "v")
    compat.enable()
    try:
        from azureml.core import Model as CoreModel
        from azureml.core.model import Model as ModelModule

        assert CoreModel is ModelModule is Model
        CoreModel.register(
            workspace=ws, model_path=str(folder), model_name="nlp", datasets=[("training", train)]
        )
    finally:
        compat.disable()
    got = Path(Model.get_model_path("nlp", _workspace=ws))
    assert got.name == "model_dir" and (got / "sub" / "vocab.txt").read_text() == "v"
    ((scenario, [ds]),) = Model(ws, "nlp").datasets.items()
    assert (scenario, ds.name, ds.version) == ("training", "train_rows", 1)
    assert ds.to_pandas_dataframe().to_dict("list") == {"a": [1], "b": [2]}
    with pytest.raises(Exception, match="does not exist"):
        Model.register(ws, str(tmp_path / "missing.pkl"), "nlp")
    with pytest.raises(
        Exception, match=r"Model name 'my model' is invalid: use letters, digits, '-', '_' and '.'"
    ):
        Model.register(ws, str(folder), "my model")


def test_inside_a_step_the_run_context_gives_the_workspace(
    azml_home: Path, tmp_path: Path, monkeypatch
) -> None:
    """run.register_model / Model.get_model_path(name) with no workspace, as a step script calls them."""
    ws = _workspace(tmp_path / "proj", "step-ws")
    ctx = {
        "run_id": "r_train",
        "parent_run_id": "r",
        "step_name": "train",
        "experiment": "exp",
        "workspace": ws.to_spec(),
        "metrics_file": str(tmp_path / "m.jsonl"),
        "parent_metrics_file": str(tmp_path / "pm.jsonl"),
        "files_dir": str(tmp_path / "files"),
    }
    write(tmp_path / "ctx.json", json.dumps(ctx))
    monkeypatch.setenv(CONTEXT_ENV, str(tmp_path / "ctx.json"))
    monkeypatch.chdir(tmp_path)
    run = Run.get_context()
    write(tmp_path / "outputs" / "model.pkl", "trained")
    registered = run.register_model("churn", "outputs/model.pkl", tags={"by": "step"})
    assert (registered.version, registered.run_id) == (1, "r_train")
    run.upload_file("best.pkl", str(tmp_path / "outputs" / "model.pkl"))
    assert run.register_model("churn", "best.pkl").version == 2  # from the run's uploaded files
    assert Path(Model.get_model_path("churn", version=1)).read_text() == "trained"
    assert [m.run_id for m in Model.list(ws, run_id="r_train")] == ["r_train", "r_train"]


@pytest.mark.slow
def test_a_pipeline_registers_a_model_and_a_later_step_loads_it(embedded_airflow_home, tmp_path, azml_home):
    ws = _workspace(tmp_path / "proj", "pipeline-models")
    steps = tmp_path / "proj" / "steps"
    write(
        steps / "train.py",
        "import os, pickle, sys\nfrom airflow_azml.core import Run\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "pickle.dump({'coef': 3}, open('outputs/model.pkl', 'wb'))\n"
        "Run.get_context().register_model('trained', 'outputs/model.pkl')\n"
        "os.makedirs(sys.argv[1], exist_ok=True); open(sys.argv[1] + '/done', 'w').write('ok')\n",
    )
    write(
        steps / "score.py",
        "import pickle\nfrom airflow_azml.core import Run\nfrom airflow_azml.core.model import Model\n"
        "Run.get_context().log('coef', pickle.load(open(Model.get_model_path('trained'), 'rb'))['coef'])\n",
    )
    done = PipelineData("done")
    train = PythonScriptStep(
        "train.py", name="train", arguments=[done], outputs=[done], source_directory=str(steps)
    )
    score = PythonScriptStep(
        "score.py", name="score", arguments=[done], inputs=[done], source_directory=str(steps)
    )
    run = Experiment(ws, "model_pipeline").submit(Pipeline(ws, [score, train]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    model = Model(ws, "trained")
    assert model.version == 1 and model.run_id
    assert pickle.loads(Path(Model.get_model_path("trained", _workspace=ws)).read_bytes()) == {"coef": 3}
    (score_run,) = run.find_step_run("score")
    assert score_run.get_metrics() == {"coef": 3}  # the step found the model with no workspace given
