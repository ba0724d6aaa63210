"""Step runtime of the SQL step, the replacement of AdlaStep (Azure Data Lake Analytics).

Runs inside the step process, so it imports no Airflow: only the standard library, DuckDB
(imported when a script runs) and a DB-API 2 connection handed in by the caller.
"""

from __future__ import annotations

from airflow_azml.runtime.sql.errors import SqlScriptError, SqlStatementError, UsqlTranslationError
from airflow_azml.runtime.sql.script import (
    first_line,
    run_on_dbapi,
    run_on_duckdb,
    split_statements,
    substitute,
)
from airflow_azml.runtime.sql.usql import USQL_TYPES, is_usql, translate_usql

__all__ = [
    "USQL_TYPES",
    "SqlScriptError",
    "SqlStatementError",
    "UsqlTranslationError",
    "first_line",
    "is_usql",
    "run_on_dbapi",
    "run_on_duckdb",
    "split_statements",
    "substitute",
    "translate_usql",
]
