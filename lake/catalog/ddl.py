"""The BigQuery catalog as SQL text, derived from schemas/, and the checked-in files sql/ddl/ and sql/views/.

Everything here is derived from schemas/: the column lists, types, modes and
descriptions are never typed twice. Two kinds of objects live in the dataset
(`execution` by default):

  lake_{table}  an external table over gs://{bucket}/lake/{table}/run_id=*/...
                (Hive partitioning, run_id declared STRING); it also shows runs
                whose write has not finished
  {table}       a view showing committed runs only (run_id present in lake_runs);
                analysts and sql/queries/ use these

Only text is made here; lake.catalog.bigquery sends it, lake.catalog.engine
rebuilds the same names in DuckDB from the checked-in files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from lake import layout
from lake.layout import PART_FILE
from lake.errors import LakeError
from schemas import TABLES, Table

DATASET = "execution"
BUCKET_PLACEHOLDER = "{bucket}"

_PROJECT = re.compile(r"(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,1023}")
_LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,62}")


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


def external_table_sql(
    table: Table, *, dataset: str, lake_root: str, project: str | None, labels: Mapping[str, str] | None = None
) -> str:
    prefix = f"{lake_root}/{layout.lake_partition_prefix(table.name).rstrip('/')}"
    # No NOT NULL: BigQuery documents no NOT NULL for external-table columns. Requiredness lives in the
    # Parquet files (REQUIRED columns) and in the writer's checks; see docs/sql.md.
    columns = [
        f"  {col.name} {col.kind.bigquery} OPTIONS(description = {sql_string(col.description)})" for col in table.physical_columns
    ]
    description = (
        f"{table.description} All runs in the lake, including runs whose write has not finished; "
        f"query the view {view_name(table.name)} for committed runs. Contract version {table.version}."
    )
    options = [
        ("format", "'PARQUET'"),
        ("uris", f"[{sql_string(prefix + '/*')}]"),
        ("hive_partition_uri_prefix", sql_string(prefix)),
        ("require_hive_partition_filter", "false"),
        ("description", sql_string(description)),
        *_labels(labels),
    ]
    return (
        f"CREATE OR REPLACE EXTERNAL TABLE {qualified(external_table_name(table.name), dataset, project)} (\n"
        + ",\n".join(columns)
        + "\n)\nWITH PARTITION COLUMNS (run_id STRING)\n"
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


# --- checked-in files: sql/ddl/{table}.sql and sql/views/{table}.sql -------------------------

_DDL_HEADER = """\
-- Generated by `lake sql generate` from schemas/{table}.py (contract version {version}); do not edit.
-- External table over the lake's {table} files, in dataset `{dataset}`. {{bucket}} stands for the bucket
-- (and optional prefix) of the execution store; `lake register --bucket B` fills it in.
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
    for sub in ("ddl", "views"):
        out += [f"{sub}/{p.name}" for p in sorted((Path(sql_dir) / sub).glob("*.sql")) if f"{sub}/{p.name}" not in wanted]
    return out
