"""A throw-away PostgreSQL database on this machine's server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

__all__ = ["PG", "fresh_database"]

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """Create a uniquely named database, yield its name, drop it (even if still connected) after.

    Skips the test when psycopg2 or the server is missing.
    """
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG['host']}:{PG['port']}: {exc}")
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
