"""Start a step's script as ``python script.py args`` would, after optional v1 compatibility.

Used as ``python -m airflow_azml.runtime.launch SCRIPT [ARGS...]``; with ``AZML_COMPAT=1``
the ``azureml.*`` imports of the script resolve to airflow_azml. A notebook (``.ipynb``, a
NotebookRunnerStep) is executed with papermill by ``airflow_azml.runtime.notebook``.

A plain script needs neither: :func:`script_command` starts it as ``python /abs/script.py`` (what
v1 runs), which skips importing this package in the step's process (~20 ms of CPU per step). The
script sees the same ``sys.argv``, ``__file__``, ``sys.path[0]`` and ``__name__`` either way.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

__all__ = ["main", "script_command"]

COMPAT_ENV = "AZML_COMPAT"


def script_command(python: str, script: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """The command line (without the script's arguments) that starts ``script`` (relative to ``cwd``)
    with ``env``: through this launcher when it has work to do (v1 compatibility, a notebook), else
    the script itself by its resolved path, as the launcher would run it."""
    if env.get(COMPAT_ENV) == "1" or script.endswith(".ipynb"):
        return [python, "-m", "airflow_azml.runtime.launch", script]
    return [python, str((cwd / script).resolve())]


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m airflow_azml.runtime.launch SCRIPT [ARGS...]")
    script = str(Path(sys.argv[1]).resolve())
    if os.environ.get(COMPAT_ENV) == "1":
        from airflow_azml import compat

        compat.enable()
    if script.endswith(".ipynb"):
        from airflow_azml.runtime.notebook import run_notebook

        raise SystemExit(run_notebook(script, sys.argv[2:]))
    sys.argv = [script, *sys.argv[2:]]
    sys.path[0] = str(Path(script).parent)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
