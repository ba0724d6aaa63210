"""The embedded default: a project-local Airflow (SQLite) whose local runs run ready steps at once."""

__all__ = ["SQLITE_CONNECT_ARGS"]

#: the embedded SQLite DB's connection arguments (``[database] sql_alchemy_connect_args`` names this):
#: concurrent task children and runs wait up to a minute for the write lock instead of 5 s
SQLITE_CONNECT_ARGS = {"timeout": 60}
