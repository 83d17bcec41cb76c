"""DuckDB over a local lake: one view per table, run_id read from the Hive path as VARCHAR."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from lake import layout
from schemas import TABLES


def lake_glob(root: str | os.PathLike, table: str) -> str:
    return f"{Path(root).as_posix()}/{layout.lake_partition_prefix(table)}*/*.parquet"


def connect(dest: str | os.PathLike, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with views orders, fills, positions, equity_curve and runs over the lake at `dest`.

    run_id is declared VARCHAR: inferred, a numeric-looking run_id would become a number.
    A table with no files yet is an empty view with the contract's columns.
    """
    con = con or duckdb.connect()
    for name, table in TABLES.items():
        pattern = lake_glob(dest, name)
        if any(Path(dest).glob(str(Path(layout.lake_partition_prefix(name)) / "*" / "*.parquet"))):
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_quote(pattern)}, "
                "hive_partitioning = true, hive_types = {'run_id': 'VARCHAR'}, union_by_name = true)"
            )
        else:
            empty = pa.schema(list(table.arrow_schema) + [pa.field("run_id", pa.string())]).empty_table()
            con.register(f"_empty_{name}", empty)
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _empty_{name}")
    return con


def _quote(text: str) -> str:
    """A SQL string literal (DDL cannot take bound parameters)."""
    return "'" + text.replace("'", "''") + "'"
