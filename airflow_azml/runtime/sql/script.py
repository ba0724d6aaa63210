"""Prepare and run the script of a SQL step (the AdlaStep replacement) on a SQL engine.

The step process reads the script file, fills its ``@@name@@`` placeholders with the paths of
the step's inputs and outputs and the values of its params (as AdlaStep did), then runs it on
DuckDB embedded in the process (the default; U-SQL is translated first) or on any DB-API 2
connection the caller opened (PostgreSQL and the like). Output folders are created by the
caller before the script runs, so ``COPY ... TO '@@out@@/result.csv'`` just works.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_azml.runtime.sql.errors import SqlScriptError, SqlStatementError
from airflow_azml.runtime.sql.usql import is_usql, translate_usql

__all__ = ["first_line", "run_on_dbapi", "run_on_duckdb", "split_statements", "substitute"]

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"@@(\w+)@@")
_LEX = re.compile(
    r"""(?P<squote>(?<!\w)[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*')
    |(?P<dquote>"(?:[^"]|"")*"|`[^`]*`)
    |(?P<dollar>\$(?P<tag>[A-Za-z_]\w*|)\$.*?\$(?P=tag)\$)
    |(?P<comment>--[^\n]*|/\*.*?\*/)
    |(?P<semi>;)
    |(?P<space>\s+)
    |(?P<other>[^'"`$;/\-\seE]+|.)""",
    re.VERBOSE | re.DOTALL,
)


def substitute(script: str, values: Mapping[str, str], *, script_name: str) -> str:
    """Replace every ``@@name@@`` in ``script`` by ``values[name]``, as AdlaStep did.

    ``values`` holds the paths of the step's inputs and outputs and its params. A placeholder
    with no value is an error rather than text left for the engine to trip on later; the
    message names all of them at once, with the script file and the names that are known.
    """
    unmatched = sorted({m.group(1) for m in _PLACEHOLDER.finditer(script)} - set(values))
    if unmatched:
        raise SqlScriptError(_unmatched_message(unmatched, values, script_name))
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), script)


def _unmatched_message(unmatched: list[str], values: Mapping[str, str], script_name: str) -> str:
    """Say which placeholders have no value, suggest close names, and list the known ones."""
    known = sorted(values)
    hints = []
    for name in unmatched:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"@@{name}@@" + (f" (did you mean @@{close[0]}@@?)" if close else ""))
    return (
        f"{script_name}: no value for {', '.join(hints)}. "
        f"Known names: {', '.join(known) if known else '(none)'}. "
        "A placeholder must name an input, an output or a key of params of the step; "
        "rename it in the script or add it to the step."
    )


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements at the semicolons that end them.

    Semicolons inside string literals ('...', E'...'), quoted identifiers ("..." or `...`),
    dollar-quoted bodies and comments do not split. Comments before a statement are dropped, so a statement's first
    line is SQL; statements that are empty or only comments are skipped.
    """
    statements: list[str] = []
    current: list[str] = []
    for match in _LEX.finditer(script):
        kind, text = match.lastgroup, match.group()
        if kind == "semi":
            _flush(current, statements)
        elif kind == "other" and (text in ("'", '"', "`") or script.startswith("/*", match.start())):
            line = script.count("\n", 0, match.start()) + 1
            raise SqlScriptError(f"unterminated {text!r} quote or comment at line {line} of the SQL script")
        elif current or kind not in ("comment", "space"):
            current.append(text)
    _flush(current, statements)
    return statements


def _flush(current: list[str], statements: list[str]) -> None:
    """End the statement being collected, keeping it if it holds anything."""
    text = "".join(current).strip()
    if text:
        statements.append(text)
    current.clear()


def first_line(statement: str) -> str:
    """The first line of a statement, shortened, to name it in logs and errors."""
    line = statement.strip().splitlines()[0] if statement.strip() else ""
    return line if len(line) <= 80 else line[:77] + "..."


def run_on_duckdb(
    script_text: str, *, threads: int | None, database: str = ":memory:"
) -> list[dict[str, Any]]:
    """Run a SQL or U-SQL script on an embedded DuckDB and summarise each statement.

    U-SQL (see :func:`is_usql`) is translated first. ``threads`` is the step's
    ``degree_of_parallelism``; None leaves DuckDB's default (one thread per core).
    ``database`` is ``:memory:`` or a DuckDB file to keep tables in between runs.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"degree_of_parallelism must be a positive integer or None, got {threads!r}")
    usql = is_usql(script_text)
    statements = translate_usql(script_text) if usql else split_statements(script_text)
    log.info(
        "Running %s statement(s) on DuckDB %s (threads=%s, U-SQL=%s)",
        len(statements),
        database,
        threads,
        usql,
    )
    import duckdb  # here, not at module level: importing it costs time in every step process

    connection = duckdb.connect(database)
    try:
        if threads is not None:
            connection.execute(f"SET threads = {threads}")
        return _run_all(statements, lambda sql: connection.execute(sql).rowcount)
    finally:
        connection.close()


def run_on_dbapi(script_text: str, connection: Any) -> list[dict[str, Any]]:
    """Run a SQL script on an open DB-API 2 connection, in one transaction.

    The statements are committed together at the end, or rolled back together when one fails,
    so a failed step leaves the database as it found it. The connection stays open: the caller
    owns it. U-SQL is refused, since its translation targets DuckDB only.
    """
    if is_usql(script_text):
        raise SqlScriptError(
            "This script is U-SQL (EXTRACT/OUTPUT), which runs on DuckDB only; run the step without "
            "a SQL connection, or rewrite the script in the connection's SQL dialect."
        )
    statements = split_statements(script_text)
    log.info("Running %s statement(s) on DB-API connection %s", len(statements), type(connection).__name__)
    cursor = connection.cursor()
    try:
        summary = _run_all(statements, lambda sql: _dbapi_execute(cursor, sql))
    except BaseException:
        _rollback(connection)
        raise
    finally:
        cursor.close()
    connection.commit()
    return summary


def _dbapi_execute(cursor: Any, sql: str) -> int:
    """Execute one statement with no parameters (so ``%`` stays literal) and return rowcount."""
    cursor.execute(sql)
    return cursor.rowcount


def _rollback(connection: Any) -> None:
    """Roll back after a failure without hiding the failure if the rollback fails too."""
    try:
        connection.rollback()
    except Exception as exc:  # the statement's own error is the one worth raising
        log.warning("Rollback after a failed statement failed as well: %s", exc)


def _run_all(statements: list[str], execute: Callable[[str], int | None]) -> list[dict[str, Any]]:
    """Execute statements in order; each failure is re-raised naming the statement."""
    summary = []
    for index, statement in enumerate(statements, start=1):
        started = time.monotonic()
        try:
            rowcount = execute(statement)
        except Exception as exc:
            raise SqlStatementError(index, len(statements), first_line(statement), str(exc).strip()) from exc
        rows = rowcount if isinstance(rowcount, int) and rowcount >= 0 else None
        seconds = round(time.monotonic() - started, 3)
        log.info(
            "Statement %s/%s done in %ss, rows affected: %s: %s",
            index,
            len(statements),
            seconds,
            rows,
            first_line(statement),
        )
        summary.append(
            {"index": index, "first_line": first_line(statement), "rows_affected": rows, "seconds": seconds}
        )
    return summary
