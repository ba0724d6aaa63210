"""Fixtures of the SQL step runtime tests: a throw-away PostgreSQL database on this machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.postgres import PG, fresh_database


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, uniquely named database for this test session, dropped at the end."""
    with fresh_database("azml_sql_test") as name:
        yield name


@pytest.fixture
def pg_connect(pg_database: str) -> Iterator[Any]:
    """Open connections to the session database (closed after the test), in a fresh schema.

    Each test gets its own schema on the search path, so tests do not see each other's tables.
    """
    import psycopg2

    schema = f"t_{uuid.uuid4().hex[:10]}"
    opened = []

    def connect() -> Any:
        connection = psycopg2.connect(dbname=pg_database, options=f"-c search_path={schema}", **PG)
        opened.append(connection)
        return connection

    setup = connect()
    with setup.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    setup.commit()
    yield connect
    for connection in opened:
        connection.close()
