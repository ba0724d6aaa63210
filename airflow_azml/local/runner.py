"""``python -m airflow_azml.local.runner``: run one DAG with ``dag.test()`` in the embedded Airflow.

Writes a status file the caller polls: the run id as soon as it is known, then the final
state of the run and of every task.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def _text(state: Any) -> str | None:
    """Airflow states are str enums, sometimes plain str."""
    return None if state is None else str(getattr(state, "value", state))


def _load_dag(dag_file: Path, dag_id: str | None) -> Any:
    from airflow.sdk import DAG

    spec = importlib.util.spec_from_file_location(f"azml_dagfile_{dag_file.stem}", dag_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    dags = {d.dag_id: d for d in vars(module).values() if isinstance(d, DAG)}
    if dag_id is None and len(dags) == 1:
        return next(iter(dags.values()))
    if dag_id not in dags:
        raise SystemExit(f"{dag_file} defines the DAGs {sorted(dags)}; pick one with --dag-id.")
    return dags[dag_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow_azml.local.runner")
    parser.add_argument("--dag-file", required=True, type=Path)
    parser.add_argument("--dag-id")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--status-file", required=True, type=Path)
    args = parser.parse_args(argv)

    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    dag = _load_dag(args.dag_file, args.dag_id)
    logical_date = datetime.now(UTC)
    run_id = DagRun.generate_run_id(
        run_type=DagRunType.MANUAL, logical_date=logical_date, run_after=logical_date
    )
    _write(args.status_file, {"dag_id": dag.dag_id, "run_id": run_id, "state": "running"})
    dr = dag.test(logical_date=logical_date, run_after=logical_date, run_conf=json.loads(args.conf))
    tasks = {
        ti.task_id: {
            "state": _text(ti.state),
            "try_number": ti.try_number,
            "start": ti.start_date,
            "end": ti.end_date,
        }
        for ti in dr.get_task_instances()
    }
    state = _text(dr.state)
    _write(args.status_file, {"dag_id": dag.dag_id, "run_id": dr.run_id, "state": state, "tasks": tasks})
    return 0 if state == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
