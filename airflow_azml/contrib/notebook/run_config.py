"""NotebookRunConfig: which notebook to run, with which parameters, handler and environment."""

from __future__ import annotations

import json
import os
from pathlib import PurePosixPath
from typing import Any

from airflow_azml.contrib.notebook.handlers import AzureMLNotebookHandler, NotebookExecutionHandler
from airflow_azml.core._home import caller_dir
from airflow_azml.exceptions import UserErrorException

__all__ = ["NotebookRunConfig", "output_notebook_name"]


def output_notebook_name(notebook: str) -> str:
    """v1's default output notebook: ``train.ipynb`` -> ``train.output.ipynb``."""
    stem, ext = os.path.splitext(notebook)
    return f"{stem}.output{ext}"


def _relative(what: str, path: str) -> str:
    if not isinstance(path, str) or not path or os.path.isabs(path) or ".." in PurePosixPath(path).parts:
        raise UserErrorException(
            f"NotebookRunConfig: {what} must be a path inside source_directory (relative, no '..'), not {path!r}."
        )
    return path


class NotebookRunConfig:
    """``NotebookRunConfig(source_directory, notebook, output_notebook=None, parameters=None,
    handler=None, run_config=None)`` (v1's order; pass them by name to be safe).

    ``parameters`` become papermill parameters (the notebook's cell tagged ``parameters``
    is overridden); the step adds its inputs, outputs and ``params`` to them.
    """

    def __init__(
        self,
        source_directory: str,
        notebook: str,
        output_notebook: str | None = None,
        parameters: dict[str, Any] | None = None,
        handler: NotebookExecutionHandler | None = None,
        run_config: Any = None,
        **_: Any,
    ):
        self.source_directory = str(caller_dir() / os.path.expanduser(str(source_directory)))
        self.notebook = _relative("notebook", notebook)
        if not notebook.endswith(".ipynb"):
            raise UserErrorException(
                f"NotebookRunConfig: notebook {notebook!r} is not a Jupyter notebook (.ipynb)."
            )
        self.output_notebook = _relative("output_notebook", output_notebook or output_notebook_name(notebook))
        self.parameters = dict(parameters or {})
        try:
            json.dumps(self.parameters)
        except (TypeError, ValueError) as exc:
            raise UserErrorException(
                f"NotebookRunConfig: parameters must be JSON values (str, numbers, bool, lists, dicts): {exc}."
            ) from exc
        if handler is not None and not isinstance(handler, NotebookExecutionHandler):
            raise UserErrorException(
                f"NotebookRunConfig: handler must be an AzureMLNotebookHandler, not {handler!r}."
            )
        self.handler = handler or AzureMLNotebookHandler()
        self.run_config = run_config

    def __repr__(self) -> str:
        return f"NotebookRunConfig(notebook={self.notebook!r}, source_directory={self.source_directory!r})"
