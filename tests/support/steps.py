"""Running one compiled step the way its operator does, without Airflow (StepExecution on a plan)."""

from __future__ import annotations

import logging
from typing import Any

from airflow_azml.execution import StepExecution, StepInvocation

__all__ = ["run_only_step", "HANG"]

#: a step script that starts writing its output, notes its pid in $AZML_TEST_PIDS, then hangs (for cancels)
HANG = """
import os, sys, time
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "partial.txt"), "w").write("half")
open(os.path.join(os.environ["AZML_TEST_PIDS"], str(os.getpid())), "w").write("")
time.sleep(300)
"""


def run_only_step(plan: dict[str, Any], run_id: str = "run1", **options: Any) -> dict[str, Any]:
    """Run the one step of ``plan`` (no upstream, no params or conf) and return its result;
    ``options`` go to ``StepInvocation`` (``compat=True``, ...)."""
    (step,) = plan["steps"].values()
    invocation = StepInvocation(
        dag_id=plan["dag_id"],
        run_id=run_id,
        step=step,
        workspace=plan["workspace"],
        parameters=plan["parameters"],
        params={},
        upstream={},
        conf={},
        **options,
    )
    return StepExecution(invocation, log=logging.getLogger("test")).run()
