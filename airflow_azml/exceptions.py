"""Every error airflow-azml raises on purpose.

Messages say what is wrong, where (step, data, file) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AzmlError",
    "UserErrorException",
    "PipelineValidationError",
    "WorkspaceConfigError",
    "ComputeTargetException",
    "DatastoreError",
    "DatastoreNotFoundError",
    "DatasetNotFoundError",
    "DataFetchError",
    "PathEscapeError",
    "StepFailedError",
    "ActivityFailedException",
    "AirflowApiError",
    "did_you_mean",
    "check_data_name",
    "is_word",
]


class AzmlError(Exception):
    """Base class of airflow-azml errors."""

    @property
    def message(self) -> str:
        """The message, as v1's AzureMLException had it (``except ComputeTargetException as e: e.message``)."""
        if "_message" in self.__dict__:
            return str(self.__dict__["_message"])
        return str(self.args[0]) if self.args else ""

    @message.setter
    def message(self, value: str) -> None:  # error classes that also derive from msrest's set it
        self.__dict__["_message"] = value


class UserErrorException(AzmlError, ValueError):
    """Bad input from the user (same name as azureml.exceptions.UserErrorException)."""


class PipelineValidationError(UserErrorException):
    """A pipeline that cannot run; ``problems`` lists each problem as a sentence."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"The pipeline is not valid ({len(self.problems)} problem(s)):\n{lines}")


class WorkspaceConfigError(UserErrorException):
    """The workspace file is missing, unreadable or inconsistent."""


class ComputeTargetException(UserErrorException):
    """An unknown or misconfigured compute target (azureml.core.compute_target name)."""


class DatastoreError(UserErrorException):
    """A datastore that does not exist or cannot do what was asked."""


class DatastoreNotFoundError(WorkspaceConfigError, DatastoreError):
    """No datastore of that name in the workspace (declared or registered)."""


class DatasetNotFoundError(UserErrorException):
    """No registered dataset of that name or version."""


class DataFetchError(UserErrorException):
    """Data behind a web URL could not be fetched; the message names the URL and the route taken."""


class PathEscapeError(DatastoreError):
    """A datastore-relative path that would leave the datastore's root."""


class StepFailedError(AzmlError):
    """A step's script exited non-zero; the message carries the tail of its stderr."""


class ActivityFailedException(AzmlError):
    """A pipeline run ended Failed while waiting on it (azureml.exceptions name)."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' when a known name is close to ``name``, else ''."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def is_word(text: str, also: str = "") -> bool:
    """``re.fullmatch(r"[\\w<also>]+", text)`` without compiling a regex on every DAG-file parse:
    ``\\w`` is "alphanumeric or underscore", which is what str.isalnum() tests once ``_`` (and
    each character of ``also``) is replaced by a letter."""
    for char in "_" + also:
        text = text.replace(char, "a")
    return text.isalnum()


def check_data_name(name: str, what: str) -> str:
    """Data names become Airflow XCom keys, env vars and folder names: word characters only."""
    if not isinstance(name, str) or not is_word(name):
        import re

        raise UserErrorException(
            f"{what} name {name!r} is invalid: use only letters, digits and underscores "
            f"(e.g. {re.sub(r'[^0-9A-Za-z_]', '_', str(name)) or 'data'!r})."
        )
    return name


class AirflowApiError(AzmlError):
    """A call to a running Airflow's REST API failed; ``status_code`` is the HTTP status (0: unreachable),
    ``detail`` the server's own message (its ``detail``), when it answered."""

    def __init__(self, message: str, status_code: int = 0, detail: str | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
