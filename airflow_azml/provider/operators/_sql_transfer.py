"""The SQL side of DataTransferStep: query/table/procedure -> CSV or Parquet, and files -> table appends.

Rows are read with a server-side cursor (psycopg) in batches of ``_BATCH`` and written as they
arrive, so a large table never sits in memory. Appends run in one transaction per step: every
file's header is checked against the table's columns first (a clear error, nothing written),
then PostgreSQL gets ``COPY ... FROM STDIN`` (streamed from the file) and other engines batched
``executemany`` inserts through the connection of the datastore's common-sql DbApiHook.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["sql_to_file", "files_to_sql"]

_BATCH = 10_000


# -- SQL -> file ------------------------------------------------------------------------------
def _source_sql(hook: Any, spec: dict[str, Any]) -> tuple[str, list[Any]]:
    if spec.get("sql_query"):
        return spec["sql_query"], []
    if spec.get("sql_table"):
        return f"SELECT * FROM {spec['sql_table']}", []
    params = list(spec.get("sql_stored_procedure_params") or [])
    marks = ", ".join([_placeholder(hook)] * len(params))
    proc = spec["sql_stored_procedure"]
    conn_type = getattr(hook, "conn_type", "") or ""
    if conn_type in ("mssql", "azure_sql"):
        return f"EXEC {proc} {marks}".strip(), params
    if conn_type == "mysql":
        return f"CALL {proc}({marks})", params
    return f"SELECT * FROM {proc}({marks})", params


def _placeholder(hook: Any) -> str:
    return getattr(hook, "placeholder", "%s") or "%s"


def sql_to_file(hook: Any, spec: dict[str, Any], target: Path) -> int:
    """Stream a query's rows into ``target`` (.parquet -> Parquet, else CSV); returns the row count."""
    sql, params = _source_sql(hook, spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    conn = hook.get_conn()
    try:
        cur = _stream_cursor(conn)
        cur.execute(sql, params or None)
        writer = _ParquetSink(target) if target.suffix.lower() == ".parquet" else _CsvSink(target)
        rows = 0
        with writer:
            while batch := cur.fetchmany(_BATCH):
                writer.write([d[0] for d in cur.description], batch)
                rows += len(batch)
            if rows == 0 and cur.description:
                writer.write([d[0] for d in cur.description], [])
        cur.close()
        return rows
    finally:
        conn.close()


def _stream_cursor(conn: Any) -> Any:
    """A server-side cursor where the driver has one (psycopg), so rows arrive in batches."""
    if type(conn).__module__.startswith(("psycopg", "psycopg2")):
        return conn.cursor(name=f"azml_{uuid.uuid4().hex[:12]}")
    return conn.cursor()


class _CsvSink:
    def __init__(self, path: Path):
        self.path = path
        self.fh: Any = None
        self.writer: Any = None

    def __enter__(self) -> _CsvSink:
        self.fh = open(self.path, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.fh)
        return self

    def write(self, columns: list[str], rows: list[Any]) -> None:
        if self.fh.tell() == 0:
            self.writer.writerow(columns)
        self.writer.writerows(rows)

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


class _ParquetSink:
    def __init__(self, path: Path):
        self.path = path
        self.writer: Any = None

    def __enter__(self) -> _ParquetSink:
        return self

    def write(self, columns: list[str], rows: list[Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
        if self.writer is None:
            table = pa.table(data)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        else:
            table = pa.table(data).cast(self.writer.schema)
        self.writer.write_table(table)

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()


# -- files -> SQL -----------------------------------------------------------------------------
def _table_columns(conn: Any, table: str) -> list[str]:
    cur = conn.cursor()
    cur.execute(f"SELECT * FROM {table} WHERE 1=0")
    cols = [d[0] for d in cur.description]
    cur.close()
    return cols


def _file_columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _check_header(path: Path, header: list[str], columns: list[str], table: str) -> None:
    lower = {c.lower() for c in columns}
    got = {h.lower() for h in header}
    if len(header) == len(columns) and got == lower:
        return
    missing, extra = sorted(lower - got), sorted(got - lower)
    raise UserErrorException(
        f"Cannot append {path.name} to table {table}: its header {header} does not match the table's columns "
        f"{columns} (missing: {missing or 'none'}, not in the table: {extra or 'none'}). Fix the file's header "
        "row or the table; nothing was written."
    )


def files_to_sql(files: list[Path], hook: Any, table: str) -> int:
    """Append every CSV/Parquet file to ``table`` in one transaction; returns the rows written."""
    if not files:
        raise UserErrorException(f"No files to append to table {table}.")
    conn = hook.get_conn()
    try:
        columns = _table_columns(conn, table)
        conn.rollback()
        headers = {f: _file_columns(f) for f in files}
        for f, header in headers.items():
            _check_header(f, header, columns, table)
        rows = sum(_append(conn, hook, f, headers[f], table) for f in files)
        conn.commit()
        return rows
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def _append(conn: Any, hook: Any, path: Path, header: list[str], table: str) -> int:
    cols = ", ".join(header)
    cur = conn.cursor()
    try:
        if path.suffix.lower() != ".parquet" and hasattr(cur, "copy"):  # psycopg 3
            sql = f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            with open(path, "rb") as fh, cur.copy(sql) as cp:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
            return max(cur.rowcount, 0)
        if path.suffix.lower() != ".parquet" and hasattr(cur, "copy_expert"):  # psycopg2
            with open(path, encoding="utf-8") as fh:
                cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)", fh)
            return max(cur.rowcount, 0)
        return _insert_batches(cur, hook, path, header, table)
    finally:
        cur.close()


def _insert_batches(cur: Any, hook: Any, path: Path, header: list[str], table: str) -> int:
    marks = ", ".join([_placeholder(hook)] * len(header))
    sql = f"INSERT INTO {table} ({', '.join(header)}) VALUES ({marks})"
    rows = 0
    for batch in _file_batches(path):
        cur.executemany(sql, batch)
        rows += len(batch)
    return rows


def _file_batches(path: Path) -> Any:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for rb in pq.ParquetFile(path).iter_batches(batch_size=_BATCH):
            yield [tuple(r.values()) for r in rb.to_pylist()]
        return
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        batch: list[tuple] = []
        for row in reader:
            batch.append(tuple(row))
            if len(batch) >= _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
