"""The BigQuery catalog as SQL text, derived from schemas/, and the checked-in files sql/ddl/ and sql/views/.

Everything here is derived from schemas/: the column lists, types, modes and
descriptions are never typed twice. Two kinds of objects live in the dataset
(`execution` by default):

  lake_{table}  an external table over gs://{bucket}/lake/{table}/run_id=*/...
                (Hive partitioning, run_id declared STRING); it also shows runs
                whose write has not finished. Two forms: a plain external table
                (BigQuery lists the files at every query), or a BigLake table
                (WITH CONNECTION) whose file list is cached and refreshed by
                `lake refresh` (lake.catalog.bigquery.refresh)
  {table}       a view showing committed runs only (run_id present in lake_runs);
                analysts and sql/queries/ use these

Only text is made here; lake.catalog.bigquery sends it, lake.catalog.engine
rebuilds the same names in DuckDB from the checked-in files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from lake import layout
from lake.layout import PART_FILE
from lake.errors import LakeError
from schemas import TABLES, Table

DATASET = "execution"
BUCKET_PLACEHOLDER = "{bucket}"
CONNECTION_PLACEHOLDER = "{connection}"

_PROJECT = re.compile(r"(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,1023}")
_LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,62}")
_CONNECTION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,1023}")
_STALENESS = re.compile(r"([0-9]{1,5})\s*(m|min|minutes?|h|hours?|d|days?)", re.IGNORECASE)
# BigQuery accepts a metadata cache staleness from 30 minutes to 7 days (docs/sql.md#bigquery-at-scale).
MIN_STALENESS_MINUTES, MAX_STALENESS_MINUTES = 30, 7 * 24 * 60
DEFAULT_STALENESS_MINUTES = 24 * 60


class CatalogNameError(LakeError, ValueError):
    """A project, dataset or location that cannot be placed into catalog SQL."""


def external_table_name(table: str) -> str:
    return f"lake_{table}"


def view_name(table: str) -> str:
    return table


# --- names: every one below ends up inside SQL text -----------------------------------------


def check_project(project: str) -> str:
    return _checked(project, _PROJECT, "project id")


def check_dataset(dataset: str) -> str:
    return _checked(dataset, _DATASET, "dataset name", ": letters, digits and '_' only")


def check_location(location: str) -> str:
    return _checked(location, _LOCATION, "location", " (e.g. US, EU, europe-west1)")


def check_connection(connection: str) -> str:
    """A BigQuery connection as PROJECT.LOCATION.CONNECTION (the project may be domain-scoped: example.com:p)."""
    parts = connection.rsplit(".", 2) if isinstance(connection, str) else []
    if len(parts) != 3 or not (_PROJECT.fullmatch(parts[0]) and _LOCATION.fullmatch(parts[1]) and _CONNECTION_ID.fullmatch(parts[2])):
        raise CatalogNameError(
            f"invalid BigQuery connection {connection!r}: expected PROJECT.LOCATION.CONNECTION (e.g. my-project.eu.lake-connection)"
        )
    return connection


def connection_location(connection: str) -> str:
    return check_connection(connection).rsplit(".", 2)[1]


def staleness_minutes(text: str) -> int:
    """'30m', '4h', '1d', '2 days' -> minutes, within what BigQuery accepts (30 minutes to 7 days)."""
    m = _STALENESS.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise CatalogNameError(f"invalid metadata cache staleness {text!r}: expected minutes, hours or days, e.g. 30m, 4h, 1d")
    minutes = int(m.group(1)) * {"m": 1, "h": 60, "d": 24 * 60}[m.group(2)[0].lower()]
    if not MIN_STALENESS_MINUTES <= minutes <= MAX_STALENESS_MINUTES:
        raise CatalogNameError(f"metadata cache staleness {text!r} is outside what BigQuery accepts: 30 minutes to 7 days")
    return minutes


def interval_sql(minutes: int) -> str:
    """An INTERVAL literal in the largest whole unit: 1440 -> INTERVAL 1 DAY, 90 -> INTERVAL 90 MINUTE."""
    for unit, size in (("DAY", 24 * 60), ("HOUR", 60), ("MINUTE", 1)):
        if minutes % size == 0:
            return f"INTERVAL {minutes // size} {unit}"
    raise AssertionError(minutes)  # pragma: no cover - MINUTE divides everything


@dataclass(frozen=True)
class BigLake:
    """The BigLake form of the external tables: read through a connection, their file lists cached.

    The cache is refreshed only by `lake refresh` (metadata_cache_mode 'MANUAL'): a query sees the
    files of the last refresh, never a file listed in between, which is what lets the refresh order
    (data tables first, lake_runs last) keep every run whole for readers. A cache older than
    max_staleness is not used: BigQuery then lists the files itself, as for a plain external table.
    """

    connection: str  # PROJECT.LOCATION.CONNECTION, or CONNECTION_PLACEHOLDER in the checked-in files
    staleness_minutes: int = DEFAULT_STALENESS_MINUTES

    def __post_init__(self):
        if self.connection != CONNECTION_PLACEHOLDER:
            check_connection(self.connection)
        if not MIN_STALENESS_MINUTES <= self.staleness_minutes <= MAX_STALENESS_MINUTES:
            raise CatalogNameError(f"metadata cache staleness of {self.staleness_minutes} minutes: BigQuery accepts 30 minutes to 7 days")

    @property
    def max_staleness(self) -> str:
        return interval_sql(self.staleness_minutes)


def _checked(value: str, pattern: re.Pattern, what: str, hint: str = "") -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise CatalogNameError(f"invalid BigQuery {what} {value!r}{hint}")
    return value


# --- statements ------------------------------------------------------------------------------


def sql_string(text: str) -> str:
    """A BigQuery string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def qualified(name: str, dataset: str, project: str | None) -> str:
    if project:
        return f"`{check_project(project)}.{check_dataset(dataset)}.{name}`"
    return f"{check_dataset(dataset)}.{name}"


