"""ModuleStep: run one version of a registered Module, wiring pipeline data to its ports.

The version is chosen when the step is built (``module_version``; else ``module`` with
``version``; else ``module.resolve()``) and the step compiles to the plan of a
PythonScriptStep (same operator, reuse, environment handling). Inputs are named after the
module's input ports (``run.input_datasets['in1']``); outputs keep their PipelineData names.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from airflow_azml.exceptions import UserErrorException, did_you_mean
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.core.module import Module, ModuleVersion
from airflow_azml.pipeline.core.pipeline_data import InputPortBinding, PipelineData
from airflow_azml.pipeline.steps.python_script_step import PythonScriptStep, environment_spec

__all__ = ["ModuleStep"]

log = logging.getLogger(__name__)


def _choose_version(module: Any, version: str | None, module_version: Any) -> ModuleVersion:
    if (module is None) == (module_version is None):
        given = "both are given" if module is not None else "neither is given"
        raise UserErrorException(
            f"ModuleStep needs exactly one of module= or module_version= ({given}); pass module=Module.get(ws, "
            "name=...) (optionally with version=) or a ModuleVersion from publish_python_script()."
        )
    if module_version is not None:
        if not isinstance(module_version, ModuleVersion):
            raise UserErrorException(
                f"ModuleStep: module_version must be a ModuleVersion, not {module_version!r}."
            )
        return module_version
    if not isinstance(module, Module):
        raise UserErrorException(
            f"ModuleStep: module must be a Module (Module.create/Module.get), not {module!r}."
        )
    if module.status == "Disabled":
        raise UserErrorException(
            f"Module {module.name!r} is disabled; call module.enable() to use it in a step."
        )
    return module.resolve(version)


def _bind_input(port: Any, item: Any, step: str) -> Any:
    """The step input for ``item`` mapped to ``port``: a copy named after the port (as v1 clones it)."""
    if isinstance(item, PipelineData):
        mode = (
            port.default_datastore_mode if port.default_datastore_mode in ("mount", "download") else "mount"
        )
        return InputPortBinding(
            port.name, item, mode, port.default_path_on_compute, port.default_overwrite or None
        )
    bound = copy.copy(item)
    for attr in ("name", "data_reference_name"):  # the attribute that names the input
        if isinstance(getattr(bound, attr, None), str):
            setattr(bound, attr, port.name)
            return bound
    raise UserErrorException(
        f"ModuleStep {step!r}: inputs_map[{port.name!r}] = {item!r} ({type(item).__name__}) cannot be an input; "
        "map a port to PipelineData, an InputPortBinding, a DataReference or a named dataset input."
    )


def _unknown(step: str, what: str, given: list[str], known: list[str]) -> list[str]:
    return [
        f"ModuleStep {step!r}: {what} {name!r} is not a port/parameter of the module version.{did_you_mean(name, known)} "
        f"Known: {', '.join(known) or '(none)'}."
        for name in given
        if name not in known
    ]


class ModuleStep(PythonScriptStep):
    """``ModuleStep(module=None, version=None, module_version=None, inputs_map=None, outputs_map=None,
    compute_target=None, runconfig=None, runconfig_pipeline_params=None, arguments=None, params=None,
    name=None)``."""

    def __init__(
        self,
        module: Module | None = None,
        version: str | None = None,
        module_version: ModuleVersion | None = None,
        inputs_map: dict[str, Any] | None = None,
        outputs_map: dict[str, Any] | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: dict | None = None,
        arguments: list | None = None,
        params: dict | None = None,
        name: str | None = None,
        _workflow_provider: Any = None,
    ):
        chosen = _choose_version(module, version, module_version)
        step = name or chosen.module_name or chosen.module().name
        if chosen.status == "Disabled":
            raise UserErrorException(
                f"ModuleStep {step!r}: version {chosen.version!r} of the module is disabled; enable it or choose "
                "another version."
            )
        if chosen.status == "Deprecated":
            log.warning("ModuleStep %s uses deprecated module version %s.", step, chosen.version)
        self.module_version = chosen
        interface = chosen.interface
        inputs_map, outputs_map = dict(inputs_map or {}), dict(outputs_map or {})
        self._check_wiring(step, interface, inputs_map, outputs_map, params or {})
        in_ports = {p.name: p for p in interface.inputs}
        bound = {port: _bind_input(in_ports[port], item, step) for port, item in inputs_map.items()}
        clones = {id(inputs_map[port]): b for port, b in bound.items()}
        if arguments:
            args = [clones.get(id(a), a) for a in arguments]
        else:
            args = self._default_arguments(step, chosen.arguments or [], bound, outputs_map)
        step_params = {**interface.parameters, **(params or {})}
        for arg in args:  # v1: a PipelineParameter in arguments is also passed as AML_PARAMETER_<name>
            if isinstance(arg, PipelineParameter):
                step_params[arg.name] = arg
        if compute_target is None and getattr(runconfig, "target", "local") not in (None, "local"):
            compute_target = runconfig.target
        super().__init__(
            chosen.script_name,
            name=step,
            arguments=args,
            compute_target=compute_target,
            runconfig=runconfig,
            runconfig_pipeline_params=runconfig_pipeline_params,
            inputs=list(bound.values()),
            outputs=list(outputs_map.values()),
            params=step_params,
            source_directory=chosen.source_directory,
        )
        self._name_defaulted = name is None  # v1 lets several steps share a module's name

    @staticmethod
    def _check_wiring(step: str, interface: Any, inputs_map: dict, outputs_map: dict, params: dict) -> None:
        ins, outs = [p.name for p in interface.inputs], [p.name for p in interface.outputs]
        problems = _unknown(step, "inputs_map key", list(inputs_map), ins)
        problems += _unknown(step, "outputs_map key", list(outputs_map), outs)
        problems += _unknown(step, "params key", list(params), sorted(interface.parameters))
        problems += [
            f"ModuleStep {step!r}: input port {p.name!r} is required but not in inputs_map; map it to the data "
            f"the step reads, e.g. inputs_map={{{p.name!r}: some_pipeline_data}}."
            for p in interface.inputs
            if not p.is_optional and p.name not in inputs_map
        ]
        if problems:
            raise UserErrorException("\n".join(problems))

    @staticmethod
    def _default_arguments(step: str, annotated: list[Any], bound: dict, outputs_map: dict) -> list[Any]:
        """The module version's own arguments, its port placeholders replaced by the mapped data."""
        args: list[Any] = []
        for arg in annotated:
            if not isinstance(arg, dict):
                args.append(arg)
            elif "$pipeline_parameter" in arg:
                args.append(PipelineParameter(arg["$pipeline_parameter"], arg["default"]))
            else:
                port = arg.get("$port_input") or arg.get("$port_output")
                found = bound.get(port) if "$port_input" in arg else outputs_map.get(port)
                if found is None:
                    raise UserErrorException(
                        f"ModuleStep {step!r}: the module's arguments use port {port!r}, which is not mapped; add "
                        f"it to {'inputs_map' if '$port_input' in arg else 'outputs_map'} or pass arguments=."
                    )
                args.append(found)
        return args

    def plan_fields(self) -> dict[str, Any]:
        fields = super().plan_fields()
        if self.runconfig is None and self.module_version.runconfig is not None:
            fields["environment"] = dict(self.module_version.runconfig)
        else:
            fields["environment"] = environment_spec(self.runconfig)
        fields["module"] = {
            "name": self.module_version.module_name,
            "id": self.module_version.module_id,
            "version": self.module_version.version,
            "module_version_id": self.module_version.module_version_id,
        }
        return fields
