"""SqlDataReference: a table, a query or a stored procedure on a SQL datastore (v1 name).

Used as the source or the destination of a DataTransferStep. As a source, exactly one of
``sql_table``, ``sql_query`` or ``sql_stored_procedure`` says what to read; as a destination,
``sql_table`` names the table rows are appended to.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_azml.exceptions import UserErrorException, check_data_name

__all__ = ["SqlDataReference", "check_sql_identifier"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_SQL_KINDS = ("azure_sql", "postgres", "mysql")


def check_sql_identifier(name: str, what: str) -> str:
    """Table and procedure names are put into SQL text, so only plain (schema.)identifiers are allowed."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise UserErrorException(
            f"{what} {name!r} is not a plain SQL identifier (letters, digits, '_', optionally 'schema.name'); "
            "use sql_query for anything else."
        )
    return name


class SqlDataReference:
    """``SqlDataReference(datastore, data_reference_name=None, sql_table=None, sql_query=None,
    sql_stored_procedure=None, sql_stored_procedure_params=None)``."""

    def __init__(
        self,
        datastore: Any,
        data_reference_name: str | None = None,
        sql_table: str | None = None,
        sql_query: str | None = None,
        sql_stored_procedure: str | None = None,
        sql_stored_procedure_params: list | None = None,
    ):
        given = [
            k
            for k, v in (
                ("sql_table", sql_table),
                ("sql_query", sql_query),
                ("sql_stored_procedure", sql_stored_procedure),
            )
            if v
        ]
        if len(given) != 1:
            raise UserErrorException(
                f"SqlDataReference on {getattr(datastore, 'name', datastore)!r} needs exactly one of sql_table, "
                f"sql_query or sql_stored_procedure (got {', '.join(given) or 'none'})."
            )
        kind = getattr(datastore, "kind", None)
        if kind is not None and kind not in _SQL_KINDS:
            raise UserErrorException(
                f"SqlDataReference needs a SQL datastore (Azure SQL, PostgreSQL, MySQL); "
                f"{getattr(datastore, 'name', datastore)!r} is {kind!r}."
            )
        self.datastore = datastore
        self.data_reference_name = check_data_name(
            data_reference_name or getattr(datastore, "name", "sql"), "SqlDataReference"
        )
        self.sql_table = check_sql_identifier(sql_table, "sql_table") if sql_table else None
        self.sql_query = sql_query
        self.sql_stored_procedure = (
            check_sql_identifier(sql_stored_procedure, "sql_stored_procedure")
            if sql_stored_procedure
            else None
        )
        self.sql_stored_procedure_params = list(sql_stored_procedure_params or [])

    @property
    def datastore_name(self) -> str:
        return getattr(self.datastore, "name", str(self.datastore))

    def to_spec(self) -> dict[str, Any]:
        """Plan data: the datastore name and what to read or write."""
        return {
            "kind": "sql",
            "datastore": self.datastore_name,
            "sql_table": self.sql_table,
            "sql_query": self.sql_query,
            "sql_stored_procedure": self.sql_stored_procedure,
            "sql_stored_procedure_params": [getattr(p, "value", p) for p in self.sql_stored_procedure_params],
        }

    def __repr__(self) -> str:
        what = self.sql_table or self.sql_stored_procedure or "query"
        return f"SqlDataReference({self.datastore_name}/{what})"
