"""A step attempt's job log: what the worker did around the script, kept with the run record.

v1 kept a job log per step run (``StepRun.get_job_log()``): image and environment build, data
mounts, the launch, the exit. Ours is every line the step lifecycle logs (reuse decision,
inputs, environment build, launch, outputs, the error), recorded as it is logged to Airflow's
task log, and written beside the step's run record as ``job_log.txt`` when the attempt ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["JobLog", "JOB_LOG"]

#: the job log's file name in a step's run record folder
JOB_LOG = "job_log.txt"


class JobLog:
    """A logger that also keeps what it logs (``text()``); anything else goes to the wrapped logger."""

    def __init__(self, log: Any):
        self._log = log
        self._lines: list[str] = []

    def _keep(self, level: str, msg: Any, args: tuple[Any, ...]) -> None:
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(map(str, (msg, *args)))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._lines += [f"{stamp} {level} {line}" for line in text.splitlines() or [""]]

    def note(self, level: str, msg: str, *args: Any) -> None:
        """A line for the job log only (already said elsewhere in Airflow's task log)."""
        self._keep(level, msg, args)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._log.debug(msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._keep("INFO", msg, args)
        self._log.info(msg, *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._keep("WARNING", msg, args)
        self._log.warning(msg, *args, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._keep("ERROR", msg, args)
        self._log.error(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._keep("ERROR", msg, args)
        self._log.exception(msg, *args, **kwargs)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if level >= logging.INFO:
            self._keep(logging.getLevelName(level), msg, args)
        self._log.log(level, msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def text(self) -> str:
        return "\n".join(self._lines) + ("\n" if self._lines else "")
