"""The local SQL engine: DuckDB over a lake (folder or gs://), with the names BigQuery has.

A connection has schema `execution` with lake_{table} (every run in the lake,
as BigQuery's external tables) and the views of sql/views/ (committed runs
only), translated from the checked-in BigQuery files. So sql/queries/ runs
unchanged on a laptop.
"""

from __future__ import annotations

import glob
import os
from typing import Any, Callable, Mapping

import duckdb
import pyarrow as pa

from lake import layout
from lake.catalog.ddl import DATASET, external_table_name
from lake.catalog.translate import Query, QueryError, load_query, parse_header, to_duckdb
from lake.errors import DestinationError
from lake.stores import Destination, resolve
from lake.stores.destination import no_credentials
from schemas import TABLES
from sql import SQL_DIR

SCHEMA = DATASET


def open_engine(dest: "str | os.PathLike | Destination") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with schema `execution` over the lake at `dest` (folder or gs://bucket[/prefix])."""
    where = resolve(dest)
    con = duckdb.connect()
    try:
        # BigQuery's DATE(ts) and day boundaries are UTC; DuckDB would use the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        root, has_files = _gcs(con, where) if where.is_gcs else _local(where)
        for name, table in TABLES.items():
            _external_table(con, name, f"{root}/{layout.lake_partition_prefix(name)}*/*.parquet", has_files, table.arrow_schema)
        for name in TABLES:
            text = (SQL_DIR / "views" / f"{name}.sql").read_text()
            for stmt in to_duckdb(parse_header(text, f"views/{name}.sql")):
                con.execute(stmt)
    except BaseException:
        con.close()
        raise
    return con


def _external_table(con, name: str, pattern: str, has_files: Callable[[str], bool], schema: pa.Schema) -> None:
    """lake_{name}: the files of every run, run_id read from the Hive path.

    run_id is declared VARCHAR: inferred, a numeric-looking run_id would become
    a number. A table with no files yet is empty with the contract's columns.
    """
    target = f"{SCHEMA}.{external_table_name(name)}"
    if has_files(pattern):
        con.execute(
            f"CREATE VIEW {target} AS SELECT * FROM read_parquet({_quote(pattern)}, "
            "hive_partitioning = true, hive_types = {'run_id': 'VARCHAR'}, union_by_name = true)"
        )
    else:
        con.register(f"_empty_{name}", pa.schema(list(schema) + [pa.field("run_id", pa.string())]).empty_table())
        con.execute(f"CREATE VIEW {target} AS SELECT * FROM _empty_{name}")


def _local(where: Destination) -> tuple[str, Callable[[str], bool]]:
    if not where.path.is_dir():
        raise DestinationError(f"no lake at {where.url!r}: not a directory")
    return where.path.as_posix(), lambda pattern: bool(glob.glob(pattern))


def _gcs(con: duckdb.DuckDBPyConnection, where: Destination) -> tuple[str, Callable[[str], bool]]:
    """DuckDB reads gs:// through a registered gcsfs filesystem (the httpfs extension cannot be installed here)."""
    fs = _gcs_filesystem(where)
    con.register_filesystem(fs)
    try:
        fs.ls(where.bucket)
    except FileNotFoundError:
        raise DestinationError(f"no lake at {where.url!r}: bucket {where.bucket!r} not found") from None
    except Exception as exc:  # refused, forbidden, unreachable: name the lake and the cause
        raise DestinationError(f"cannot read the lake at {where.url!r}: {exc}") from exc
    return where.url, lambda pattern: bool(fs.glob(pattern))


def _gcs_filesystem(where: Destination):
    """gcsfs with Application Default Credentials, or anonymous against STORAGE_EMULATOR_HOST."""
    import gcsfs

    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        return gcsfs.GCSFileSystem(endpoint_url=emulator, token="anon")
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    # Looked up here so a machine without credentials fails now, by name, not inside a DuckDB scan.
    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/devstorage.read_only"])
    except DefaultCredentialsError as exc:
        raise no_credentials(where.url) from exc
    return gcsfs.GCSFileSystem(token=credentials)


def _quote(text: str) -> str:
    """A SQL string literal (DDL cannot take bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def run_query(con: duckdb.DuckDBPyConnection, query: Query | str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Run a BigQuery query (a Query, a shipped query's name, a .sql path, or SQL text) on DuckDB."""
    if isinstance(query, str):
        query = load_query(query)
    statements = to_duckdb(query, params)
    try:
        for stmt in statements[:-1]:
            con.execute(stmt)
        return con.sql(statements[-1]).to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"{query.name}: DuckDB failed: {exc}") from None


def query_lake(dest: "str | os.PathLike | Destination", query: Query | str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Open the lake at `dest` and run one query on it."""
    con = open_engine(dest)
    try:
        return run_query(con, query, params)
    finally:
        con.close()
