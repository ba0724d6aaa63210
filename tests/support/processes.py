"""Processes in tests: which still hold a file open (a local run's runner and every process it started keep
the run's log open, so none must be left once the run has ended), and a probe script run in a fresh
interpreter that answers with JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["holders", "wait_no_holders", "python_json"]


def python_json(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Any:
    """Run ``script`` (``python -c``, with ``args``) in a fresh interpreter; it must succeed. Its answer: the
    JSON on the last line it prints (Airflow may log lines before it)."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def holders(prefix: str) -> list[int]:
    """The processes with a file under ``prefix`` open."""
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd).startswith(prefix) for fd in fd_dir.iterdir()):
                found.append(int(fd_dir.parent.name))
        except OSError:  # gone, or not ours
            continue
    return found


def wait_no_holders(prefix: str, timeout: float = 60) -> list[int]:
    """Wait until no process holds a file under ``prefix`` (the ended run's processes exit); the
    ones still holding it after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := holders(prefix)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left
