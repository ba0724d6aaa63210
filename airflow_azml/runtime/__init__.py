"""Step runtime: what runs inside the user's script process. Never imports Airflow."""

__all__ = ["CONTEXT_ENV"]

#: env var holding the path of the run-context JSON file the operator writes for the step
CONTEXT_ENV = "AZML_RUN_CONTEXT"
