"""ParallelRunStep and ParallelRunConfig: batch inference over mini-batches of a dataset, as in v1.

The entry script's ``init()`` runs once per worker process and ``run(mini_batch)`` once per
mini-batch: a list of local file paths for a FileDataset, a pandas DataFrame for a
TabularDataset. ``node_count`` × ``process_count_per_node`` processes take mini-batches from one
work queue; ``output_action="append_row"`` gathers every result into one file of the output.
Everything here is checked when the step is built; nothing is read or listed.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.steps.python_script_step import script_problems

__all__ = ["ParallelRunConfig", "ParallelRunStep", "parse_size", "DEFAULT_APPEND_ROW_FILE"]

DEFAULT_APPEND_ROW_FILE = "parallel_run_step.txt"
OUTPUT_ACTIONS = ("append_row", "summary_only")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_UNITS.update({"t": 1024**4, "tb": 1024**4})


def parse_size(value: Any, where: str = "mini_batch_size") -> int:
    """A tabular mini_batch_size ("1KB", "10MB", "1.5GB", 2048) in bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()]) if match else 0
    if size <= 0:
        raise UserErrorException(
            f"{where}={value!r} is not a size: for a TabularDataset give a positive size such as '1KB', '10MB' "
            "or '1GB' (for a FileDataset, a number of files such as 10)."
        )
    return size


def _check_int(name: str, value: Any, low: int, *, allow_param: bool = False) -> None:
    if allow_param and isinstance(value, PipelineParameter):
        if value.param_type not in ("int", "string"):
            raise UserErrorException(
                f"ParallelRunConfig: {name} is the PipelineParameter {value.name!r} with the default "
                f"{value.default_value!r}; give it an int default."
            )
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserErrorException(
            f"ParallelRunConfig: {name} must be an int >= {low}, got {value!r}"
            + (" (or a PipelineParameter with an int default)." if allow_param else ".")
        )


