"""One DAG run on the embedded Airflow with independent tasks at the same time.

``dag.test()`` runs the ready tasks one after another. This loop does what its loop does (the
run's ``update_state`` decides which tasks are ready, retries included, and each task runs through
Airflow's in-process task runner: same operators, XCom and DB) but runs every ready task in a
forked child of its own process group, up to ``parallelism`` at a time, and wakes up as soon as a
child ends instead of sleeping a second. A cancel (SIGTERM or SIGINT to this process) ends every
running task's process group, fails what did not end and marks the run canceled.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_azml.provider.local.task_api import ready_for_run, warm_task_api

__all__ = ["LocalDagRun", "parse_dag", "preload_task_modules", "warm_task_api", "write_status"]

#: seconds a canceled task gets to stop its step (SIGTERM: on_kill ends the script's group) before SIGKILL
CANCEL_GRACE_S = 8.0


def write_status(path: Path, data: dict[str, Any]) -> None:
    """Replace the status file atomically (the caller polls it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def _text(state: Any) -> str | None:
    """Airflow states are str enums, sometimes plain str."""
    return None if state is None else str(getattr(state, "value", state))


def parse_dag(dag_file: Path, dag_id: str | None) -> Any:
    """Parse ``dag_file`` once (the DagBag Airflow's parser uses), write it to the DB, return the DAG."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    bag = BundleDagBag(
        dag_folder=str(dag_file),
        bundle_path=dag_file.parent,
        bundle_name="dags-folder",
        safe_mode=False,
    )
    if bag.import_errors:
        raise SystemExit(f"{dag_file} could not be loaded:\n" + "\n".join(bag.import_errors.values()))
    if dag_id is None and len(bag.dags) == 1:
        dag_id = next(iter(bag.dags))
    if dag_id not in bag.dags:
        raise SystemExit(f"{dag_file} defines the DAGs {sorted(bag.dags)}; pick one with --dag-id.")
    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.dags[dag_id]


#: what a step task imports on its first run: imported before the tasks fork, once instead of per task
_TASK_MODULES = (
    "a2wsgi",
    "jinja2.ext",
    "airflow_azml.execution.step",
    "airflow_azml.execution.lineage_events",
    "airflow_azml.execution.distributed",
    "airflow_azml.execution.environments",
    "airflow_azml.runtime.metrics",
    "airflow_azml.data.web",
    "airflow_azml.data.stores.local",
)


def preload_task_modules() -> None:
    """Import what every task child would import on its own (the children are forks of this process)."""
    import importlib

    for name in _TASK_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


class LocalDagRun:
    """Create the DAG run and drive it to its end; ``status_file`` follows every task's state."""

    def __init__(self, dag: Any, status_file: Path, parallelism: int):
        self.dag = dag
        self.status_file = status_file
        self.parallelism = max(1, parallelism)
        self.running: dict[int, str] = {}  # child pid -> task key
        self.cancel_requested = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._last_status: str = ""

    # -- signals: a cancel or a child's end wakes the loop at once ------------------------------
    def _install_signals(self) -> None:
        def on_cancel(signum: int, frame: Any) -> None:
            self.cancel_requested = True
            self._wake()

        signal.signal(signal.SIGTERM, on_cancel)
        signal.signal(signal.SIGINT, on_cancel)
        signal.signal(signal.SIGCHLD, lambda s, f: self._wake())

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _sleep(self, seconds: float) -> None:
        ready, _, _ = select.select([self._wake_r], [], [], seconds)
        if ready:
            os.read(self._wake_r, 4096)

    # -- the run -------------------------------------------------------------------------------
    def start(self, logical_date: datetime, run_id: str, conf: dict[str, Any]) -> Any:
        from airflow import settings
        from airflow.models.dagrun import get_or_create_dagrun
        from airflow.serialization.encoders import coerce_to_core_timetable
        from airflow.serialization.serialized_objects import DagSerialization
        from airflow.utils.types import DagRunTriggeredByType

        self.dag.validate()
        self.session = settings.Session()
        scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(self.dag))
        scheduler_dag.on_success_callback = self.dag.on_success_callback
        scheduler_dag.on_failure_callback = self.dag.on_failure_callback
        interval = coerce_to_core_timetable(self.dag.timetable).infer_manual_data_interval(
            run_after=logical_date
        )
        self.dr = get_or_create_dagrun(
            dag=scheduler_dag,
            run_id=run_id,
            logical_date=logical_date,
            data_interval=interval,
            run_after=logical_date,
            conf=conf,
            triggered_by=DagRunTriggeredByType.TEST,
            triggering_user_name="azml_local",
            start_date=logical_date,
            session=self.session,
        )
        ready_for_run(self.dr, self.session)
        return self.dr

    def run(self) -> str:
        """Schedule, launch and reap until the run ends; returns its final state (or ``canceled``)."""
        from airflow.utils.state import DagRunState, TaskInstanceState

        self._install_signals()
        session, dr = self.session, self.dr
        while True:
            self._reap()
            if self.cancel_requested:
                return self._cancel()
            session.expire_all()
            schedulable, _ = dr.update_state(session=session)
            for ti in schedulable:
                if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                    ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
                ti.scheduled_dttm = datetime.now(tz=dr.start_date.tzinfo)
            session.commit()
            tis = dr.get_task_instances(session=session)
            self._publish(tis, _text(dr.state))
            if dr.state != DagRunState.RUNNING:
                self._wait_children()
                return str(_text(dr.state))
            launching = set(self.running.values())
            for ti in tis:
                if len(self.running) >= self.parallelism:
                    break
                if ti.state == TaskInstanceState.SCHEDULED and self._key(ti) not in launching:
                    self._launch(ti)
            self._sleep(1.0 if self.running or not schedulable else 0.05)

    @staticmethod
    def _key(ti: Any) -> str:
        return f"{ti.task_id}:{ti.map_index}"

    def _launch(self, ti: Any) -> None:
        from airflow.utils.state import TaskInstanceState

        ti.state = TaskInstanceState.QUEUED
        self.session.commit()
        task = self.dag.task_dict[ti.task_id]
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the task's own process group, so a cancel ends it and all it started
            code = 1
            try:
                os.setpgid(0, 0)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                from airflow.sdk.definitions.dag import _run_task

                _run_task(ti=ti, task=task, run_triggerer=True)
                code = 0
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        try:
            os.setpgid(pid, pid)
        except OSError:  # the child already did (or already ended)
            pass
        self.running[pid] = self._key(ti)

    def _reap(self) -> None:
        ended = []
        for pid in list(self.running):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                ended.append((self.running.pop(pid), status))
        if ended and not self.cancel_requested:
            self._fail_lost(ended)

    def _fail_lost(self, ended: list[tuple[str, int]]) -> None:
        """A task child that died without ending its task (killed, crashed) fails it (or it is retried
        when it has tries left), as a lost worker's task does, so the run does not wait for it forever."""
        from airflow.utils.state import TaskInstanceState

        self.session.expire_all()
        unfinished = (TaskInstanceState.QUEUED, TaskInstanceState.RUNNING)
        for ti in self.dr.get_task_instances(session=self.session):
            for key, status in ended:
                if self._key(ti) == key and ti.state in unfinished:
                    print(
                        f"Task {key} ended without a state (wait status {status}): marking it failed",
                        flush=True,
                    )
                    retry = ti.try_number <= (ti.max_tries or 0)
                    ti.state = TaskInstanceState.UP_FOR_RETRY if retry else TaskInstanceState.FAILED
                    ti.end_date = datetime.now(tz=self.dr.start_date.tzinfo)
        self.session.commit()

    def _wait_children(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            self._reap()
            if self.running:
                self._sleep(0.2)

    def _publish(self, tis: list[Any], state: str | None) -> None:
        tasks = {
            ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": {
                "state": _text(ti.state),
                "try_number": ti.try_number,
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
            }
            for ti in tis
        }
        data = {"dag_id": self.dag.dag_id, "run_id": self.dr.run_id, "state": state, "tasks": tasks}
        text = json.dumps(data, sort_keys=True, default=str)
        if text != self._last_status:
            self._last_status = text
            write_status(self.status_file, data)

    def _cancel(self) -> str:
        """End every running task's process group, fail what is left, mark the run canceled."""
        from airflow.utils.state import DagRunState, State, TaskInstanceState

        print(f"Canceling run {self.dr.run_id}: ending {len(self.running)} running task(s)", flush=True)
        interrupted = set(self.running.values())
        for pid in self.running:
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while self.running and time.monotonic() < deadline:
            self._reap()
            if self.running:
                self._sleep(0.2)
        for pid in self.running:
            _signal_group(pid, signal.SIGKILL)
        self._wait_children(10)
        session = self.session
        session.expire_all()
        tis = self.dr.get_task_instances(session=session)
        for ti in tis:  # what the cancel stopped or never started shows Canceled (skipped)
            if ti.state not in State.finished or self._key(ti) in interrupted:
                ti.state = TaskInstanceState.SKIPPED
                ti.end_date = ti.end_date or datetime.now(tz=self.dr.start_date.tzinfo)
        self.dr.state = DagRunState.FAILED
        self.dr.end_date = datetime.now(tz=self.dr.start_date.tzinfo)
        session.commit()
        self._publish(self.dr.get_task_instances(session=session), "canceled")
        return "canceled"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
