"""``azml run`` on a terminal: the rich live table of steps, then the same summary lines as without one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _run_on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run with stdout/stderr on a pseudo-terminal (so ``isatty()`` is true); returns (rc, output)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    rc = proc.wait(timeout=30)
    return rc, _ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_live_table_then_summary(embedded_airflow_home, azml_home) -> None:
    env = {**os.environ, "AZML_HOME": str(azml_home), "COLUMNS": "160"}
    cmd = [sys.executable, "-m", "airflow_azml.cli", "run", str(REPO / "dags" / "seed_pipeline.py")]
    rc, out = _run_on_a_terminal(cmd, env)
    assert rc == 0, out
    assert "seed_pipeline  Finished" in out  # the live table's title once the run ended
    assert re.search(r"│ train\s+│ Finished\s+│ \d+\.\ds\s+│ rmse=", out), out
    assert "PipelineRun Status: Finished" in out
    assert "StepRun(train) Status:" not in out  # the table replaces the status lines on a terminal
    rc, out = _run_on_a_terminal([*cmd, "--no-live"], env)
    assert rc == 0 and "StepRun(train) Status: Reused" in out and "PipelineRun Status: Finished" in out
