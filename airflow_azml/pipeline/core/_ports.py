"""Normalise what users put in ``inputs`` / ``outputs`` / ``arguments`` into declarations."""

from __future__ import annotations

from typing import Any

from airflow_azml._lazy import loaded
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.core.pipeline_data import (
    InputPortBinding,
    PipelineData,
    PipelineOutputFileDataset,
    PipelineOutputTabularDataset,
)

__all__ = [
    "InputDecl",
    "OutputDecl",
    "normalize_input",
    "normalize_output",
    "origin",
    "data_types",
    "produced_types",
]

_OUTPUT_DATASETS = (PipelineOutputFileDataset, PipelineOutputTabularDataset)
# The data classes outside the pipeline package are looked up only once their module has been
# imported (no instance can exist before): a DAG file of PipelineData alone never loads them.
_DATA = "airflow_azml.data."


def data_types(module: str, *names: str) -> tuple[type, ...]:
    """``loaded("airflow_azml.data.<module>", *names)``: the data classes that can exist yet."""
    return loaded(_DATA + module, *names)


def produced_types() -> tuple[type, ...]:
    """Data a step produces: PipelineData and OutputFileDatasetConfig."""
    return (PipelineData, *data_types("output_dataset_config", "OutputFileDatasetConfig"))


def origin(data: Any) -> Any:
    """The object that identifies produced data (an OutputFileDatasetConfig's first instance)."""
    return getattr(data, "_origin", data)


class InputDecl:
    """One input of a step. ``source`` is 'step_output', 'datastore', 'dataset', 'datapath_param'
    or 'dataset_param'; ``obj`` is the PipelineData / DataReference / Dataset / PipelineParameter.
    (A plain class, not a dataclass: DAG files import this on every parse.)"""

    __slots__ = (
        "name",
        "source",
        "obj",
        "mode",
        "path_on_compute",
        "overwrite",
        "tabular",
        "aliases",
        "alias_ids",
    )

    def __init__(
        self,
        name: str,
        source: str,
        obj: Any,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
        tabular: dict[str, Any] | None = None,
        aliases: list[Any] | None = None,
    ):
        self.name, self.source, self.obj, self.mode = name, source, obj, mode
        self.path_on_compute, self.overwrite, self.tabular = path_on_compute, overwrite, tabular
        self.aliases = tuple(aliases or ())
        self.alias_ids = frozenset(map(id, self.aliases))  # "is this object one of mine?" in O(1)

    def __repr__(self) -> str:
        return f"InputDecl(name={self.name!r}, source={self.source!r}, mode={self.mode!r})"


class OutputDecl:
    """One output of a step: its name, the PipelineData / OutputFileDatasetConfig, and aliases."""

    __slots__ = ("name", "obj", "aliases", "alias_ids")

    def __init__(self, name: str, obj: Any, aliases: list[Any] | None = None):
        self.name, self.obj, self.aliases = name, obj, tuple(aliases or ())
        self.alias_ids = frozenset(map(id, (*self.aliases, origin(obj))))  # an alias, or the same data

    def __repr__(self) -> str:
        return f"OutputDecl(name={self.name!r})"


def normalize_input(item: Any, step: str) -> InputDecl:
    if isinstance(item, PipelineData):
        return InputDecl(item.name, "step_output", item, aliases=[item])
    if isinstance(item, InputPortBinding):
        return InputDecl(
            item.name,
            "step_output",
            origin(item.bind_object),
            item.bind_mode,
            item.path_on_compute,
            item.overwrite,
            item.tabular,
            aliases=[item, item.bind_object],
        )
    if isinstance(item, _OUTPUT_DATASETS):
        b = item._binding()
        return InputDecl(
            b.name,
            "step_output",
            b.bind_object,
            b.bind_mode,
            b.path_on_compute,
            None,
            b.tabular,
            aliases=[item],
        )
    return _other_input(item, step)


def _other_input(item: Any, step: str) -> InputDecl:
    """Inputs whose classes live in ``airflow_azml.data`` (and the DataPath parameter tuple)."""
    if isinstance(item, data_types("output_dataset_config", "OutputFileDatasetConfig")):
        return InputDecl(item.name, "step_output", origin(item), aliases=[item])
    if isinstance(item, data_types("output_dataset_config", "OutputTabularDatasetConfig")):
        return normalize_input(item.as_input(), step)
    if isinstance(item, data_types("data_reference", "DataReference")):
        mode = "download" if item.mode == "download" else "mount"
        return InputDecl(
            item.data_reference_name,
            "datastore",
            item,
            mode,
            item.path_on_compute,
            item.overwrite,
            aliases=[item],
        )
    if isinstance(item, data_types("dataset_consumption_config", "DatasetConsumptionConfig")):
        return _consumption_input(item, step)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], PipelineParameter):
        param, binding = item
        if param.param_type != "datapath" or not isinstance(
            binding, data_types("datapath", "DataPathComputeBinding")
        ):
            raise UserErrorException(
                f"Step {step!r}: a (PipelineParameter, binding) input needs a DataPath default and a "
                "DataPathComputeBinding, e.g. (PipelineParameter('p', DataPath(ds, 'x')), DataPathComputeBinding())."
            )
        return InputDecl(
            param.name,
            "datapath_param",
            param,
            binding.mode,
            binding.path_on_compute,
            binding.overwrite,
            aliases=[item, param],
        )
    if isinstance(item, data_types("dataset", "AbstractDataset")):
        raise UserErrorException(
            f"Step {step!r}: the dataset {item!r} is used without a name; call "
            f".as_named_input('name') on it (then .as_mount() or .as_download() for file datasets)."
        )
    raise UserErrorException(f"Step {step!r}: {item!r} ({type(item).__name__}) cannot be a step input.")


def _consumption_input(item: Any, step: str) -> InputDecl:
    ds = item.dataset
    tabular = getattr(item, "tabular", None)
    if isinstance(ds, PipelineParameter):
        source = "dataset_param" if ds.param_type == "dataset" else "datapath_param"
        return InputDecl(item.name, source, ds, item.mode, item.path_on_compute, aliases=[item, ds])
    if isinstance(ds, produced_types()):
        mode = "mount" if item.mode == "direct" and not tabular else item.mode
        return InputDecl(
            item.name, "step_output", origin(ds), mode, item.path_on_compute, tabular=tabular, aliases=[item]
        )
    if isinstance(ds, data_types("dataset", "AbstractDataset")):
        return InputDecl(item.name, "dataset", ds, item.mode, item.path_on_compute, aliases=[item])
    raise UserErrorException(f"Step {step!r}: input {item.name!r} wraps {ds!r}, which is not a dataset.")


def normalize_output(item: Any, step: str) -> OutputDecl:
    if isinstance(item, PipelineData):
        return OutputDecl(item.name, item, aliases=[item])
    if isinstance(item, data_types("output_dataset_config", "OutputFileDatasetConfig")):
        return OutputDecl(item.name, item, aliases=[item, origin(item)])
    if isinstance(item, data_types("output_dataset_config", "OutputTabularDatasetConfig")):
        return OutputDecl(
            item.name, item.file_config, aliases=[item, item.file_config, origin(item.file_config)]
        )
    raise UserErrorException(
        f"Step {step!r}: {item!r} ({type(item).__name__}) cannot be a step output; use PipelineData or "
        "OutputFileDatasetConfig."
    )
