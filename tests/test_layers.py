"""The import guard of issue #13: layers, independence and no cycles, on every import statement.

import-linter (on grimp) reads every import in the package, inside functions too, and checks the
contracts in pyproject.toml's ``[tool.importlinter]`` (docs/architecture.md, "Layers and the
import guard"). Imports that break a rule today are listed there as ignores; the ratchet below
holds their number, so the list can only shrink. A second check keeps the import cost: the user
model, compiler, execution and step runtime load without Airflow, pandas or pyarrow.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from tests.support.import_contracts import find_cycles

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Ignored imports per contract today; lower a number when you remove an ignore, never raise one.
IGNORE_RATCHET = {"airflow-side": 0, "layers": 0, "no-cycles": 0, "adapters": 0}


def _lint(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_import_contracts_hold():
    proc = _lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_ignored_imports_only_shrink():
    contracts = _contracts()
    assert set(contracts) == set(IGNORE_RATCHET), "a contract was added or removed: update IGNORE_RATCHET"
    counts = {cid: len(contract.get("ignore_imports", [])) for cid, contract in contracts.items()}
    grown = {cid: (n, IGNORE_RATCHET[cid]) for cid, n in counts.items() if n > IGNORE_RATCHET[cid]}
    assert not grown, f"ignore lists grew (now, allowed): {grown}; fix the import instead of ignoring it"


def test_every_top_level_module_has_a_layer():
    # The layers contract is exhaustive; this says which new module is missing, and where it goes.
    contract = _contracts()["layers"]
    placed = {name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
    graph = grimp.build_graph("airflow_azml", cache_dir=None)
    children = {module.rsplit(".", 1)[1] for module in graph.find_children("airflow_azml")}
    assert children - placed == set(), "place these modules in a layer of [tool.importlinter]"


def test_cycle_finder_reports_each_strongly_connected_group():
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),
        ("p.c", "p.d"),
        ("p.e", "p.f"),
    ]:
        graph.add_import(importer=importer, imported=imported)
    graph.add_import(importer="p.f", imported="p.e")
    graph.add_import(importer="p.d", imported="q.x")
    assert find_cycles(graph, "p") == [["p.a", "p.b", "p.c"], ["p.e", "p.f"]]


def test_the_guard_sees_an_import_inside_a_function(tmp_path):
    """A cycle closed by a deferred import, and airflow imported inside a function, both fail."""
    pkg = tmp_path / "guarded"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("def run():\n    from guarded import runner\n\n    import airflow\n")
    (pkg / "runner.py").write_text("from guarded import model\n")
    (tmp_path / "airflow").mkdir()
    (tmp_path / "airflow" / "__init__.py").write_text("")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["guarded"]\ninclude_external_packages = true\n'
        'contract_types = ["acyclic_modules: tests.support.import_contracts.AcyclicModulesContract"]\n'
        '[[tool.importlinter.contracts]]\nname = "no cycles"\ntype = "acyclic_modules"\n'
        'packages = ["guarded"]\n'
        '[[tool.importlinter.contracts]]\nname = "no airflow"\ntype = "forbidden"\n'
        'source_modules = ["guarded.model"]\nforbidden_modules = ["airflow"]\n'
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{REPO}"}
    proc = _lint("--config", str(config), env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "guarded.model -> guarded.runner" in proc.stdout
    assert "guarded.runner -> guarded.model" in proc.stdout
    assert "guarded.model -> airflow" in proc.stdout


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
    "airflow_azml.compiler",
    "airflow_azml.compiler.capture",
    "airflow_azml.execution",
    "airflow_azml.execution.local_spark",
    "airflow_azml.runtime.run",
    "airflow_azml.runtime.launch",
    "airflow_azml.compat",
    "airflow_azml.provider.local.embedded",
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


def test_pure_layers_import_without_airflow_or_pandas():
    proc = subprocess.run([sys.executable, "-c", BLOCKER.format(mods=PURE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "HEAVY []"
