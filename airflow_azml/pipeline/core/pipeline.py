"""Pipeline and StepSequence: a graph of steps that validates itself when built."""

from __future__ import annotations

import sys
from typing import Any

from airflow_azml.exceptions import PipelineValidationError, UserErrorException, did_you_mean
from airflow_azml.pipeline.core.builder import PipelineStep, task_id_for

__all__ = ["Pipeline", "StepSequence"]


class StepSequence:
    """``StepSequence(steps=[a, [b, c], d])``: each element waits for every earlier one."""

    def __init__(self, steps: list | None = None):
        self.steps = list(steps or [])

    def _flatten(self) -> list[PipelineStep]:
        flat: list[PipelineStep] = []
        previous: list[PipelineStep] = []
        for element in self.steps:
            group = list(element) if isinstance(element, list | tuple) else [element]
            for step in group:
                for before in previous:
                    if before not in step._run_after:
                        step.run_after(before)
            flat += group
            previous = previous + group
        return flat


class Pipeline:
    """``Pipeline(workspace, steps, description=None, default_datastore=None,
    default_source_directory=None, resolve_closure=True)``.

    Upstream steps are pulled in transitively. Building refuses an invalid graph with every
    problem listed (``PipelineValidationError.problems``); ``validate()`` returns them.
    """

    def __init__(
        self,
        workspace: Any,
        steps: list | StepSequence,
        description: str | None = None,
        default_datastore: Any = None,
        default_source_directory: str | None = None,
        resolve_closure: bool = True,
        **_: Any,
    ):
        self._workspace = workspace
        self.description = description
        self._default_datastore = default_datastore
        given = steps._flatten() if isinstance(steps, StepSequence) else _flatten_list(steps)
        for step in given:
            if not isinstance(step, PipelineStep):
                raise UserErrorException(f"Pipeline steps must be steps, got {step!r}.")
            if default_source_directory and not step._source_dir_given:
                step.source_directory = PipelineStep._resolve_dir(default_source_directory)
        self._steps = _closure(given) if resolve_closure else list(given)
        _number_default_names(self._steps)
        self._valid_key: tuple | None = None
        self._ordered: tuple[dict[str, list[str]], list[str]] | None = None
        self._params: dict[str, Any] = {}
        problems = self.validate()
        if problems:
            raise PipelineValidationError(problems)

    @property
    def workspace(self) -> Any:
        return self._workspace

    @property
    def steps(self) -> list[PipelineStep]:
        return list(self._steps)

    def validate(self) -> list[str]:
        """Every problem with this pipeline as a sentence; empty when it can run."""
        problems = _duplicate_names(self._steps) + _producer_problems(self._steps)
        problems += _compute_problems(self._steps, self._workspace)
        param_problems, params = _parameters(self._steps)
        problems += param_problems
        for step in self._steps:
            problems += step.check(self._workspace)
        upstream = self.upstream()
        cycle, order = _topological_order(upstream)
        problems += cycle
        self._valid_key = None if problems else self._graph_key()
        self._ordered = None if problems else (upstream, order)
        self._params = params
        return problems

    def _graph_key(self) -> tuple:
        """Changes whenever an edge or a port is added to a step after validation."""
        return tuple((id(s), len(s._run_after), len(s.inputs), len(s.outputs)) for s in self._steps)

    def validated(self) -> bool:
        """True when the graph is unchanged since a validation that found no problem."""
        return self._valid_key is not None and self._valid_key == self._graph_key()

    def ordered_graph(self) -> tuple[dict[str, list[str]], list[str]]:
        """(task_id -> upstream task_ids, task_ids in a dependency order), validating first if the
        graph changed since the last validation; refuses an invalid pipeline."""
        if not self.validated():
            problems = self.validate()
            if problems:
                raise PipelineValidationError(problems)
        return self._ordered

    def upstream(self) -> dict[str, list[str]]:
        """task_id -> sorted task_ids it waits for (data and run_after edges)."""
        return {s.task_id: sorted({u.task_id for u in _upstream_steps(s)}) for s in self._steps}

    def parameters(self) -> dict[str, Any]:
        """name -> PipelineParameter for every parameter a step uses, sorted by name.

        Steps and their arguments are fixed once the pipeline is built (later run_after() calls
        add edges only), so the map found by the last successful validation stays right.
        """
        if self._valid_key is None:
            return _parameters(self._steps)[1]
        return dict(self._params)

    def to_dag(self, dag_id: str, schedule: Any = None, **dag_kwargs: Any) -> Any:
        """Compile to an Airflow DAG (imports Airflow; call it from a DAG file)."""
        from airflow_azml.compiler import compile_pipeline

        plan = compile_pipeline(self, dag_id)
        capture = sys.modules.get("airflow_azml.compiler.capture")  # capturing implies it was imported
        if capture is not None and capture.active():
            return capture.record(plan, schedule, dag_kwargs)
        from airflow_azml.core._orchestrator import airflow_side

        return airflow_side("render_dag")(plan, schedule=schedule, **dag_kwargs)

    def submit(self, experiment_name: str, pipeline_parameters: dict | None = None, **kwargs: Any) -> Any:
        return self._workspace._experiment(experiment_name).submit(
            self, pipeline_parameters=pipeline_parameters, **kwargs
        )

    def publish(
        self,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> Any:
        from airflow_azml.pipeline.core.published import publish_pipeline

        return publish_pipeline(self, name, description, version, continue_on_step_failure)

    @property
    def graph(self) -> dict[str, list[str]]:
        return self.upstream()

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self._steps]})"


