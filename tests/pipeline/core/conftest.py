"""Fixtures shared by the pipeline.core tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write


@pytest.fixture
def one_step_pipeline(workspace_dir: Path) -> tuple[Any, Any]:
    """(workspace, a one-step pipeline with an int parameter 'n') in the test's workspace folder."""
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "s" / "a.py", "print(1)\n")
    step = PythonScriptStep(
        "a.py",
        name="a",
        source_directory=str(workspace_dir / "s"),
        arguments=["--n", PipelineParameter("n", 1)],
    )
    return ws, Pipeline(ws, [step])
