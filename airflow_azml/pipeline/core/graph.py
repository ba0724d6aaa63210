"""PipelineParameter: a value chosen when a run is submitted or triggered."""

from __future__ import annotations

from typing import Any

from airflow_azml._lazy import loaded
from airflow_azml.exceptions import UserErrorException, check_data_name

__all__ = ["PipelineParameter", "parameter_type"]


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
