"""One ParallelRunStep worker process: ``init()`` once, then ``run(mini_batch)`` per mini-batch taken.

The worker takes mini-batch indexes from the driver's work queue, so a fast process simply takes
more. Each run() call is bounded by ``run_invocation_timeout`` (SIGALRM in the worker's main
thread). What run() returns is checked and turned into rows here, so only small messages travel
back: counts, the rows text for append_row, or the traceback of a failure.
``from azureml_user.parallel_run import EntryScript`` resolves to :class:`EntryScript`.
"""

from __future__ import annotations

import _signal
import contextlib
import importlib.util
import logging
import os
import select
import signal
import sys
import time
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_azml.runtime.parallel_batches import MiniBatch, describe_items, load_batch

__all__ = ["EntryScript", "MiniBatchContext", "worker_main", "rows_of"]

_STATE: dict[str, Any] = {}


class EntryScript:
    """v1's ``azureml_user.parallel_run.EntryScript``: the logger and folders of this worker."""

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"azml.parallel_run.{_STATE.get('worker', 0)}")

    @property
    def output_dir(self) -> str:
        return _STATE.get("output_dir") or _STATE.get("working_dir", os.getcwd())

    @property
    def working_dir(self) -> str:
        return _STATE.get("working_dir", os.getcwd())

    @property
    def log_dir(self) -> str:
        return _STATE.get("log_dir", os.getcwd())

    @property
    def node_id(self) -> int:
        return int(_STATE.get("node", 0))

    @property
    def process_name(self) -> str:
        return f"process{_STATE.get('worker', 0):03d}"


class MiniBatchContext:
    """The second argument of ``run(mini_batch, mini_batch_context)`` with partition_keys."""

    def __init__(self, partition_key_value: dict[str, Any], dataset: Any = None, minibatch_index: int = 0):
        self.partition_key_value = partition_key_value
        self.dataset = dataset
        self.minibatch_index = minibatch_index

    def __repr__(self) -> str:
        return f"MiniBatchContext(partition_key_value={self.partition_key_value!r})"


def _install_azureml_user() -> None:
    """``azureml_user.parallel_run`` as a module of this process (v1 put it on the node)."""
    if "azureml_user.parallel_run" in sys.modules:
        return
    pkg = types.ModuleType("azureml_user")
    pkg.__path__ = []  # a package
    mod = types.ModuleType("azureml_user.parallel_run")
    mod.EntryScript = EntryScript  # type: ignore[attr-defined]
    mod.MiniBatchContext = MiniBatchContext  # type: ignore[attr-defined]
    pkg.parallel_run = mod  # type: ignore[attr-defined]
    sys.modules.update({"azureml_user": pkg, "azureml_user.parallel_run": mod})


