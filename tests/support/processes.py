"""Which processes still hold a file open: a local run's runner and every process it started keep the
run's log open, so none must be left once the run has ended."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["holders", "wait_no_holders"]


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
