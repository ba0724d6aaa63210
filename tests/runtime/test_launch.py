"""How a script step's process starts: a plain script as ``python /abs/script.py`` (what v1 runs), a
compat script through the launcher; the script sees the same argv, ``__file__``, ``sys.path[0]``,
``__name__`` and working folder either way. Real step processes, no Airflow (StepExecution.run is the
lifecycle a task runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.runtime.launch import script_command
from tests.conftest import write
from tests.support.steps import run_only_step

SEES = """
import json, os, sys
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
seen = {
    "argv0": sys.argv[0],
    "args": sys.argv[1:],
    "file": __file__,
    "path0": sys.path[0],
    "name": __name__,
    "cwd": os.getcwd(),
    "package_loaded": "airflow_azml" in sys.modules,
    "compat": "azureml" in sys.modules,
}
if os.environ.get("AZML_COMPAT") == "1":
    import azureml.core  # served by the compat finder
    seen["compat"] = "azureml.core" in sys.modules
json.dump(seen, open(os.path.join(out, "seen.json"), "w"))
"""


def _run(tmp_path: Path, *, compat: bool) -> tuple[dict, Path]:
    src = tmp_path / "src"
    write(src / "jobs" / "sees.py", SEES)
    (tmp_path / "config.json").write_text(json.dumps({"workspace_name": "launch-ws"}))
    ws = Workspace.from_config(tmp_path)
    from airflow_azml.pipeline.core import PipelineData

    out = PipelineData("out")
    step = PythonScriptStep(
        "jobs/sees.py",
        name="sees",
        source_directory=str(src),
        arguments=["--out", out, "--flag", "x y"],
        outputs=[out],
        allow_reuse=False,
    )
    plan = compile_pipeline(Pipeline(ws, [step]), "launch_check")
    result = run_only_step(plan, compat=compat)
    where = result["outputs"]["out"]
    published = ws.get_default_datastore().store.local_path(where["path"])
    return json.loads((published / "seen.json").read_text()), src


@pytest.mark.parametrize("compat", [False, True], ids=["plain", "compat"])
def test_the_script_sees_what_python_script_py_gives_it(tmp_path: Path, azml_home: Path, compat: bool):
    seen, src = _run(tmp_path, compat=compat)
    script = str((src / "jobs" / "sees.py").resolve())
    assert seen["argv0"] == script and seen["file"] == script
    assert seen["path0"] == str(src.resolve() / "jobs")
    assert seen["name"] == "__main__"
    assert Path(seen["cwd"]).resolve() == src.resolve()
    assert seen["args"][-2:] == ["--flag", "x y"]
    # a plain script's process never imports the package (python /abs/script.py); a compat one goes
    # through the launcher, which serves the azureml imports
    assert seen["package_loaded"] is compat
    assert seen["compat"] is compat


def test_the_launcher_is_used_only_when_it_has_work_to_do(tmp_path: Path):
    write(tmp_path / "a.py", "")
    plain = script_command("py", "a.py", tmp_path, {})
    assert plain == ["py", str((tmp_path / "a.py").resolve())]
    launcher = ["py", "-m", "airflow_azml.runtime.launch"]
    assert script_command("py", "a.py", tmp_path, {"AZML_COMPAT": "1"}) == [*launcher, "a.py"]
    assert script_command("py", "nb.ipynb", tmp_path, {}) == [*launcher, "nb.ipynb"]
    # a symlinked script runs by its real path, as the launcher resolved it
    os.symlink(tmp_path / "a.py", tmp_path / "link.py")
    assert script_command("py", "link.py", tmp_path, {})[1] == str((tmp_path / "a.py").resolve())