class ParallelRunConfig:
    """``ParallelRunConfig(environment, entry_script, error_threshold, output_action, compute_target,
    node_count, process_count_per_node=None, mini_batch_size=None, source_directory=None,
    description=None, logging_level="INFO", run_invocation_timeout=60, run_max_try=3,
    append_row_file_name=None, allowed_failed_count=None, allowed_failed_percent=None,
    partition_keys=None, environment_variables=None)``.

    ``node_count``, ``process_count_per_node`` and ``mini_batch_size`` may be PipelineParameters
    (overridden per run). ``process_count_per_node=None`` means one process per CPU core of the
    worker, as v1. ``mini_batch_size=None`` means 10 files, or 1MB of a TabularDataset.
    """

    def __init__(
        self,
        environment: Any,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any,
        node_count: Any,
        process_count_per_node: Any = None,
        mini_batch_size: Any = None,
        source_directory: str | None = None,
        description: str | None = None,
        logging_level: str = "INFO",
        run_invocation_timeout: int = 60,
        run_max_try: int = 3,
        append_row_file_name: str | None = None,
        allowed_failed_count: int | None = None,
        allowed_failed_percent: float | None = None,
        partition_keys: list[str] | None = None,
        environment_variables: dict[str, str] | None = None,
    ):
        if not isinstance(entry_script, str) or not entry_script.strip():
            raise UserErrorException(
                f"ParallelRunConfig needs entry_script, the script with init() and run(mini_batch) (got {entry_script!r})."
            )
        self.environment = environment
        self.entry_script = entry_script
        self.error_threshold = error_threshold
        self.output_action = output_action
        self.compute_target = compute_target
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.mini_batch_size = mini_batch_size
        self.source_directory = source_directory
        self.description = description
        self.logging_level = logging_level
        self.run_invocation_timeout = run_invocation_timeout
        self.run_max_try = run_max_try
        self.append_row_file_name = append_row_file_name
        self.allowed_failed_count = allowed_failed_count
        self.allowed_failed_percent = allowed_failed_percent
        self.partition_keys = list(partition_keys) if partition_keys is not None else None
        self.environment_variables = dict(environment_variables or {})
        self._validate()

    def _validate(self) -> None:
        """v1's checks, made when the config is built."""
        _check_int("error_threshold", self.error_threshold, -1)
        if self.output_action not in OUTPUT_ACTIONS:
            raise UserErrorException(
                f"ParallelRunConfig: output_action={self.output_action!r}; use 'append_row' (every run() result "
                "in one file of the output) or 'summary_only' (the script writes its own output)."
            )
        _check_int("node_count", self.node_count, 1, allow_param=True)
        if self.process_count_per_node is not None:
            _check_int("process_count_per_node", self.process_count_per_node, 1, allow_param=True)
        _check_int("run_invocation_timeout", self.run_invocation_timeout, 1)
        _check_int("run_max_try", self.run_max_try, 1)
        if self.allowed_failed_count is not None:
            _check_int("allowed_failed_count", self.allowed_failed_count, -1)
        self._validate_percent()
        if str(self.logging_level).upper() not in _LEVELS:
            raise UserErrorException(
                f"ParallelRunConfig: logging_level={self.logging_level!r}; use one of {', '.join(_LEVELS)}."
            )
        self._validate_partitioning()
        name = self.append_row_file_name
        if name is not None and (not isinstance(name, str) or not name or "/" in name or name in (".", "..")):
            raise UserErrorException(
                f"ParallelRunConfig: append_row_file_name={name!r} must be a plain file name such as 'results.txt'."
            )

    def _validate_percent(self) -> None:
        pct = self.allowed_failed_percent
        if pct is None or pct == -1:
            return
        if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
            raise UserErrorException(
                f"ParallelRunConfig: allowed_failed_percent={pct!r} must be a number from 0 to 100 (or -1 to "
                "ignore failed mini-batches)."
            )

    def _validate_partitioning(self) -> None:
        keys, size = self.partition_keys, self.mini_batch_size
        if keys is not None:
            if size is not None:
                raise UserErrorException(
                    "ParallelRunConfig: give partition_keys or mini_batch_size, not both: with partition_keys each "
                    "mini-batch is one partition (one combination of the keys' values)."
                )
            if not keys or not all(isinstance(k, str) and k for k in keys):
                raise UserErrorException(
                    f"ParallelRunConfig: partition_keys={keys!r} must be a non-empty list of key names."
                )
        if isinstance(size, PipelineParameter):
            if size.param_type not in ("int", "string"):
                raise UserErrorException(
                    f"ParallelRunConfig: mini_batch_size is the PipelineParameter {size.name!r} with default "
                    f"{size.default_value!r}; give it a number of files or a size such as '1MB'."
                )
        elif size is not None and not (isinstance(size, int) and not isinstance(size, bool) and size > 0):
            parse_size(size)

    def parameters(self) -> list[PipelineParameter]:
        values = (self.node_count, self.process_count_per_node, self.mini_batch_size)
        return [v for v in values if isinstance(v, PipelineParameter)]

    def __repr__(self) -> str:
        return f"ParallelRunConfig(entry_script={self.entry_script!r}, output_action={self.output_action!r})"


def _plan_value(value: Any) -> Any:
    return {"$param": value.name} if isinstance(value, PipelineParameter) else value


def _input_kind(decl: Any) -> str | None:
    """'tabular' or 'file' when known at build time (None: decided when the step runs)."""
    if decl.tabular:
        return "tabular"
    obj = decl.obj
    if isinstance(obj, PipelineParameter):
        obj = obj.default_value
    kind = getattr(obj, "kind", None)
    if kind in ("tabular", "file"):
        return kind
    return "file" if decl.source in ("step_output", "datastore", "datapath_param") else None


