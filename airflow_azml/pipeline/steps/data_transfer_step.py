"""DataTransferStep: copy data between datastores (files <-> files, SQL -> files, files -> SQL).

v1 signature and defaulting rules:

* ``source_reference_type`` / ``destination_reference_type`` are ``"file"``, ``"directory"`` or
  None. A None source type is decided when the step runs (a file if the source is one, else a
  directory); a None destination type becomes the existing destination's type, else the
  source's, else ``"directory"`` — decided at run time because nothing may touch storage
  while a DAG file is parsed.
* A SQL source (SqlDataReference) lands as one file: Parquet when the destination path ends in
  ``.parquet``, else CSV; a directory destination gets ``data.csv``.
* A SQL destination (``sql_table``) is appended to; the files' header must match its columns.
* ``get_output()`` gives the destination as PipelineData for later steps.

No I/O happens here; the copy runs in ``DataTransferStepOperator`` (or an Azure Data Factory
pipeline when the compute target is a DataFactoryCompute configured with one).
"""

from __future__ import annotations

from typing import Any

from airflow_azml.data.data_reference import DataReference
from airflow_azml.data.sql_data_reference import SqlDataReference
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.core.pipeline_data import InputPortBinding, PipelineData

__all__ = ["DataTransferStep", "REFERENCE_TYPES"]

REFERENCE_TYPES = ("file", "directory")
_FILE_SOURCES = (DataReference, PipelineData, InputPortBinding)


class DataTransferStep(PipelineStep):
    """``DataTransferStep(name, source_data_reference=None, destination_data_reference=None,
    compute_target=None, source_reference_type=None, destination_reference_type=None, allow_reuse=True)``."""

    step_kind = "data_transfer"
    operator_class = "airflow_azml.provider.operators.data_transfer.DataTransferStepOperator"

    def __init__(
        self,
        name: str,
        source_data_reference: Any = None,
        destination_data_reference: Any = None,
        compute_target: Any = None,
        source_reference_type: str | None = None,
        destination_reference_type: str | None = None,
        allow_reuse: bool = True,
    ):
        _check_type(name, "source_reference_type", source_reference_type)
        _check_type(name, "destination_reference_type", destination_reference_type)
        src, dest = source_data_reference, destination_data_reference
        _check_ends(name, src, dest)
        self.source_data_reference = src
        self.destination_data_reference = dest
        self.source_reference_type = source_reference_type
        self.destination_reference_type = destination_reference_type
        inputs = [] if isinstance(src, SqlDataReference) else [_as_input(src)]
        self._output = self._output_for(name, dest, inputs)
        outputs = [self._output] if self._output is not None else []
        super().__init__(
            name, inputs=inputs, outputs=outputs, compute_target=compute_target, allow_reuse=allow_reuse
        )

    @staticmethod
    def _output_for(name: str, dest: Any, inputs: list[Any]) -> PipelineData | None:
        """The PipelineData later steps read: the destination itself, or one standing for a DataReference."""
        if isinstance(dest, PipelineData):
            return dest
        if isinstance(dest, SqlDataReference):
            return None
        taken = {getattr(i, "data_reference_name", getattr(i, "name", None)) for i in inputs}
        out_name = dest.data_reference_name if dest.data_reference_name not in taken else f"{name}_output"
        return PipelineData(_word(out_name), datastore=dest.datastore)

    def get_output(self) -> PipelineData:
        """The copied data as PipelineData, to use as another step's input."""
        if self._output is None:
            raise UserErrorException(
                f"DataTransferStep {self.name!r} writes into a SQL table, which is not data a later step can read "
                "as PipelineData; use later_step.run_after(this_step) and read the table with a SqlDataReference."
            )
        return self._output

    def plan_fields(self) -> dict[str, Any]:
        return {
            "source": _end_spec(self.source_data_reference, "source"),
            "destination": _end_spec(self.destination_data_reference, "destination"),
            "source_reference_type": self.source_reference_type,
            "destination_reference_type": self.destination_reference_type,
            "output_name": self._output.name if self._output is not None else None,
        }


def _word(name: str) -> str:
    import re

    return re.sub(r"\W", "_", name)


def _check_type(step: str, what: str, value: str | None) -> None:
    if value is not None and value not in REFERENCE_TYPES:
        raise UserErrorException(
            f"DataTransferStep {step!r}: {what}={value!r}; use 'file', 'directory' or leave it None "
            "(decided from the data when the step runs)."
        )


def _check_ends(step: str, src: Any, dest: Any) -> None:
    """Fail while the pipeline is built, naming the step and the argument."""
    if src is None or dest is None:
        missing = "source_data_reference" if src is None else "destination_data_reference"
        raise UserErrorException(f"DataTransferStep {step!r} needs {missing}.")
    if not isinstance(src, _FILE_SOURCES + (SqlDataReference,)):
        raise UserErrorException(
            f"DataTransferStep {step!r}: source_data_reference {src!r} ({type(src).__name__}) must be a "
            "DataReference, PipelineData (or its as_input/as_mount) or SqlDataReference."
        )
    if not isinstance(dest, DataReference | PipelineData | SqlDataReference):
        raise UserErrorException(
            f"DataTransferStep {step!r}: destination_data_reference {dest!r} ({type(dest).__name__}) must be a "
            "DataReference, PipelineData or SqlDataReference."
        )
    if isinstance(src, SqlDataReference) and isinstance(dest, SqlDataReference):
        raise UserErrorException(
            f"DataTransferStep {step!r}: SQL to SQL copies are not supported; copy to a file datastore first."
        )
    if isinstance(dest, SqlDataReference) and not dest.sql_table:
        raise UserErrorException(
            f"DataTransferStep {step!r}: a SQL destination needs sql_table (the table rows are appended to)."
        )
    for ref in (src, dest):
        kind = getattr(getattr(ref, "datastore", None), "kind", None)
        if isinstance(ref, DataReference) and kind in ("azure_sql", "postgres", "mysql"):
            raise UserErrorException(
                f"DataTransferStep {step!r}: {ref!r} points at SQL datastore {ref.datastore_name!r}; "
                "use SqlDataReference(datastore, sql_table=... | sql_query=...) for SQL data."
            )


def _as_input(src: Any) -> Any:
    """File sources are ordinary inputs (so producers become upstream steps); always read in place."""
    if isinstance(src, DataReference):
        return src.as_mount()
    return src


def _end_spec(ref: Any, role: str) -> dict[str, Any]:
    """Plan data for one end: SQL, a fixed datastore path, or a port (input/output) by name."""
    if isinstance(ref, SqlDataReference):
        return ref.to_spec()
    if role == "destination" and isinstance(ref, DataReference):
        return {"kind": "datastore", "datastore": ref.datastore_name, "path": ref.path_on_datastore}
    if role == "destination":
        return {"kind": "output", "name": ref.name}
    name = ref.data_reference_name if isinstance(ref, DataReference) else ref.name
    return {"kind": "input", "name": name}
