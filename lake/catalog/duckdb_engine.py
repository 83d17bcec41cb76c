"""The local SQL engine: the BigQuery catalog rebuilt in DuckDB, and queries run on it.

A connection gets the same names BigQuery has: schema `execution` with
lake_{table} (every run in the lake) and the views of sql/views/ (committed runs
only), translated from the checked-in BigQuery files. So sql/queries/ runs
unchanged on a laptop, against a local folder or a gs:// lake.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import duckdb
import pyarrow as pa

from lake.catalog import bigquery as bq
from lake.catalog.duckdb import connect
from lake.catalog.translate import Query, QueryError, load_query, parse_header, to_duckdb
from schemas import TABLES
from sql import SQL_DIR

SCHEMA = bq.DATASET


def open_engine(dest: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with schema `execution` over the lake at `dest` (folder or gs://bucket[/prefix])."""
    con = duckdb.connect()
    # BigQuery's DATE(ts) and day boundaries are UTC; DuckDB would use the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    connect(dest, con)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name in TABLES:
        con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.{bq.external_table_name(name)} AS SELECT * FROM main.{name}")
    for name in TABLES:
        path = SQL_DIR / "views" / f"{name}.sql"
        for stmt in to_duckdb(parse_header(path.read_text(), f"views/{name}.sql")):
            con.execute(stmt)
    return con


def run_query(
    con: duckdb.DuckDBPyConnection, query: Query | str, params: Mapping[str, Any] | None = None
) -> pa.Table:
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


def query_lake(dest: str | os.PathLike, query: Query | str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Open the lake at `dest` and run one query on it."""
    con = open_engine(dest)
    try:
        return run_query(con, query, params)
    finally:
        con.close()