class ParallelRunStep(PipelineStep):
    """``ParallelRunStep(name, parallel_run_config, inputs, output=None, side_inputs=None,
    arguments=None, allow_reuse=True)``."""

    step_kind = "parallel_run"
    operator_class = "airflow_azml.provider.operators.parallel_run.ParallelRunStepOperator"

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list,
        output: Any = None,
        side_inputs: list | None = None,
        arguments: list | None = None,
        allow_reuse: bool = True,
    ):
        _check_name(name)
        if not isinstance(parallel_run_config, ParallelRunConfig):
            raise UserErrorException(
                f"ParallelRunStep {name!r}: parallel_run_config must be a ParallelRunConfig, not "
                f"{type(parallel_run_config).__name__}."
            )
        if not inputs:
            raise UserErrorException(
                f"ParallelRunStep {name!r}: inputs is empty; give the dataset(s) to split into mini-batches, e.g. "
                "inputs=[dataset.as_named_input('data')]."
            )
        self.parallel_run_config = cfg = parallel_run_config
        side = list(side_inputs or [])
        super().__init__(
            name,
            list(inputs) + side,
            [output] if output is not None else [],
            arguments,
            cfg.compute_target,
            allow_reuse,
            None,
            cfg.source_directory,
        )
        self.side_inputs = [d.name for d in self._inputs[len(inputs) :]]
        self._main = self._inputs[: len(inputs)]
        self._kind = self._check_inputs(cfg)

    def _check_inputs(self, cfg: ParallelRunConfig) -> str | None:
        """One dataset type across inputs; partition_keys must be keys of every input."""
        kinds = {d.name: _input_kind(d) for d in self._main}
        known = {k for k in kinds.values() if k}
        if len(known) > 1:
            listed = ", ".join(f"{n}: {k}" for n, k in sorted(kinds.items()))
            raise UserErrorException(
                f"ParallelRunStep {self.name!r}: inputs mix FileDataset and TabularDataset ({listed}); all inputs "
                "must be of one type (pass others as side_inputs)."
            )
        kind = known.pop() if known else None
        if (
            kind == "tabular"
            and isinstance(cfg.mini_batch_size, int)
            and not isinstance(cfg.mini_batch_size, bool)
        ):
            parse_size(cfg.mini_batch_size)
        if (
            kind == "file"
            and isinstance(cfg.mini_batch_size, str)
            and not cfg.mini_batch_size.strip().isdigit()
        ):
            raise UserErrorException(
                f"ParallelRunStep {self.name!r}: mini_batch_size={cfg.mini_batch_size!r} is a size, but the inputs "
                "are FileDatasets: give a number of files per mini-batch, e.g. mini_batch_size=10."
            )
        if cfg.partition_keys:
            for decl in self._main:
                self._check_keys(decl, cfg.partition_keys)
        return kind

    def _check_keys(self, decl: Any, keys: list[str]) -> None:
        obj = decl.obj.default_value if isinstance(decl.obj, PipelineParameter) else decl.obj
        if not hasattr(obj, "partition_keys"):
            raise UserErrorException(
                f"ParallelRunStep {self.name!r}: partition_keys needs datasets with partition keys, but input "
                f"{decl.name!r} is {type(obj).__name__}; create the dataset with partition_format= or partition_by()."
            )
        have = list(obj.partition_keys)
        missing = [k for k in keys if k not in have]
        if missing:
            raise UserErrorException(
                f"ParallelRunStep {self.name!r}: partition_keys {missing} are not keys of input {decl.name!r} "
                f"(its keys: {have or 'none'}); use keys its partition_format names."
            )

    def _extra_parameters(self) -> list[PipelineParameter]:
        return self.parallel_run_config.parameters()

    def check(self, workspace: Any) -> list[str]:
        return script_problems(self, self.parallel_run_config.entry_script)

    def plan_fields(self) -> dict[str, Any]:
        from airflow_azml.core.runconfig import runconfig_spec

        cfg = self.parallel_run_config
        environment = runconfig_spec(cfg.environment, env_vars=cfg.environment_variables)
        return {
            "script_name": cfg.entry_script,
            "environment": environment,
            "params": {},
            "parallel": {
                "input_kind": self._kind,
                "inputs": [d.name for d in self._main],
                "side_inputs": self.side_inputs,
                "node_count": _plan_value(cfg.node_count),
                "process_count_per_node": _plan_value(cfg.process_count_per_node),
                "mini_batch_size": _plan_value(cfg.mini_batch_size),
                "error_threshold": cfg.error_threshold,
                "allowed_failed_count": cfg.allowed_failed_count,
                "allowed_failed_percent": cfg.allowed_failed_percent,
                "output_action": cfg.output_action,
                "append_row_file_name": cfg.append_row_file_name or DEFAULT_APPEND_ROW_FILE,
                "run_invocation_timeout": cfg.run_invocation_timeout,
                "run_max_try": cfg.run_max_try,
                "logging_level": str(cfg.logging_level).upper(),
                "partition_keys": cfg.partition_keys,
            },
        }


def _check_name(name: Any) -> None:
    """v1: 3 to 32 characters, lowercase letters, digits and '-', starting with a letter."""
    if isinstance(name, str) and 3 <= len(name) <= 32 and _NAME.match(name):
        return
    hint = re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-")[:32] if isinstance(name, str) else ""
    suggestion = f" e.g. {hint!r}" if hint and _NAME.match(hint) and len(hint) >= 3 else ""
    raise UserErrorException(
        f"ParallelRunStep name {name!r} is invalid: use 3 to 32 lowercase letters, digits or '-', starting with a "
        f"letter and ending with a letter or digit{suggestion}."
    )
