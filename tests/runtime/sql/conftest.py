"""Fixtures of the SQL step runtime tests: a throw-away PostgreSQL database on this machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, uniquely named database for this test session, dropped at the end."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG['host']}:{PG['port']}: {exc}")
    admin.autocommit = True
    name = f"azml_sql_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


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
