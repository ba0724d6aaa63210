"""Hold `azml migrate` against what really happened when v1 notebooks ran.

Usage: python tools/migrate_vs_notebooks.py V1NB_JSON V1NB_WORK
  V1NB_JSON  the summary run_v1_notebook.py wrote (its V1NB_JSON variable)
  V1NB_WORK  the work folder of that run (its V1NB_WORK variable): the notebooks and _v1nb/*.result.json

Counts the cells that failed for a reason of their own (a NameError left by an earlier failed
cell that binds the name does not count) and how many of them `azml migrate --json` gives a
finding other than "unchanged"; and the cells that ran whose findings include "unsupported".
Lists every cell that breaks either rule. Exit status 0 when none does.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

FOLDER = "how-to-use-azureml/machine-learning-pipelines/intro-to-pipelines"


def notebook_path(work: Path, name: str) -> Path:
    return work / name if name.endswith(".ipynb") else work / FOLDER / f"{name}.ipynb"


def bound(source: str) -> set[str]:
    """Names a cell binds (assignments, imports, definitions)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def own_failure(result: dict, failed_bound: set[str]) -> bool:
    """False for a NameError whose name an earlier failed cell would have bound."""
    if result["type"] != "NameError":
        return True
    names = re.findall(r"NameError: name '(\w+)' is not defined", result.get("traceback", ""))
    return not any(name in failed_bound for name in names or re.findall(r"'(\w+)'", result["message"])[:1])


def check(summary: dict, work: Path) -> tuple[int, int, int, list[str]]:
    paths = [str(notebook_path(work, name)) for name in summary]
    command = [sys.executable, "-m", "airflow_azml.cli", "migrate", "--json", *paths]
    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=False).stdout)
    by_file = {f["path"]: f["findings"] for f in report["files"]}
    failing = flagged = wrong = 0
    problems = []
    for name in summary:
        path = notebook_path(work, name)
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        results = json.loads((work / "_v1nb" / f"{path.stem}.result.json").read_text())["cells"]
        status = {r["cell"]: r for r in results}
        categories: dict[int, set[str]] = {}
        for finding in by_file[str(path)]:
            categories.setdefault(finding["cell"] - 1, set()).add(finding["category"])  # 1-based cells
        failed_bound: set[str] = set()
        for index, cell in enumerate(cells):
            result = status.get(index)
            if cell["cell_type"] != "code" or result is None:
                continue
            found = categories.get(index, set())
            if result["status"] == "error":
                if own_failure(result, failed_bound):
                    failing += 1
                    flagged += bool(found - {"unchanged"})
                    if not found - {"unchanged"}:
                        problems.append(
                            f"not flagged: {path.stem} cell {index}: {result['type']}: {result['message'][:120]}"
                        )
                failed_bound |= bound("".join(cell["source"]))
            elif result["status"] == "ok" and "unsupported" in found:
                wrong += 1
                problems.append(f"runs but 'unsupported': {path.stem} cell {index}")
    return failing, flagged, wrong, problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.exit(__doc__)
    failing, flagged, wrong, problems = check(json.loads(Path(argv[1]).read_text()), Path(argv[2]))
    print(
        f"cells failing for a reason of their own: {failing}; with a finding other than 'unchanged': {flagged}"
    )
    print(f"cells that ran with an 'unsupported' finding: {wrong}")
    print("\n".join(problems))
    return int(bool(problems))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
