"""Errors of the SQL step runtime (the AdlaStep replacement).

They live here rather than in ``airflow_azml.exceptions`` because this package runs inside the
step process and must stay importable on its own, with nothing but the standard library.
"""

from __future__ import annotations

__all__ = ["SqlScriptError", "SqlStatementError", "UsqlTranslationError"]

USQL_SUBSET = (
    "Supported U-SQL subset: "
    "'DECLARE [EXTERNAL] @name type = value;', "
    "'@rows = EXTRACT col type, ... FROM \"path\" USING Extractors.Csv/Tsv/Text(...);', "
    "'@x = SELECT ... FROM @rows [JOIN ...] [WHERE ...] [GROUP BY ...] [HAVING ...] [UNION ...];', "
    "'OUTPUT @x TO \"path\" [ORDER BY ...] USING Outputters.Csv/Tsv/Text(...);', "
    "C# types string, char, bool, byte, sbyte, short, int, long, float, double, decimal, "
    "DateTime, Guid (and their nullable forms), C# operators == != && || ! and string literals. "
    "Rewrite anything else as plain SQL (DuckDB dialect), which this step runs as it is."
)


class SqlScriptError(ValueError):
    """The SQL script cannot be prepared: a placeholder has no value, or the script is unusable."""


class UsqlTranslationError(SqlScriptError):
    """A U-SQL construct outside the supported subset, reported with its 1-based line number.

    Subclasses :class:`SqlScriptError` (and therefore ``ValueError``) so a caller can catch every
    "the script is wrong" error at once.
    """

    def __init__(self, construct: str, line: int, detail: str = "is not supported") -> None:
        self.construct = construct
        self.line = line
        super().__init__(f"U-SQL construct {construct!r} at line {line} {detail}. {USQL_SUBSET}")


class SqlStatementError(RuntimeError):
    """A statement of the script failed on the SQL engine; names its number and first line."""

    def __init__(self, index: int, total: int, first_line: str, cause: str) -> None:
        self.index = index
        self.first_line = first_line
        super().__init__(f"SQL statement {index} of {total} ({first_line!r}) failed: {cause}")
