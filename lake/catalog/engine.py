"""The local SQL engine: DuckDB over a lake (folder or gs://), with the names BigQuery has.

A connection has schema `execution` with lake_{table} and the views of
sql/views/ (committed runs only), translated from the checked-in BigQuery files,
so sql/queries/ runs unchanged on a laptop. Unlike BigQuery's external tables,
which list every object, lake_{table} here holds only the files the commits
name (the views then filter them the same way in both engines): a stray or
half-written file is never opened, and one run's damaged file does not stop a
query about other runs.
"""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.catalog.ddl import DATASET, external_table_name, view_name
from lake.catalog.prune import runs_named
from lake.catalog.translate import Query, QueryError, load_query, parse_header, to_duckdb
from lake.errors import DestinationError, InvalidRunIdError
from lake.run import check_run_id
from lake.stores import Destination, resolve
from lake.stores.destination import no_credentials
from schemas import TABLES, evolution
from sql import SQL_DIR

SCHEMA = DATASET


def open_engine(dest: "str | os.PathLike | Destination", runs: Iterable[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with schema `execution` over the lake at `dest` (folder or gs://bucket[/prefix]).

    runs: open only these runs (those of them that are committed); None opens every
    committed run, which reads every runs row. query_lake passes the runs a query
    names (lake.catalog.prune), so a question about two runs costs two runs.
    """
    where = resolve(dest)
    con = duckdb.connect()
    try:
        # BigQuery's DATE(ts) and day boundaries are UTC; DuckDB would use the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # a command's stderr is for its own messages
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        listing = _gcs(con, where) if where.is_gcs else _local(where)
        committed = _committed_runs(con, listing, runs)
        for name in TABLES:
            if name != "runs":
                _lake_table(con, name, _files_by_version(listing.root, name, committed))
        create_views(con, fast=True)
    except BaseException:
        con.close()
        raise
    return con


def create_views(con: duckdb.DuckDBPyConnection, *, fast: bool, schema: str = SCHEMA) -> None:
    """The views of sql/views/, translated from the checked-in BigQuery files, in `schema`.

    fast=True: the data views drop the file-name condition, which is always true
    here (lake_{table} holds only the files the commits name) but costs a string
    comparison per row (about 2 s on 10 million fills); the rows are the same,
    which tests/test_engine_views.py checks against the full views.
    """
    for name, table in TABLES.items():
        if fast and name != "runs":
            columns = ", ".join((*table.column_names, "run_id"))
            con.execute(f"CREATE VIEW {schema}.{view_name(name)} AS SELECT {columns} FROM {SCHEMA}.{external_table_name(name)}")
            continue
        text = (SQL_DIR / "views" / f"{name}.sql").read_text()
        for stmt in to_duckdb(parse_header(text, f"views/{name}.sql")):
            con.execute(stmt.replace(f"VIEW {SCHEMA}.", f"VIEW {schema}.", 1))


@dataclass(frozen=True)
class Listing:
    """How to find a lake's commits: its root URL or path, a glob, and an existence test, which is
    worth one call per named run up to `exists_limit` runs (on GCS each is a request; beyond, one listing)."""

    root: str
    glob: Callable[[str], list[str]]
    exists: Callable[[str], bool]
    exists_limit: float = float("inf")


def _commit_files(listing: Listing, runs: Iterable[str] | None) -> list[str]:
    """The runs rows (commits) of the runs asked for (None: all), found by name: no file is read.

    Only a file at a commit's own key counts (a stray copy beside it, or a folder
    whose name is no run_id, is not a commit); a name that is no run_id names no run.
    """
    root = listing.root
    wanted = None if runs is None else {r for r in runs if _names_a_run(r)}
    if wanted is not None and len(wanted) <= listing.exists_limit:
        return [path for r in sorted(wanted) if listing.exists(path := f"{root}/{layout.commit_key(r)}")]
    found = []
    for path in listing.glob(f"{root}/{layout.lake_partition_prefix('runs')}run_id=*/{layout.PART_FILE}"):
        run_id = layout.run_id_from_key(path[len(root) + 1 :])
        if run_id is not None and path == f"{root}/{layout.commit_key(run_id)}" and (wanted is None or run_id in wanted):
            found.append(path)
    return sorted(found)


def _names_a_run(name: object) -> bool:
    try:
        check_run_id(name)
    except InvalidRunIdError:
        return False
    return True


def _committed_runs(con, listing: Listing, runs: Iterable[str] | None) -> list["Commit"]:
    """execution.lake_runs over the runs rows (the commits); returns what each run's commit names.

    Like the data tables, lake_runs reads each contract version's rows bound to that
    version's empty file, without union_by_name (which reads every file's schema at
    each bind: seconds and gigabytes at thousands of runs). A runs row's version is
    the schema_version of its footer's key-value metadata. Rows written before
    contract version 2 have no data_file and table_versions columns: they read as
    NULL, the legacy name part-00000.parquet and version 1 of every table.
    """
    files = _commit_files(listing, runs)
    groups: dict[int, list[str]] = {TABLES["runs"].version: []}
    for path, version in _runs_row_versions(con, files):
        groups.setdefault(_readable_version("runs", version, path), []).append(path)
    _lake_table(con, "runs", groups)
    try:
        rows = con.sql(f"SELECT run_id, data_file, table_versions FROM {SCHEMA}.{external_table_name('runs')}").fetchall()
    except duckdb.Error as exc:
        raise QueryError(f"cannot read the lake's runs rows (the commits): {exc}") from None
    out = []
    for run_id, data_file, table_versions in rows:
        try:
            versions = evolution.run_table_versions(table_versions)
        except (ValueError, evolution.EvolutionError) as exc:
            raise QueryError(f"run {run_id}: its runs row's table_versions cannot be read: {exc}") from None
        out.append(Commit(run_id, layout.check_data_file(data_file or layout.PART_FILE), versions))
    return out


def _runs_row_versions(con, files: list[str]) -> list[tuple[str, int]]:
    """(file, the runs contract version it was written under), from the files' footers only."""
    if not files:
        return []
    try:
        found = dict(
            con.execute(
                f"SELECT file_name, value FROM parquet_kv_metadata({_list(files)}) WHERE key = 'schema_version'::BLOB"
            ).fetchall()
        )
    except duckdb.Error as exc:
        raise QueryError(f"cannot read the lake's runs rows (the commits): {exc}") from None
    out = []
    for path in files:
        raw = found.get(path)
        try:
            out.append((path, int(bytes(raw).decode("ascii"))))
        except (TypeError, ValueError):
            raise QueryError(f"{path}: a runs row whose footer has no readable schema_version ({raw!r})") from None
    return out


def _readable_version(name: str, version: int, where: str) -> int:
    """The contract version a file of `name` written under `version` is read as (see _files_by_version)."""
    current = TABLES[name].version
    if version > current:
        return current
    known = evolution.versions(name)
    if version not in known:
        raise QueryError(
            f"{where}: its {name} file says contract version {version}, which was never released "
            f"(known: {', '.join(map(str, sorted(known)))})"
        )
    return version


@dataclass(frozen=True)
class Commit:
    """What a run's commit (its runs row) names: the data file name, and the contract version of each table's file."""

    run_id: str
    data_file: str
    versions: dict[str, int]


def _files_by_version(root: str, name: str, committed: list[Commit]) -> dict[int, list[str]]:
    """The committed files of table `name`, grouped by the contract version their run's commit records.

    A file written by a newer contract than this reader's is read as the current
    version: by the evolution rules it holds every current column (and the ones it
    adds are not shown until the reader is upgraded). A version that was never
    released is an error naming the run.
    """
    groups: dict[int, list[str]] = {TABLES[name].version: []}
    for commit in committed:
        version = _readable_version(name, commit.versions[name], f"run {commit.run_id}")
        groups.setdefault(version, []).append(f"{root}/{layout.lake_key(commit.run_id, name, commit.data_file)}")
    return groups


def _lake_table(con, name: str, groups: dict[int, list[str]]) -> None:
    """lake_{name}: the files the commits name (for runs, the commits), run_id from the Hive path, _FILE_NAME as in BigQuery.

    Each contract version's files are read together, bound to that version's own
    empty schema file (first in its list), so opening the lake reads no run's file
    and a query that filters run_id with constants opens only those runs' files.
    The versions are combined with UNION ALL BY NAME, the current one first: it has
    every column, so a column an older version lacks reads as NULL in that
    version's rows. run_id is declared VARCHAR: inferred, a numeric-looking run_id
    would become a number.
    """
    current = TABLES[name].version
    order = [current, *sorted((v for v in groups if v != current), reverse=True)]
    schema_files = [_schema_file(name, v) for v in order]
    branches = [
        f"SELECT * FROM read_parquet({_list([schema_file, *groups.get(v, [])])}, "
        "hive_partitioning = true, hive_types = {'run_id': 'VARCHAR'}, filename = true)"
        for v, schema_file in zip(order, schema_files)
    ]
    # The schema files hold no rows: they only bind the types.
    con.execute(
        f"CREATE VIEW {SCHEMA}.{external_table_name(name)} AS "
        f"SELECT * EXCLUDE (filename), filename AS _FILE_NAME FROM ({' UNION ALL BY NAME '.join(branches)})"
    )


_SCHEMA_DIR: tempfile.TemporaryDirectory | None = None


def _schema_file(name: str, version: int | None = None) -> str:
    """An empty Parquet file of the table's contract at `version` (default: current), under a Hive path.

    Written once per process and schema (the folder is named by a hash of the
    schema, so a contract changed at run time, as tests do, gets its own file).
    """
    global _SCHEMA_DIR
    if _SCHEMA_DIR is None:
        _SCHEMA_DIR = tempfile.TemporaryDirectory(prefix="lake-contract-")
    schema = evolution.schema_of(name, TABLES[name].version if version is None else version)
    digest = hashlib.sha256(schema.to_string(show_field_metadata=False).encode()).hexdigest()[:12]
    path = Path(_SCHEMA_DIR.name) / name / digest / "run_id=-" / layout.PART_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(schema.empty_table(), path)
    return path.as_posix()


def _local(where: Destination) -> Listing:
    if not where.path.is_dir():
        raise DestinationError(f"no lake at {where.url!r}: not a directory")
    return Listing(where.path.as_posix(), glob.glob, os.path.isfile)


def _gcs(con: duckdb.DuckDBPyConnection, where: Destination) -> Listing:
    """DuckDB reads gs:// through a registered gcsfs filesystem (the httpfs extension cannot be installed here)."""
    fs = _gcs_filesystem(where)
    con.register_filesystem(fs)
    try:
        fs.ls(where.bucket)
    except FileNotFoundError:
        raise DestinationError(f"no lake at {where.url!r}: bucket {where.bucket!r} not found") from None
    except Exception as exc:  # refused, forbidden, unreachable: name the lake and the cause
        raise DestinationError(f"cannot read the lake at {where.url!r}: {exc}") from exc
    return Listing(where.url, lambda pattern: ["gs://" + p for p in fs.glob(pattern)], fs.isfile, exists_limit=64)


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


def _list(items: list[str]) -> str:
    return "[" + ", ".join(_quote(i) for i in items) + "]"


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
    """Open the lake at `dest` and run one query on it, opening only the runs the query names (if it names them)."""
    if isinstance(query, str):
        query = load_query(query)
    con = open_engine(dest, runs=runs_named(query, params))
    try:
        return run_query(con, query, params)
    finally:
        con.close()
