"""Placeholders, statement splitting, and running scripts on real DuckDB and PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_azml.runtime.sql import (
    SqlScriptError,
    SqlStatementError,
    run_on_dbapi,
    run_on_duckdb,
    split_statements,
    substitute,
)

# Plain SQL that works unchanged on DuckDB and PostgreSQL: a table, rows, a result table.
PORTABLE = """
-- build a small table; the ';' in this comment and in the literals below must not split
CREATE TABLE sales (region VARCHAR(10), amount INTEGER, note VARCHAR(40));
INSERT INTO sales VALUES ('EU', 10, 'a;b'), ('EU', 5, '50% off'), ('US', 7, 'it''s');
/* the result; grouped */
CREATE TABLE result AS
    SELECT region, SUM(amount) AS total, COUNT(*) AS n FROM sales GROUP BY region;
INSERT INTO result SELECT 'ALL', SUM(amount), COUNT(*) FROM sales
"""


def test_substitute_replaces_inputs_outputs_and_params() -> None:
    script = "FROM '@@in@@' TO '@@out@@/x.csv' WHERE n > @@min_n@@ AND '@@in@@' <> '' AND @@FeaturePreviews"
    values = {"in": "/data/in.csv", "out": "/data/out", "min_n": "3", "unused": "x"}
    assert substitute(script, values, script_name="job.sql") == (
        "FROM '/data/in.csv' TO '/data/out/x.csv' WHERE n > 3 AND '/data/in.csv' <> '' AND @@FeaturePreviews"
    )


def test_substitute_names_every_unmatched_placeholder() -> None:
    script = "SELECT '@@zeta@@', '@@inptu@@', '@@alpha@@', '@@zeta@@' FROM '@@input@@'"
    with pytest.raises(SqlScriptError) as caught:
        substitute(script, {"input": "/i", "output": "/o", "threshold": "1"}, script_name="scripts/job.usql")
    message = str(caught.value)
    assert message.startswith(
        "scripts/job.usql: no value for @@alpha@@, @@inptu@@ (did you mean @@input@@?), @@zeta@@."
    )
    assert "Known names: input, output, threshold." in message
    assert isinstance(caught.value, ValueError)


def test_substitute_with_no_known_names() -> None:
    with pytest.raises(SqlScriptError, match=r"no value for @@x@@\. Known names: \(none\)"):
        substitute("@@x@@", {}, script_name="s.sql")


def test_split_statements_respects_literals_comments_and_dollar_quotes() -> None:
    script = """
    -- leading comment; dropped
    SELECT 'a;b', "odd;name", `odd;too`, E'it\\'s;' FROM t;   /* trailing; comment */
    ;;
    CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
    SELECT $$x;y$$ -- comment; inside
    ;
    SELECT 1 / 2 - 3 AS e  -- last statement without a semicolon
    """
    assert split_statements(script) == [
        "SELECT 'a;b', \"odd;name\", `odd;too`, E'it\\'s;' FROM t",
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
        "SELECT $$x;y$$ -- comment; inside",
        "SELECT 1 / 2 - 3 AS e  -- last statement without a semicolon",
    ]


@pytest.mark.parametrize("script", ["SELECT 'open;", 'SELECT "open', "SELECT `open", "SELECT 1; /* open"])
def test_split_statements_rejects_unterminated_quotes_and_comments(script: str) -> None:
    with pytest.raises(SqlScriptError, match="unterminated .* at line 1"):
        split_statements(script)


def test_duckdb_runs_plain_sql_and_copies_into_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()  # the caller creates output folders
    script = substitute(
        PORTABLE
        + ";\nCOPY (SELECT * FROM result ORDER BY region) TO '@@out@@/result.csv' (HEADER, DELIMITER ',');",
        {"out": str(out)},
        script_name="sales.sql",
    )
    summary = run_on_duckdb(script, threads=2)
    assert (out / "result.csv").read_text() == "region,total,n\nALL,22,3\nEU,15,2\nUS,7,1\n"
    assert [(s["index"], s["rows_affected"]) for s in summary] == [
        (1, None),
        (2, 3),
        (3, 2),
        (4, 1),
        (5, 3),
    ]
    assert summary[1]["first_line"].startswith("INSERT INTO sales VALUES")


def test_duckdb_threads_come_from_degree_of_parallelism(tmp_path: Path) -> None:
    run_on_duckdb(
        f"COPY (SELECT current_setting('threads') AS t) TO '{tmp_path}/t.csv' (HEADER false);", threads=3
    )
    assert (tmp_path / "t.csv").read_text() == "3\n"


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_duckdb_rejects_bad_thread_counts(threads: Any) -> None:
    with pytest.raises(ValueError, match="degree_of_parallelism must be a positive integer"):
        run_on_duckdb("SELECT 1", threads=threads)


def test_duckdb_database_file_keeps_tables_between_runs(tmp_path: Path) -> None:
    database = str(tmp_path / "step.duckdb")
    run_on_duckdb("CREATE TABLE kept AS SELECT 42 AS answer;", threads=1, database=database)
    run_on_duckdb(f"COPY kept TO '{tmp_path}/kept.csv';", threads=1, database=database)
    assert (tmp_path / "kept.csv").read_text() == "answer\n42\n"


def test_duckdb_error_names_statement_number_and_first_line() -> None:
    script = "CREATE TABLE t (a INTEGER);\nINSERT INTO t VALUES (1);\n-- comment\nSELECT nope\n  FROM t;\nSELECT 2;"
    with pytest.raises(SqlStatementError) as caught:
        run_on_duckdb(script, threads=1)
    assert str(caught.value).startswith("SQL statement 3 of 4 ('SELECT nope') failed: Binder Error")
    assert (caught.value.index, caught.value.first_line) == (3, "SELECT nope")
    assert caught.value.__cause__ is not None


def test_duckdb_runs_usql_after_substitution(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("word\nb\na\n")
    usql = """@w = EXTRACT word string FROM "@@in@@" USING Extractors.Csv(skipFirstLine: true);
    OUTPUT @w TO "@@out@@" ORDER BY word USING Outputters.Csv(outputHeader: true);"""
    values = {"in": str(tmp_path / "in.csv"), "out": str(tmp_path / "sorted.csv")}
    run_on_duckdb(substitute(usql, values, script_name="sort.usql"), threads=None)
    assert (tmp_path / "sorted.csv").read_text() == "word\na\nb\n"


def fetch(connection: Any, sql: str) -> list[tuple]:
    """Rows of a query on a DB-API connection."""
    cursor = connection.cursor()
    cursor.execute(sql)
    rows = cursor.fetchall()
    cursor.close()
    return rows


def test_postgres_runs_statements_and_commits(pg_connect: Callable[[], Any]) -> None:
    connection = pg_connect()
    summary = run_on_dbapi(PORTABLE, connection)
    assert [(s["index"], s["rows_affected"]) for s in summary] == [(1, None), (2, 3), (3, 2), (4, 1)]
    other = pg_connect()  # a second session sees the rows only if they were committed
    assert fetch(other, "SELECT region, total, n FROM result ORDER BY region") == [
        ("ALL", 22, 3),
        ("EU", 15, 2),
        ("US", 7, 1),
    ]
    assert fetch(other, "SELECT note FROM sales ORDER BY amount") == [("50% off",), ("it's",), ("a;b",)]


def test_postgres_rolls_back_everything_when_a_statement_fails(pg_connect: Callable[[], Any]) -> None:
    connection = pg_connect()
    script = "CREATE TABLE first_one (a int);\nINSERT INTO first_one VALUES (1);\nINSERT INTO missing_table\n  VALUES (2);"
    with pytest.raises(SqlStatementError) as caught:
        run_on_dbapi(script, connection)
    message = str(caught.value)
    assert message.startswith("SQL statement 3 of 3 ('INSERT INTO missing_table') failed:")
    assert 'relation "missing_table" does not exist' in message
    assert fetch(pg_connect(), "SELECT to_regclass('first_one') IS NULL") == [(True,)]
    assert fetch(connection, "SELECT 1") == [(1,)]  # the connection is usable again


def test_dbapi_refuses_usql(pg_connect: Callable[[], Any]) -> None:
    usql = '@r = EXTRACT a string FROM "x.csv" USING Extractors.Csv();'
    with pytest.raises(SqlScriptError, match="runs on DuckDB only"):
        run_on_dbapi(usql, pg_connect())


def test_dbapi_works_with_any_driver_such_as_sqlite(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "db.sqlite")
    run_on_dbapi(PORTABLE, connection)
    connection.close()
    check = sqlite3.connect(tmp_path / "db.sqlite")
    assert check.execute("SELECT region, total FROM result ORDER BY region").fetchall() == [
        ("ALL", 22),
        ("EU", 15),
        ("US", 7),
    ]
    check.close()


def test_package_imports_without_airflow_or_duckdb() -> None:
    code = (
        "import sys; sys.modules['airflow'] = None\n"
        "import airflow_azml.runtime.sql as sql\n"
        "assert 'duckdb' not in sys.modules, 'duckdb must be imported lazily'\n"
        "print(sorted(sql.__all__))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "run_on_duckdb" in result.stdout
