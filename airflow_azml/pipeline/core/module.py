"""Module and ModuleVersion: reusable, versioned scripts with a declared interface.

v1 kept modules in the Azure ML service; ours are entries of the workspace registry on the
default datastore (like published pipelines and dataset versions), one JSON file per module:
``.azml/modules/<id>.json`` with the module's name, status, default version and every version
(script, source folder, input/output port definitions, parameters, arguments, environment).
A version refers to its ``source_directory`` by absolute path (v1 uploaded a snapshot): a
worker must see the same folder, as it must for a PythonScriptStep. A ModuleStep resolves
the version when it is built and compiles to the plan of a PythonScriptStep.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from airflow_azml.core import registry
from airflow_azml.core._home import caller_dir
from airflow_azml.exceptions import UserErrorException, did_you_mean
from airflow_azml.pipeline.core.graph import InputPortDef, OutputPortDef, PipelineParameter

__all__ = ["Module", "ModuleVersion", "ModuleVersionDescriptor", "ModuleInterface", "REGISTRY_PREFIX"]

REGISTRY_PREFIX = registry.KINDS["modules"]


def _save(workspace: Any, entry: dict[str, Any]) -> None:
    registry.write(workspace, "modules", entry["id"], entry)


def _entries(workspace: Any) -> list[dict[str, Any]]:
    return registry.entries(workspace, "modules")


def _annotate(arguments: list | None, module: str) -> list[Any] | None:
    """A version's default arguments as data: port definitions and parameters become placeholders."""
    if arguments is None:
        return None
    out: list[Any] = []
    for arg in arguments:
        if isinstance(arg, InputPortDef):
            out.append({"$port_input": arg.name})
        elif isinstance(arg, OutputPortDef):
            out.append({"$port_output": arg.name})
        elif isinstance(arg, PipelineParameter):
            out.append({"$pipeline_parameter": arg.name, "default": arg.default_value})
        elif isinstance(arg, (str, int, float, bool)):
            out.append(arg)
        else:
            raise UserErrorException(
                f"Module {module!r}: argument {arg!r} ({type(arg).__name__}) cannot be a module argument; use str, "
                "a number, an InputPortDef, an OutputPortDef or a PipelineParameter."
            )
    return out


class ModuleVersionDescriptor:
    """A (version, module_version_id) pair, as ``Module.module_version_list()`` returns them."""

    def __init__(self, version: str, module_version_id: str):
        self.version = version
        self.module_version_id = module_version_id

    def __repr__(self) -> str:
        return (
            f"ModuleVersionDescriptor(version={self.version!r}, module_version_id={self.module_version_id!r})"
        )


class ModuleInterface:
    """What a module version takes and gives: port definitions and parameters with defaults."""

    def __init__(self, inputs: list[InputPortDef], outputs: list[OutputPortDef], parameters: dict[str, Any]):
        self.inputs = inputs
        self.outputs = outputs
        self.parameters = parameters

    def __repr__(self) -> str:
        return (
            f"ModuleInterface(inputs={[p.name for p in self.inputs]}, outputs={[p.name for p in self.outputs]}, "
            f"parameters={sorted(self.parameters)})"
        )


class _StatusActions:
    """v1's ``enable`` / ``disable`` / ``deprecate`` of a Module and a ModuleVersion: each saves a status."""

    def _update(self, **changes: Any) -> None:
        raise NotImplementedError

    def enable(self) -> None:
        self._update(status="Active")

    def disable(self) -> None:
        self._update(status="Disabled")

    def deprecate(self) -> None:
        self._update(status="Deprecated")


