"""PipelineParameter (a value chosen when a run is submitted or triggered) and the port
definitions of a module version (InputPortDef / OutputPortDef)."""

from __future__ import annotations

from typing import Any

from airflow_azml._lazy import loaded
from airflow_azml.exceptions import UserErrorException, check_data_name

__all__ = ["PipelineParameter", "parameter_type", "InputPortDef", "OutputPortDef"]

_PORT_MODES = ("mount", "download", "upload", "direct")


def parameter_type(value: Any) -> str:
    """The Param type of a default value: int, float, bool, string, datapath or dataset."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, loaded("airflow_azml.data.datapath", "DataPath")):
        return "datapath"
    if isinstance(value, loaded("airflow_azml.data.dataset", "AbstractDataset")):
        return "dataset"
    raise UserErrorException(
        f"PipelineParameter default {value!r} has type {type(value).__name__}; use int, float, bool, str, "
        "DataPath or a Dataset."
    )


class PipelineParameter:
    """``PipelineParameter(name, default_value)``: in ``arguments`` it becomes its value, in a
    step's ``params`` the env var ``AML_PARAMETER_<name>``."""

    def __init__(self, name: str, default_value: Any, description: str | None = None):
        check_data_name(name, "PipelineParameter")
        if default_value is None:
            raise UserErrorException(f"PipelineParameter {name!r} needs a default_value.")
        if isinstance(default_value, str) and default_value == "":
            raise UserErrorException(
                f"PipelineParameter {name!r} has an empty-string default; give a non-empty default value."
            )
        self.name = name
        self.default_value = default_value
        self.description = description
        self.param_type = parameter_type(default_value)

    def as_input(self, name: str | None = None) -> Any:
        from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name or self.name, self, mode="direct")

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"


def _port_mode(owner: str, name: str, mode: str, allowed: tuple[str, ...]) -> str:
    if mode not in allowed:
        raise UserErrorException(
            f"{owner} {name!r}: default_datastore_mode {mode!r} is not one of {', '.join(allowed)}."
        )
    return mode


class InputPortDef:
    """An input of a module version's interface (bound to data by a ModuleStep's ``inputs_map``).

    ``default_datastore_mode`` ('mount' or 'download') is how the step reads data mapped to this
    port unless the mapped object says otherwise (``as_download()``...)."""

    def __init__(
        self,
        name: str,
        default_datastore_mode: str = "mount",
        default_path_on_compute: str | None = None,
        is_optional: bool = False,
        default_overwrite: bool = False,
        default_data_reference_name: str | None = None,
        is_resettable: bool = False,
        label: str | None = None,
        data_types: list[str] | None = None,
    ):
        self.name = check_data_name(name, "InputPortDef")
        self.default_datastore_mode = _port_mode("InputPortDef", name, default_datastore_mode, _PORT_MODES)
        self.default_path_on_compute = default_path_on_compute
        self.is_optional = bool(is_optional)
        self.default_overwrite = bool(default_overwrite)
        self.default_data_reference_name = default_data_reference_name
        self.is_resettable = bool(is_resettable)
        self.label = label
        self.data_types = list(data_types or [])

    def to_spec(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> InputPortDef:
        return cls(**spec)

    def __repr__(self) -> str:
        return f"InputPortDef(name={self.name!r}, mode={self.default_datastore_mode!r})"


class OutputPortDef:
    """An output of a module version's interface (bound to data by a ModuleStep's ``outputs_map``)."""

    def __init__(
        self,
        name: str,
        default_datastore_name: str | None = None,
        default_datastore_mode: str = "mount",
        default_path_on_compute: str | None = None,
        is_directory: bool = False,
        data_type: str | None = None,
        default_overwrite: bool | None = None,
        training_output: Any = None,
        label: str | None = None,
    ):
        self.name = check_data_name(name, "OutputPortDef")
        self.default_datastore_name = default_datastore_name
        self.default_datastore_mode = _port_mode(
            "OutputPortDef", name, default_datastore_mode, ("mount", "upload")
        )
        self.default_path_on_compute = default_path_on_compute
        self.is_directory = bool(is_directory)
        self.data_type = data_type
        self.default_overwrite = default_overwrite
        self.training_output = training_output
        self.label = label

    def to_spec(self) -> dict[str, Any]:
        spec = dict(vars(self))
        spec["training_output"] = None if self.training_output is None else str(self.training_output)
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> OutputPortDef:
        return cls(**spec)

    def __repr__(self) -> str:
        return f"OutputPortDef(name={self.name!r}, mode={self.default_datastore_mode!r})"
