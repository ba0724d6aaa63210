"""TrainingOutput: which output of a HyperDriveStep's best child run a PipelineData carries."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["TrainingOutput", "TRAINING_OUTPUT_TYPES", "METRICS_FILE"]

TRAINING_OUTPUT_TYPES = ("Metrics", "Model")
#: the file in a TrainingOutput("Metrics") output: every child run's metrics, by child run id
METRICS_FILE = "hyperdrive_metrics.json"


class TrainingOutput:
    """``TrainingOutput(type, model_file=None)``.

    ``"Metrics"``: every child run's metrics as one JSON file. ``"Model"``: the best child run's
    ``outputs`` folder, or only ``model_file`` (a path from the child run's root, such as
    ``"outputs/model/saved_model.pb"``), kept at the same relative path in the output.
    """

    def __init__(self, type: str, model_file: str | None = None):  # noqa: A002 - v1's name
        if type not in TRAINING_OUTPUT_TYPES:
            raise UserErrorException(
                f"TrainingOutput(type={type!r}): use 'Metrics' (every child's metrics as JSON) or 'Model' (the best "
                "child's outputs)."
            )
        if model_file is not None and type != "Model":
            raise UserErrorException(
                "TrainingOutput: model_file is for TrainingOutput('Model', model_file=...)."
            )
        if model_file is not None and (
            not isinstance(model_file, str) or not model_file.strip("/") or ".." in model_file
        ):
            raise UserErrorException(
                f"TrainingOutput: model_file={model_file!r} must be a path inside the child run, e.g. "
                "'outputs/model.pkl'."
            )
        self.type = type
        self.model_file = model_file

    def to_spec(self) -> dict[str, Any]:
        return {"type": self.type, "model_file": self.model_file}

    def __str__(self) -> str:
        return self.type if self.model_file is None else f"{self.type}:{self.model_file}"

    def __repr__(self) -> str:
        return f"TrainingOutput(type={self.type!r}, model_file={self.model_file!r})"
