"""How a notebook is executed: papermill options (v1's notebook handlers), as plan data."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["NotebookExecutionHandler", "AzureMLNotebookHandler", "PapermillExecutionHandler"]


def _seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserErrorException(
            f"Notebook handler: {name} must be a positive number of seconds or None, not {value!r}."
        )
    return float(value)


class NotebookExecutionHandler:
    """Base of the handlers: papermill options for one notebook run."""

    def __init__(self, **options: Any):
        self.options = options

    def to_spec(self) -> dict[str, Any]:
        """The options the step's process gives papermill (JSON-able)."""
        return dict(self.options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"


class AzureMLNotebookHandler(NotebookExecutionHandler):
    """``AzureMLNotebookHandler(history=True, timeout=None, progress_bar=True, log_output=False,
    start_timeout=None, kernel_name=None, cwd=None)``.

    ``timeout`` is papermill's time limit per cell, ``start_timeout`` the kernel's start-up limit;
    ``log_output`` copies cell output into the step log; ``history`` logs the values glued with
    scrapbook (``sb.glue(name, value)``) as the step's metrics, as v1 did.
    """

    def __init__(
        self,
        history: bool = True,
        timeout: float | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        start_timeout: float | None = None,
        kernel_name: str | None = None,
        cwd: str | None = None,
    ):
        if kernel_name is not None and (not isinstance(kernel_name, str) or not kernel_name):
            raise UserErrorException(
                f"AzureMLNotebookHandler: kernel_name must be a kernel's name, not {kernel_name!r}."
            )
        super().__init__(
            history=bool(history),
            timeout=_seconds("timeout", timeout),
            progress_bar=bool(progress_bar),
            log_output=bool(log_output),
            start_timeout=_seconds("start_timeout", start_timeout),
            kernel_name=kernel_name,
            cwd=cwd,
        )


class PapermillExecutionHandler(AzureMLNotebookHandler):
    """v1's older name for the papermill handler; the same options as AzureMLNotebookHandler."""