def _flatten_list(steps: Any) -> list[PipelineStep]:
    out: list[PipelineStep] = []
    for item in steps if isinstance(steps, list | tuple) else [steps]:
        out += _flatten_list(item) if isinstance(item, list | tuple) else [item]
    return out


def _upstream_steps(step: PipelineStep) -> list[PipelineStep]:
    ups = list(step._run_after)
    for decl in step.inputs:
        if decl.source == "step_output":  # its obj is always produced data (PipelineData / output config)
            ups += decl.obj._producers
    return [u for u in ups if u is not step]


def _closure(steps: list[PipelineStep]) -> list[PipelineStep]:
    seen: dict[int, PipelineStep] = {}
    stack = list(steps)
    while stack:
        step = stack.pop(0)
        if id(step) not in seen:
            seen[id(step)] = step
            stack += _upstream_steps(step)
    return list(seen.values())


def _number_default_names(steps: list[PipelineStep]) -> None:
    """Steps whose name was not given (a ModuleStep is named after its module, and v1 lets
    several steps share a name) get distinct task ids: ``name``, ``name_2``, ``name_3``..."""
    taken = {s.task_id for s in steps if not getattr(s, "_name_defaulted", False)}
    for step in steps:
        if getattr(step, "_name_defaulted", False):
            base = task_id_for(step.name)
            task_id, n = base, 2
            while task_id in taken:
                task_id, n = f"{base}_{n}", n + 1
            step.task_id = task_id
            taken.add(task_id)


def _duplicate_names(steps: list[PipelineStep]) -> list[str]:
    by_id: dict[str, list[str]] = {}
    for s in steps:
        by_id.setdefault(s.task_id, []).append(s.name)
    return [
        f"Steps {sorted(set(names))} share the task id {tid!r}; give each step a unique name=."
        for tid, names in sorted(by_id.items())
        if len(names) > 1
    ]


def _producer_problems(steps: list[PipelineStep]) -> list[str]:
    problems = []
    checked: set[int] = set()
    for step in steps:
        for decl in step.outputs:
            data = getattr(decl.obj, "_origin", decl.obj)
            producers = {p.name for p in data._producers}
            if id(data) not in checked and len(producers) > 1:
                problems.append(
                    f"Data {decl.name!r} is an output of {len(producers)} steps ({', '.join(sorted(producers))}); "
                    "each PipelineData/OutputFileDatasetConfig must have exactly one producer."
                )
            checked.add(id(data))
        for decl in step.inputs:
            if decl.source == "step_output" and not decl.obj._producers:
                problems.append(
                    f"Step {step.name!r} reads {decl.name!r}, which no step produces; add the "
                    f"producing step, or list {decl.obj.name!r} in that step's outputs."
                )
    return problems


def _compute_problems(steps: list[PipelineStep], workspace: Any) -> list[str]:
    known = set(workspace._compute_specs) if workspace is not None else set()
    for step in steps:
        obj = step._compute_obj
        if obj is not None and step.compute_target not in known and workspace is not None:
            workspace._compute_specs[step.compute_target] = dict(obj.spec)
            known.add(step.compute_target)
    problems = []
    for step in steps:
        name = step.compute_target
        if name is None or name == "local" or name in known:
            continue
        listing = ", ".join(["local", *sorted(known)])
        problems.append(
            f"Step {step.name!r}: unknown compute target {name!r}.{did_you_mean(name, known)} Known targets: "
            f"{listing}. Declare it under 'compute_targets' in the workspace file."
        )
    return problems


def _parameters(steps: list[PipelineStep]) -> tuple[list[str], dict[str, Any]]:
    """(a problem per parameter name defined twice with different defaults, name -> parameter)."""
    seen: dict[str, Any] = {}
    problems = []
    for step in steps:
        for param in step.parameters():
            other = seen.setdefault(param.name, param)
            if other is not param and other.default_value != param.default_value:
                problems.append(
                    f"PipelineParameter {param.name!r} is defined twice with different defaults "
                    f"({other.default_value!r} and {param.default_value!r}); create it once and reuse the object."
                )
    return problems, dict(sorted(seen.items()))


def _topological_order(upstream: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """([a problem naming the cycle] or [], the task ids in dependency order).

    Kahn's algorithm in the steps' order (graphlib would cost a module import per DAG parse).
    """
    missing = {u: [] for ups in upstream.values() for u in ups if u not in upstream}
    upstream = {**missing, **upstream} if missing else upstream  # steps left out with resolve_closure=False
    waiting = {tid: len(ups) for tid, ups in upstream.items()}
    downstream: dict[str, list[str]] = {tid: [] for tid in upstream}
    for tid, ups in upstream.items():
        for up in ups:
            downstream[up].append(tid)
    order = [tid for tid, count in waiting.items() if count == 0]
    for tid in order:  # grows while it is walked
        for down in downstream[tid]:
            waiting[down] -= 1
            if waiting[down] == 0:
                order.append(down)
    if len(order) == len(upstream):
        return [], order
    cycle = _find_cycle(upstream, set(upstream) - set(order))
    return [f"The steps form a cycle: {' -> '.join(cycle)}. Remove a run_after() or a data edge."], []


def _find_cycle(upstream: dict[str, list[str]], stuck: set[str]) -> list[str]:
    """One cycle among the steps Kahn's algorithm could not order, first step repeated at the end."""
    path: list[str] = []
    seen: dict[str, int] = {}
    node = min(stuck)
    while node not in seen:  # every stuck step waits for another stuck step: this walk must loop
        seen[node] = len(path)
        path.append(node)
        node = min(u for u in upstream[node] if u in stuck)
    loop = path[seen[node] :] + [node]
    return loop[::-1]  # in the direction the data flows
