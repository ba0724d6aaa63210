"""The embedded default: a project-local Airflow (SQLite, LocalExecutor config) run with ``dag.test()``."""

__all__: list[str] = []