class ModuleVersion(_StatusActions):
    """One version of a Module: the computation a ModuleStep runs. Made by ``Module.publish_python_script``."""

    def __init__(self, workspace: Any, module_id: str, entry: dict[str, Any], module_name: str | None = None):
        self._workspace = workspace
        self._module_id = module_id
        self._entry = entry
        self.module_name = module_name  # known without a registry read (a ModuleStep's default name)

    @staticmethod
    def get(workspace: Any, module_version_id: str | None = None, **_: Any) -> ModuleVersion:
        for module in _entries(workspace):
            for entry in module["versions"]:
                if entry["id"] == module_version_id:
                    return ModuleVersion(workspace, module["id"], entry, module["name"])
        raise UserErrorException(
            f"No module version with id {module_version_id!r} in workspace {workspace.name!r}."
        )

    module_id = property(lambda self: self._module_id)
    module_version_id = property(lambda self: self._entry["id"])
    version = property(lambda self: self._entry["version"])
    status = property(lambda self: self._entry.get("status", "Active"))
    description = property(lambda self: self._entry.get("description"))
    category = property(lambda self: self._entry.get("category"))
    script_name = property(lambda self: self._entry["script_name"])
    source_directory = property(lambda self: self._entry["source_directory"])
    arguments = property(lambda self: self._entry.get("arguments"))
    #: the environment the version was published with (plan data), or None
    runconfig = property(lambda self: self._entry.get("runconfig"))

    @property
    def interface(self) -> ModuleInterface:
        return ModuleInterface(
            [InputPortDef.from_spec(p) for p in self._entry["inputs"]],
            [OutputPortDef.from_spec(p) for p in self._entry["outputs"]],
            dict(self._entry.get("params") or {}),
        )

    def module(self, **_: Any) -> Module:
        return Module.get(self._workspace, module_id=self._module_id)

    def set_description(self, description: str) -> None:
        self._update(description=description)

    def _update(self, **changes: Any) -> None:
        module = self.module()
        for entry in module._entry["versions"]:
            if entry["id"] == self.module_version_id:
                entry.update(changes, updated=time.time())
                self._entry = entry
        _save(self._workspace, module._entry)

    def __repr__(self) -> str:
        return (
            f"ModuleVersion(module_id={self.module_id!r}, version={self.version!r}, status={self.status!r})"
        )