def _options(items: list[tuple[str, str]]) -> str:
    return "OPTIONS (\n" + ",\n".join(f"  {k} = {v}" for k, v in items) + "\n)"


def _labels(labels: Mapping[str, str] | None) -> list[tuple[str, str]]:
    if not labels:
        return []
    return [("labels", "[" + ", ".join(f"({sql_string(k)}, {sql_string(v)})" for k, v in labels.items()) + "]")]


def table_data_prefix(table: str, lake_root: str) -> str:
    """gs://bucket[/prefix]/lake/{table}: the external table's Hive partitioning prefix."""
    return f"{lake_root}/{layout.lake_partition_prefix(table).rstrip('/')}"


def external_table_sql(
    table: Table,
    *,
    dataset: str,
    lake_root: str,
    project: str | None,
    labels: Mapping[str, str] | None = None,
    biglake: BigLake | None = None,
) -> str:
    prefix = table_data_prefix(table.name, lake_root)
    # No NOT NULL: BigQuery documents no NOT NULL for external-table columns. Requiredness lives in the
    # Parquet files (REQUIRED columns) and in the writer's checks; see docs/sql.md.
    columns = [
        f"  {col.name} {col.kind.bigquery} OPTIONS(description = {sql_string(col.description)})" for col in table.physical_columns
    ]
    description = (
        f"{table.description} All runs in the lake, including runs whose write has not finished; "
        f"query the view {view_name(table.name)} for committed runs. Contract version {table.version}."
    )
    cache: list[tuple[str, str]] = []
    connection = ""
    if biglake is not None:
        # docs/sql.md#bigquery-at-scale: the syntax and its sources.
        connection = f"WITH CONNECTION `{biglake.connection}`\n"
        cache = [("max_staleness", biglake.max_staleness), ("metadata_cache_mode", "'MANUAL'")]
        description += " BigLake table: its file list is cached and refreshed by `lake refresh`."
    options = [
        ("format", "'PARQUET'"),
        ("uris", f"[{sql_string(prefix + '/*')}]"),
        ("hive_partition_uri_prefix", sql_string(prefix)),
        ("require_hive_partition_filter", "false"),
        *cache,
        ("description", sql_string(description)),
        *_labels(labels),
    ]
    return (
        f"CREATE OR REPLACE EXTERNAL TABLE {qualified(external_table_name(table.name), dataset, project)} (\n"
        + ",\n".join(columns)
        + "\n)\nWITH PARTITION COLUMNS (run_id STRING)\n"
        + connection
        + _options(options)
        + ";\n"
    )


def view_sql(table: Table, *, dataset: str, project: str | None, labels: Mapping[str, str] | None = None) -> str:
    source = qualified(external_table_name(table.name), dataset, project)
    runs = qualified(external_table_name("runs"), dataset, project)
    columns = ",\n".join(f"  t.{name}" for name in (*table.column_names, "run_id"))
    if table.name == "runs":
        # A runs row at its commit's own key is the commit itself (a stray copy beside it is not).
        where = f"\nWHERE {_is_commit('t')}"
        description = f"{table.description} Contract version {table.version}."
    else:
        # Only the files the run's commit names: a stray copy, an uncommitted write or an older
        # generation left by an interrupted overwrite is invisible.
        where = (
            f"\nJOIN (\n  SELECT r.run_id, IFNULL(r.data_file, '{PART_FILE}') AS data_file FROM {runs} AS r\n"
            f"  WHERE {_is_commit('r')}\n) AS c\n"
            f"  ON c.run_id = t.run_id AND ENDS_WITH(t._FILE_NAME, CONCAT('/run_id=', t.run_id, '/', c.data_file))"
        )
        description = f"{table.description} Committed runs only. Contract version {table.version}."
    options = [("description", sql_string(description)), *_labels(labels)]
    return (
        f"CREATE OR REPLACE VIEW {qualified(view_name(table.name), dataset, project)}\n"
        + _options(options)
        + f"\nAS\nSELECT\n{columns}\nFROM {source} AS t{where};\n"
    )


