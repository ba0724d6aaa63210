"""azureml.widgets: ``RunDetails(run).show()`` prints the step table as text."""

from __future__ import annotations

from typing import Any

__all__ = ["RunDetails"]


class RunDetails:
    def __init__(self, run_instance: Any):
        self.run = run_instance

    def show(self) -> None:
        print(self.run.step_table())

    def get_widget_data(self) -> dict[str, Any]:
        return {"steps": [s.get_details() for s in self.run.get_steps()]}
