"""The one map from Airflow states to Azure ML v1 run statuses.

Pure (no Airflow import, nothing but the standard library): the run objects
(``PipelineRun``/``StepRun``), the CLI and the pipeline view in Airflow's UI all read a status
through these functions, so a state can never show as one status in a notebook and another in
the UI.

Choices where v1 and Airflow do not line up one to one:

- ``scheduled`` (the scheduler has decided to run the task and waits for a slot) is
  ``Queued``, like ``queued`` (handed to the executor): in v1 a step that will run as soon as
  compute is free is Queued, NotStarted is only a run not yet submitted.
- Retrying, rescheduled and deferred tasks are ``Running``: the step has not ended.
- A task skipped or not run because an upstream failed is ``Canceled`` (v1 cancels the steps
  that cannot run once one failed).
- A state this map does not know (a newer Airflow) is ``Running``: not ended, nothing claimed.
- A step whose run record says it reused an earlier run shows ``Reused`` once it is Finished.

:func:`wait_until_ended` is the one loop that waits for a run to end (``wait_for_completion``,
``azml run``'s live table, ``azml submit --wait``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "NOT_STARTED",
    "QUEUED",
    "RUNNING",
    "FINISHED",
    "FAILED",
    "CANCELED",
    "REUSED",
    "TERMINAL",
    "AIRFLOW_TO_V1",
    "airflow_to_v1",
    "step_status",
    "is_terminal",
    "wait_until_ended",
]

NOT_STARTED = "NotStarted"
QUEUED = "Queued"
RUNNING = "Running"
FINISHED = "Finished"
FAILED = "Failed"
CANCELED = "Canceled"
REUSED = "Reused"
#: statuses a run or step does not leave
TERMINAL = (FINISHED, FAILED, CANCELED)

#: Airflow DAG run / task instance state -> v1 status
AIRFLOW_TO_V1: dict[str | None, str] = {
    None: NOT_STARTED,
    "none": NOT_STARTED,
    "scheduled": QUEUED,
    "queued": QUEUED,
    "running": RUNNING,
    "restarting": RUNNING,
    "up_for_retry": RUNNING,
    "up_for_reschedule": RUNNING,
    "deferred": RUNNING,
    "success": FINISHED,
    "failed": FAILED,
    "upstream_failed": CANCELED,
    "skipped": CANCELED,
    "removed": CANCELED,
    # not an Airflow state: the local runner's state of a run the user canceled (Ctrl-C, cancel())
    "canceled": CANCELED,
}


def airflow_to_v1(state: str | None) -> str:
    """The v1 status of an Airflow DAG run or task instance state."""
    return AIRFLOW_TO_V1.get(state, RUNNING)


def step_status(state: str | None, record: dict[str, Any] | None) -> str:
    """A step's status: Airflow's task state when it has one, else its run record's; Reused when a
    Finished step's record says it reused an earlier run."""
    if state:
        status = airflow_to_v1(state)
    elif record:
        status = str(record.get("status") or NOT_STARTED)
    else:
        status = NOT_STARTED
    if status == FINISHED and record and record.get("reused"):
        return REUSED
    return status


def is_terminal(status: str) -> bool:
    """True once a run or step has ended (Reused counts as ended: it is a Finished step)."""
    return status in TERMINAL or status == REUSED


def wait_until_ended(
    status_of: Callable[[], str],
    *,
    on_poll: Callable[[str], None] | None = None,
    poll_seconds: float = 0.5,
    timeout_seconds: float = sys.maxsize,
    what: str = "The run",
) -> str:
    """Poll ``status_of()`` until it is terminal and return it; ``on_poll(status)`` runs after each look
    (print what changed, refresh a table). Past ``timeout_seconds``: TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = status_of()
        if on_poll is not None:
            on_poll(status)
        if is_terminal(status):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} still {status} after {timeout_seconds} s.")
        time.sleep(poll_seconds)