def load_entry_script(path: str) -> types.ModuleType:
    """Import the entry script as a module (its folder first on sys.path, as v1)."""
    _install_azureml_user()
    folder = str(Path(path).parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the entry script {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise AttributeError(f"the entry script {path} has no run(mini_batch) function")
    return module


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"run() took longer than run_invocation_timeout={seconds}s")

    # _signal: the plain handler calls (signal.signal wraps each in enum conversions, per mini-batch)
    previous = _signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _signal.signal(signal.SIGALRM, previous)


def rows_of(result: Any, append: bool) -> tuple[int, str]:
    """(results count, rows text): a DataFrame's rows space-separated, a list's items one per line."""
    if result is None:
        return 0, ""
    if hasattr(result, "to_csv") and hasattr(result, "shape"):
        text = result.to_csv(sep=" ", header=False, index=False) if append and len(result) else ""
        return int(result.shape[0]), text
    if isinstance(result, list | tuple):
        return len(result), ("".join(f"{item}\n" for item in result) if append else "")
    raise TypeError(
        f"run() returned {type(result).__name__}; it must return a list (one item per input it handled) or a "
        "pandas DataFrame."
    )


def _call_run(module: types.ModuleType, batch: MiniBatch, cfg: dict[str, Any], index: int) -> Any:
    data = load_batch(batch)
    _STATE["items"] = len(data)
    run = module.run
    if batch.get("partition") is not None and _arity(run) >= 2:
        context = MiniBatchContext(batch["partition"], _partition_dataset(batch, cfg), index)
        return data, run(data, context)
    return data, run(data)


def _arity(func: Any) -> int:
    import inspect  # only with partition_keys: kept off every worker's start

    return len(inspect.signature(func).parameters)


def _partition_dataset(batch: MiniBatch, cfg: dict[str, Any]) -> Any:
    """The input dataset filtered to the batch's partition values (v1's ``mini_batch_context.dataset``)."""
    definition = (cfg.get("definitions") or {}).get(batch.get("input", ""))
    if not definition or not cfg.get("workspace"):
        return None
    from airflow_azml.core.workspace import Workspace
    from airflow_azml.data.dataset import dataset_from_definition

    try:
        if "workspace" not in _STATE:
            _STATE["workspace"] = Workspace.from_spec(cfg["workspace"])
        dataset = dataset_from_definition(definition, _STATE["workspace"])
        condition = None
        for key, value in batch["partition"].items():
            term = dataset[key] == value
            condition = term if condition is None else condition & term
        return dataset.filter(condition) if condition is not None else dataset
    except Exception as exc:  # the context's dataset is a convenience: never fail the mini-batch for it
        EntryScript().logger.warning("mini_batch_context.dataset is not available: %s", exc)
        return None


def _one(module: types.ModuleType, batches: list[MiniBatch], cfg: dict[str, Any], index: int) -> tuple:
    batch = batches[index]
    started = time.monotonic()
    _STATE["items"] = None
    try:
        with _deadline(int(cfg["run_invocation_timeout"])):
            data, result = _call_run(module, batch, cfg, index)
        count, text = rows_of(result, cfg["output_action"] == "append_row")
    except Exception as exc:  # the user's run() failed: this try of the mini-batch fails
        items = _STATE["items"] if _STATE["items"] is not None else len(batch.get("files") or [])
        reason = f"{type(exc).__name__}: {exc}"
        return ("failed", index, items, reason, traceback.format_exc(), describe_items(batch))
    return ("done", index, len(data), count, text, time.monotonic() - started)


def _next_index(conn: Any, driver: int, poller: Any) -> int | None:
    """The next mini-batch index the driver sends (``None``: stop). Raises EOFError when the
    driver is gone (end of file, or this process was re-parented): a worker never waits on nobody.
    ``poller`` watches the pipe for the worker's whole life (``conn.poll`` builds a selector per call)."""
    while not poller.poll(1000):  # readable, or hung up (then recv raises EOFError)
        if os.getppid() != driver:
            raise EOFError("the driver process is gone")
    try:
        return conn.recv()
    except OSError as exc:
        raise EOFError(str(exc)) from exc


def worker_main(
    worker: int, cfg: dict[str, Any], batches: list[MiniBatch], conn: Any, inherited: list[int] = ()
) -> None:
    """A worker process's life: init() once, then the mini-batches the driver sends until it says stop.

    ``inherited`` are the driver's ends of the pipes (this worker's and the others') the fork
    copied into this process: closed first, so only the driver holds them.
    """
    driver = os.getppid()
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    _STATE.update(
        worker=worker,
        node=worker // max(1, int(cfg["process_count_per_node"])),
        output_dir=cfg.get("output_dir"),
        working_dir=cfg.get("working_dir"),
        log_dir=cfg.get("log_dir"),
    )
    logging.basicConfig(level=cfg.get("logging_level", "INFO"), format="%(asctime)s %(name)s %(message)s")
    sys.argv = [cfg["entry_script"], *cfg.get("arguments", [])]
    try:
        module = load_entry_script(cfg["entry_script"])
        if callable(getattr(module, "init", None)):
            module.init()
    except BaseException:
        conn.send(("init_failed", worker, traceback.format_exc()))
        return
    conn.send(("ready", worker))
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    while True:
        try:
            index = _next_index(conn, driver, poller)
        except EOFError:  # the driver is gone: nobody to answer to
            return
        if index is None:
            break
        conn.send((*_one(module, batches, cfg, index), worker))
    shutdown = getattr(module, "shutdown", None)
    if callable(shutdown):
        shutdown()
