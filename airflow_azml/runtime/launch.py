"""Start a step's script as ``python script.py args`` would, after optional v1 compatibility.

Used as ``python -m airflow_azml.runtime.launch SCRIPT [ARGS...]``; with ``AZML_COMPAT=1``
the ``azureml.*`` imports of the script resolve to airflow_azml. A notebook (``.ipynb``, a
NotebookRunnerStep) is executed with papermill by ``airflow_azml.runtime.notebook``.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

__all__ = ["main"]


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m airflow_azml.runtime.launch SCRIPT [ARGS...]")
    script = str(Path(sys.argv[1]).resolve())
    if os.environ.get("AZML_COMPAT") == "1":
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
