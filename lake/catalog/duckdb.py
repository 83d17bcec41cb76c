"""DuckDB over a lake (local folder or gs://): one view per table, run_id read from the Hive path as VARCHAR."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from lake import layout
from lake.errors import DestinationError
from schemas import TABLES


def connect(dest: str | os.PathLike, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with views orders, fills, positions, equity_curve and runs over the lake at `dest`.

    Every run in the lake is visible here, committed or not; the views of
    sql/views/ (lake.catalog.duckdb_engine) narrow to committed runs. run_id is
    declared VARCHAR: inferred, a numeric-looking run_id would become a number.
    A table with no files yet is an empty view with the contract's columns.
    """
    con = con or duckdb.connect()
    dest = os.fspath(dest)
    root, has_files = _gcs(con, dest) if dest.startswith("gs://") else _local(dest)
    for name, table in TABLES.items():
        pattern = f"{root}/{layout.lake_partition_prefix(name)}*/*.parquet"
        if has_files(pattern):
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({_quote(pattern)}, "
                "hive_partitioning = true, hive_types = {'run_id': 'VARCHAR'}, union_by_name = true)"
            )
        else:
            empty = pa.schema(list(table.arrow_schema) + [pa.field("run_id", pa.string())]).empty_table()
            con.register(f"_empty_{name}", empty)
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _empty_{name}")
    return con


def _local(dest: str) -> tuple[str, Callable[[str], bool]]:
    if not Path(dest).is_dir():
        raise DestinationError(f"no lake at {dest!r}: not a directory")
    return Path(dest).absolute().as_posix(), lambda pattern: bool(glob.glob(pattern))


def _gcs(con: duckdb.DuckDBPyConnection, dest: str) -> tuple[str, Callable[[str], bool]]:
    """DuckDB reads gs:// through a registered gcsfs filesystem (the httpfs extension cannot be installed here).

    Credentials are Application Default Credentials, or none against STORAGE_EMULATOR_HOST.
    """
    import gcsfs

    from lake.stores import resolve

    where = resolve(dest)
    bucket, prefix = where.bucket, where.prefix
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    fs = gcsfs.GCSFileSystem(endpoint_url=emulator, token="anon") if emulator else gcsfs.GCSFileSystem()
    con.register_filesystem(fs)
    try:
        fs.ls(bucket)
    except FileNotFoundError:
        raise DestinationError(f"no lake at {dest!r}: bucket {bucket!r} not found") from None
    return "gs://" + "/".join(p for p in (bucket, prefix) if p), lambda pattern: bool(fs.glob(pattern))


def _quote(text: str) -> str:
    """A SQL string literal (DDL cannot take bound parameters)."""
    return "'" + text.replace("'", "''") + "'"
