"""The user model, compiler, execution and step runtime never import Airflow (it costs seconds)."""

from __future__ import annotations

import subprocess
import sys

PURE = [
    "airflow_azml",
    "airflow_azml.core",
    "airflow_azml.data",
    "airflow_azml.data.data_reference",
    "airflow_azml.data.datapath",
    "airflow_azml.pipeline.core",
    "airflow_azml.pipeline.steps",
    "airflow_azml.train.estimator",
    "airflow_azml.train.dnn",
    "airflow_azml.train.sklearn",
    "airflow_azml.train.hyperdrive",
    "airflow_azml.compiler",
    "airflow_azml.compiler.capture",
    "airflow_azml.execution",
    "airflow_azml.execution.local_spark",
    "airflow_azml.runtime.run",
    "airflow_azml.runtime.launch",
    "airflow_azml.compat",
    "airflow_azml.local.embedded",
    "airflow_azml.cli",
    "airflow_azml.widgets",
    "airflow_azml.core.authentication",
    "airflow_azml.core.compute_target",
]

BLOCKER = """
import sys, importlib
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError("airflow is blocked: " + name)
sys.meta_path.insert(0, Block())
for mod in {mods!r}:
    importlib.import_module(mod)
import airflow_azml.pipeline.steps as steps
for name in steps.__all__:
    try:
        getattr(steps, name)
    except ModuleNotFoundError as exc:
        if not exc.name.startswith("airflow_azml.pipeline.steps."):
            raise
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("airflow", "pandas", "pyarrow"))
print("HEAVY", heavy)
"""


def test_pure_layers_import_without_airflow():
    proc = subprocess.run([sys.executable, "-c", BLOCKER.format(mods=PURE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "HEAVY []"
