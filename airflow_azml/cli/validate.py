"""``azml validate DAG_FILE``: run a pipeline DAG file without Airflow and list what is wrong with it.

Each problem is printed as ``FILE[:LINE]: step NAME: what is wrong``; the exit code is 1 when
there is any problem, 0 when every pipeline the file builds is valid.

What is checked: everything the pipeline checks when it is built (steps, data producers and
consumers, cycles, names -> ``PipelineValidationError``; step arguments ->
``UserErrorException``), then on each compiled plan: source folders and scripts exist,
compute targets and datastores are declared in the workspace file.
"""

from __future__ import annotations

import argparse
import re
import traceback
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "validate", "problems_of", "Problem"]

_STEP_IN_TEXT = re.compile(r"[Ss]tep '([^']+)'")


class Problem:
    """One problem: where (file, line, step) and what."""

    def __init__(self, file: Path, message: str, step: str | None = None, line: int | None = None):
        self.file, self.message, self.line = file, message, line
        found = _STEP_IN_TEXT.search(message)
        self.step = step or (found.group(1) if found else None)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        step = f"step {self.step}: " if self.step else ""
        return f"{where}: {step}{self.message}"


def _line_in(file: Path, exc: BaseException) -> int | None:
    """The last line of ``file`` in the exception's traceback (the user's call that failed)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == file:
            line = frame.lineno
    return line


def problems_of(dag_file: Path) -> list[Problem]:
    """Every problem found in ``dag_file`` (empty when it is valid)."""
    from airflow_azml.compiler.capture import plans_of
    from airflow_azml.exceptions import PipelineValidationError, UserErrorException

    path = Path(dag_file).resolve()
    if not path.is_file():
        return [Problem(Path(dag_file), "no such file.")]
    try:
        found = plans_of(path)
    except PipelineValidationError as exc:
        return [Problem(path, p, line=_line_in(path, exc)) for p in exc.problems]
    except UserErrorException as exc:
        return [Problem(path, str(exc), line=_line_in(path, exc))]
    except Exception as exc:  # noqa: BLE001 - any error while the file runs is a problem to report
        return [Problem(path, f"{type(exc).__name__}: {exc}", line=_line_in(path, exc))]
    if not found:
        return [Problem(path, "builds no pipeline DAG (no Pipeline(...).to_dag(...) call ran).")]
    out: list[Problem] = []
    for captured in found:
        out += _plan_problems(path, captured["plan"])
    return out


def _plan_problems(path: Path, plan: dict[str, Any]) -> list[Problem]:
    """Checks on a compiled plan that the build does not make (files, workspace names)."""
    config = plan["workspace"].get("config", {})
    targets = set(config.get("compute_targets") or {})
    stores = set(config.get("datastores") or {}) | {config.get("default_datastore") or "workspaceblobstore"}
    out = []
    for step in plan["steps"].values():
        name, folder = step["name"], Path(step["source_directory"])
        if not folder.is_dir():
            out.append(Problem(path, f"source_directory {folder} does not exist.", name))
        elif step.get("script_name") and not (folder / step["script_name"]).is_file():
            out.append(Problem(path, f"script {step['script_name']!r} is not in {folder}.", name))
        target = step.get("compute_target")
        if target and targets and target not in targets:
            out.append(
                Problem(
                    path,
                    f"compute target {target!r} is not in the workspace file "
                    f"(known: {', '.join(sorted(targets))}).",
                    name,
                )
            )
        for spec in step["outputs"] + [i for i in step["inputs"] if i["source"] == "datastore"]:
            if spec.get("datastore") and spec["datastore"] not in stores:
                out.append(
                    Problem(
                        path,
                        f"{spec['name']!r} uses datastore {spec['datastore']!r}, which the "
                        f"workspace does not declare (known: {', '.join(sorted(stores))}).",
                        name,
                    )
                )
    return out


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate", help="check a pipeline DAG file without Airflow; exit 1 on problems"
    )
    p.add_argument("dag_file", type=Path)
    p.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    problems = problems_of(args.dag_file)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {args.dag_file}.")
        return 1
    print(f"{args.dag_file}: OK")
    return 0