class Module(_StatusActions):
    """A named container of versions (``Module.create`` / ``Module.get``), kept in the workspace registry."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        self._workspace = workspace
        self._entry = entry

    # -- registry --------------------------------------------------------------------
    @staticmethod
    def create(workspace: Any, name: str, description: str | None = None, **_: Any) -> Module:
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException(f"Module.create needs a non-empty name (got {name!r}).")
        if any(e["name"] == name for e in _entries(workspace)):
            raise UserErrorException(
                f"A module named {name!r} already exists in workspace {workspace.name!r}; fetch it with "
                f"Module.get(ws, name={name!r}) and publish a new version on it."
            )
        entry = {
            "id": uuid.uuid4().hex,
            "name": name,
            "description": description,
            "status": "Active",
            "default_version": None,
            "versions": [],
        }
        _save(workspace, entry)
        return Module(workspace, entry)

    @staticmethod
    def get(workspace: Any, module_id: str | None = None, name: str | None = None, **_: Any) -> Module:
        if module_id is None and name is None:
            raise UserErrorException("Module.get needs module_id= or name=.")
        entries = _entries(workspace)
        for entry in entries:
            if (module_id is not None and entry["id"] == module_id) or (
                module_id is None and entry["name"] == name
            ):
                return Module(workspace, entry)
        known = [e["name"] for e in entries]
        wanted = f"id {module_id!r}" if module_id is not None else f"name {name!r}"
        hint = did_you_mean(name, known) if name else ""
        raise UserErrorException(
            f"No module with {wanted} in workspace {workspace.name!r}.{hint} Modules: {', '.join(sorted(known)) or '(none)'}."
        )

    @staticmethod
    def get_versions(workspace: Any, name: str, **_: Any) -> list[ModuleVersionDescriptor]:
        return Module.get(workspace, name=name).module_version_list()

    id = property(lambda self: self._entry["id"])
    name = property(lambda self: self._entry["name"])
    description = property(lambda self: self._entry.get("description"))
    status = property(lambda self: self._entry.get("status", "Active"))
    default_version = property(lambda self: self._entry.get("default_version"))

    def module_version_list(self) -> list[ModuleVersionDescriptor]:
        return [ModuleVersionDescriptor(v["version"], v["id"]) for v in self._entry["versions"]]

    # -- publishing ------------------------------------------------------------------
    def publish_python_script(
        self,
        script_name: str,
        description: str | None,
        inputs: list[InputPortDef],
        outputs: list[OutputPortDef],
        params: dict[str, Any] | None = None,
        create_sequencing_ports: bool = True,
        version: str | None = None,
        is_default: bool = False,
        source_directory: str | None = None,
        hash_paths: list | None = None,
        category: str | None = None,
        arguments: list | None = None,
        runconfig: Any = None,
    ) -> ModuleVersion:
        """A new version running ``script_name`` in ``source_directory`` (relative to the calling file)."""
        folder = caller_dir() / os.path.expanduser(source_directory or ".")
        if not (folder / script_name).is_file():
            raise UserErrorException(
                f"Module {self.name!r}: script {script_name!r} not found in source_directory {str(folder)!r}."
            )
        version = self._next_version(version)
        entry = {
            "id": uuid.uuid4().hex,
            "version": version,
            "description": description,
            "status": "Active",
            "script_name": script_name,
            "source_directory": str(folder.resolve()),
            "inputs": [self._port(p, InputPortDef, "inputs").to_spec() for p in inputs or []],
            "outputs": [self._port(p, OutputPortDef, "outputs").to_spec() for p in outputs or []],
            "params": self._params(params),
            "arguments": _annotate(arguments, self.name),
            "runconfig": self._environment(runconfig),
            "category": category,
            "updated": time.time(),
        }
        self._check_port_names(entry)
        self._entry["versions"].append(entry)
        if is_default:
            self._entry["default_version"] = version
        _save(self._workspace, self._entry)
        return ModuleVersion(self._workspace, self.id, entry, self.name)

    def _next_version(self, version: Any) -> str:
        taken = [v["version"] for v in self._entry["versions"]]
        if version is None:
            numbers = [int(v) for v in taken if str(v).isdigit()]
            return str(max(numbers, default=0) + 1)
        if str(version) in taken:
            raise UserErrorException(
                f"Module {self.name!r} already has a version {str(version)!r}; versions: {taken}. Choose another."
            )
        return str(version)

    def _port(self, port: Any, kind: type, where: str) -> Any:
        if not isinstance(port, kind):
            raise UserErrorException(
                f"Module {self.name!r}: {where} takes {kind.__name__} objects, not {port!r} ({type(port).__name__})."
            )
        return port

    def _check_port_names(self, entry: dict[str, Any]) -> None:
        names = [p["name"] for p in entry["inputs"] + entry["outputs"]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UserErrorException(
                f"Module {self.name!r}: port name(s) {', '.join(twice)} used more than once; give every input "
                "and output port its own name."
            )

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        out = {}
        for key, value in (params or {}).items():
            if not isinstance(value, (str, int, float, bool)):
                raise UserErrorException(
                    f"Module {self.name!r}: parameter {key!r} has default {value!r}; defaults must be str, int, "
                    "float or bool."
                )
            out[str(key)] = value
        return out

    @staticmethod
    def _environment(runconfig: Any) -> dict[str, Any] | None:
        if runconfig is None:
            return None
        from airflow_azml.core.runconfig import runconfig_spec

        return runconfig_spec(runconfig)

    # -- choosing a version ----------------------------------------------------------
    def resolve(self, version: str | None = None) -> ModuleVersion:
        """The given version; else the default one; else the highest dotted-number version; else the newest."""
        versions = self._entry["versions"]
        if version is not None:
            for entry in versions:
                if entry["version"] == str(version):
                    return ModuleVersion(self._workspace, self.id, entry, self.name)
            raise UserErrorException(
                f"Module {self.name!r} has no version {str(version)!r}; versions: {[v['version'] for v in versions]}."
            )
        default = self.get_default()
        if default is not None:
            return default
        usable = [v for v in versions if v.get("status") != "Disabled"]
        if not usable:
            raise UserErrorException(
                f"Module {self.name!r} has no enabled version; publish one with publish_python_script()."
            )
        if all(_dotted(v["version"]) for v in usable):
            best = max(usable, key=lambda v: _dotted(v["version"]))
        else:
            best = max(usable, key=lambda v: v.get("updated") or 0)
        return ModuleVersion(self._workspace, self.id, best, self.name)

    def get_default_version(self) -> str | None:
        return self.default_version

    def get_default(self) -> ModuleVersion | None:
        for entry in self._entry["versions"]:
            if entry["version"] == self.default_version:
                return ModuleVersion(self._workspace, self.id, entry, self.name)
        return None

    def set_default_version(self, version_id: str) -> None:
        if version_id is None or str(version_id) not in [v["version"] for v in self._entry["versions"]]:
            raise UserErrorException(
                f"Module {self.name!r}: {version_id!r} is not one of its versions "
                f"{[v['version'] for v in self._entry['versions']]}."
            )
        self._update(default_version=str(version_id))

    # -- status and metadata ---------------------------------------------------------
    def set_name(self, name: str) -> None:
        if not name:
            raise UserErrorException("Module.set_name needs a name.")
        self._update(name=name)

    def set_description(self, description: str) -> None:
        if description is None:
            raise UserErrorException("Module.set_description needs a description.")
        self._update(description=description)

    def _update(self, **changes: Any) -> None:
        self._entry.update(changes)
        _save(self._workspace, self._entry)

    def __repr__(self) -> str:
        versions = [v["version"] for v in self._entry["versions"]]
        return f"Module(name={self.name!r}, id={self.id!r}, status={self.status!r}, versions={versions})"


def _dotted(version: str) -> tuple[int, ...] | None:
    """'1.2.10' -> (1, 2, 10); None when the version is not dotted numbers."""
    parts = str(version).split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None