def _is_commit(alias: str) -> str:
    """The runs row is at lake/runs/run_id={run_id}/part-00000.parquet and run_id follows the run_id rule."""
    return (
        f"ENDS_WITH({alias}._FILE_NAME, CONCAT('/run_id=', {alias}.run_id, '/{PART_FILE}'))\n"
        f"    AND REGEXP_CONTAINS({alias}.run_id, r'^[A-Za-z0-9][A-Za-z0-9._-]{{0,127}}$') AND STRPOS({alias}.run_id, '..') = 0"
    )


def dataset_sql(project: str | None, dataset: str, location: str | None) -> str:
    """The dataset creation as DDL (registration creates it through the API; --dry-run shows this)."""
    opts = f"\nOPTIONS (location = {sql_string(location)})" if location else ""
    target = f"`{check_project(project)}.{check_dataset(dataset)}`" if project else check_dataset(dataset)
    return f"CREATE SCHEMA IF NOT EXISTS {target}{opts};\n"


# --- checked-in files: sql/ddl/{table}.sql, sql/ddl/biglake/{table}.sql, sql/views/{table}.sql --

_DDL_HEADER = """\
-- Generated by `lake sql generate` from schemas/{table}.py (contract version {version}); do not edit.
-- External table over the lake's {table} files, in dataset `{dataset}`. {{bucket}} stands for the bucket
-- (and optional prefix) of the execution store; `lake register --bucket B` fills it in.
"""

_BIGLAKE_HEADER = """\
-- Generated by `lake sql generate` from schemas/{table}.py (contract version {version}); do not edit.
-- BigLake form of the external table over the lake's {table} files, in dataset `{dataset}`: read through a
-- connection, its file list cached (metadata_cache_mode 'MANUAL') and refreshed by `lake refresh`.
-- {{bucket}} stands for the bucket (and optional prefix), {{connection}} for PROJECT.LOCATION.CONNECTION;
-- `lake register --bucket B --connection C [--max-staleness 1d]` fills them in.
"""

_VIEW_HEADER = """\
-- Generated by `lake sql generate` from schemas/{table}.py (contract version {version}); do not edit.
-- {what}
"""


def generated_files() -> dict[str, str]:
    """Relative path under sql/ -> file text, for the default dataset and a bucket placeholder."""
    files: dict[str, str] = {}
    for table in TABLES.values():
        head = _DDL_HEADER.format(table=table.name, version=table.version, dataset=DATASET)
        sql = external_table_sql(table, dataset=DATASET, lake_root=f"gs://{BUCKET_PLACEHOLDER}", project=None)
        files[f"ddl/{table.name}.sql"] = head + sql
    for table in TABLES.values():
        head = _BIGLAKE_HEADER.format(table=table.name, version=table.version, dataset=DATASET)
        sql = external_table_sql(
            table, dataset=DATASET, lake_root=f"gs://{BUCKET_PLACEHOLDER}", project=None, biglake=BigLake(CONNECTION_PLACEHOLDER)
        )
        files[f"ddl/biglake/{table.name}.sql"] = head + sql
    for table in TABLES.values():
        what = (
            "The runs of the lake: a run is committed once its runs row exists."
            if table.name == "runs"
            else f"{table.name} of committed runs only (run_id present in {external_table_name('runs')}); analysts query this view."
        )
        head = _VIEW_HEADER.format(table=table.name, version=table.version, what=what)
        files[f"views/{table.name}.sql"] = head + view_sql(table, dataset=DATASET, project=None)
    return files


def _checked_in(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def write_generated_files(sql_dir: Path) -> list[str]:
    """Write the generated files under sql_dir; return the relative paths whose content changed."""
    changed = []
    for rel, text in generated_files().items():
        path = Path(sql_dir) / rel
        if _checked_in(path) == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        changed.append(rel)
    return changed


def drifted_files(sql_dir: Path) -> list[str]:
    """Relative paths whose checked-in text differs from what schemas/ generates (or that are missing or extra)."""
    wanted = generated_files()
    out = [rel for rel, text in wanted.items() if _checked_in(Path(sql_dir) / rel) != text]
    for sub in ("ddl", "ddl/biglake", "views"):
        out += [f"{sub}/{p.name}" for p in sorted((Path(sql_dir) / sub).glob("*.sql")) if f"{sub}/{p.name}" not in wanted]
    return out
