"""Execute a step's notebook with papermill, in the step's process (NotebookRunnerStep).

Started by ``airflow_azml.runtime.launch`` when the step's script is an ``.ipynb``. The kernel
inherits the step's environment, so ``Run.get_context()`` inside the notebook is the step run;
with the compat switch on, an IPython start-up file turns it on in the kernel too. Values glued
with scrapbook become the step's metrics, and the executed notebook's text ends the step log.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["run_notebook", "notebook_text"]

_LIST_BATCH = 50  # v1 logged long glued lists in slices of this size


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="azml-notebook")
    parser.add_argument("--azml-handler", default="{}")
    parser.add_argument("--azml-output-notebook", required=True)
    parser.add_argument("--azml-output-dir")
    parser.add_argument("--azml-parameters", default="{}")
    parser.add_argument(
        "--azml-param", nargs=3, action="append", default=[], metavar=("NAME", "TYPE", "VALUE")
    )
    return parser.parse_args(argv)


def _typed(kind: str, value: str) -> Any:
    """A parameter's value as its pipeline parameter type (argv carries strings)."""
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return value.lower() in ("true", "1")
    if kind in ("datapath", "dataset"):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value  # string, path


def _kernel(notebook: Path, wanted: str | None) -> str:
    """The kernel to use: the handler's, else the notebook's own if installed here, else python3."""
    from jupyter_client.kernelspec import KernelSpecManager

    name = wanted or (json.loads(notebook.read_text()).get("metadata", {}).get("kernelspec") or {}).get(
        "name"
    )
    known = KernelSpecManager().find_kernel_specs()
    if name and name in known:
        return name
    if name:
        print(f"Kernel {name!r} of {notebook.name} is not installed here; running it with 'python3'.")
    return "python3"


def _compat_startup() -> str | None:
    """An IPython folder whose start-up file turns the compat switch on in the kernel (or None)."""
    if os.environ.get("AZML_COMPAT") != "1":
        return None
    folder = tempfile.mkdtemp(prefix="azml-ipython-")
    startup = Path(folder) / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-azml-compat.py").write_text("from airflow_azml import compat\ncompat.enable()\n")
    os.environ["IPYTHONDIR"] = folder
    return folder


def _log_scraps(output: Path) -> None:
    """Values glued with scrapbook become metrics of the step run (lists as log_list), as in v1."""
    import scrapbook

    from airflow_azml.runtime.run import Run

    run = Run.get_context()
    for name, scrap in scrapbook.read_notebook(str(output)).scraps.items():
        data = scrap.data
        if isinstance(data, list):
            for start in range(0, len(data), _LIST_BATCH):
                run.log_list(name, data[start : start + _LIST_BATCH])
        elif isinstance(data, (int, float, str, bool)):
            run.log(name, data)
        else:
            print(
                f"Glued value {name!r} ({type(data).__name__}) is not a number, string or list: not logged."
            )


def notebook_text(path: Path) -> str:
    """The executed notebook as plain text: each code cell's source and its text output."""
    nb = json.loads(path.read_text())
    lines: list[str] = []
    for i, cell in enumerate(c for c in nb.get("cells", []) if c.get("cell_type") == "code"):
        lines.append(f"In [{cell.get('execution_count') or ' '}] (cell {i + 1})")
        lines += ["    " + ln for ln in "".join(cell.get("source", "")).splitlines()]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = "".join(out.get("text", ""))
            elif out.get("output_type") == "error":
                text = f"{out.get('ename')}: {out.get('evalue')}"
            else:
                text = "".join(out.get("data", {}).get("text/plain", ""))
            lines += ["  > " + ln for ln in text.splitlines()]
    return "\n".join(lines)


def run_notebook(notebook: str, argv: list[str]) -> int:
    """Execute ``notebook`` (a path in the working directory); 0 on success, 1 if a cell failed."""
    import papermill

    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    source = Path(notebook).resolve()
    handler = json.loads(args.azml_handler)
    parameters = json.loads(args.azml_parameters)
    for name, kind, value in args.azml_param:
        parameters[name] = _typed(kind, value)
    output = _output_path(args)
    ipython_dir = _compat_startup()
    failure: BaseException | None = None
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters=parameters,
            kernel_name=_kernel(source, handler.get("kernel_name")),
            progress_bar=handler.get("progress_bar", True),
            log_output=handler.get("log_output", False),
            execution_timeout=handler.get("timeout"),
            start_timeout=handler.get("start_timeout") or 60,
            cwd=handler.get("cwd") or str(source.parent),
        )
    except Exception as exc:  # a failing cell: keep the output notebook and its metrics all the same
        failure = exc
    finally:
        if ipython_dir:
            shutil.rmtree(ipython_dir, ignore_errors=True)
    return _finish(output, args, handler, failure)


def _output_path(args: argparse.Namespace) -> Path:
    """Into the output PipelineData folder when there is one, else into the step's files (outputs/...)."""
    if args.azml_output_dir:
        target = Path(args.azml_output_dir) / args.azml_output_notebook
    else:
        target = Path(tempfile.mkdtemp(prefix="azml-notebook-")) / Path(args.azml_output_notebook).name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _finish(
    output: Path, args: argparse.Namespace, handler: dict[str, Any], failure: BaseException | None
) -> int:
    if output.exists():
        if handler.get("history", True):
            _log_scraps(output)
        if not args.azml_output_dir:
            from airflow_azml.runtime.run import Run

            Run.get_context().upload_file(f"outputs/{args.azml_output_notebook}", str(output))
        print(f"==== executed notebook {args.azml_output_notebook} ====\n{notebook_text(output)}")
    if failure is not None:
        print(f"Notebook failed: {failure}", file=sys.stderr)
        return 1
    return 0
