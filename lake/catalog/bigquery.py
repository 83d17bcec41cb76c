"""BigQuery catalog: external tables over the lake and views over committed runs.

Everything here is derived from schemas/: the column lists, types, modes and
descriptions are never typed twice. Two kinds of objects live in the dataset
(`execution` by default):

  lake_{table}  an external table over gs://{bucket}/lake/{table}/run_id=*/...
                (Hive partitioning, run_id declared STRING); it also shows runs
                whose write has not finished
  {table}       a view showing committed runs only (run_id present in lake_runs);
                analysts and sql/queries/ use these

`register` creates the dataset if absent, then the tables and views, and
changes only what differs: each statement carries a fingerprint label, and an
object whose label matches is left alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from lake import layout
from lake.errors import DestinationError, LakeError
from schemas import TABLES, Table

DATASET = "execution"
BUCKET_PLACEHOLDER = "{bucket}"
FINGERPRINT_LABEL = "execution_lake_ddl"

_PROJECT = re.compile(r"(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_DATASET = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,1023}")
_LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,62}")


class RegistrationError(LakeError):
    """A BigQuery call of `lake register` failed, or its arguments cannot be used."""


def external_table_name(table: str) -> str:
    return f"lake_{table}"


def view_name(table: str) -> str:
    return table


# --- argument checks: every name below ends up inside SQL text ------------------------------


def check_project(project: str) -> str:
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise RegistrationError(f"invalid BigQuery project id {project!r}")
    return project


def check_dataset(dataset: str) -> str:
    if not isinstance(dataset, str) or not _DATASET.fullmatch(dataset):
        raise RegistrationError(f"invalid BigQuery dataset name {dataset!r}: letters, digits and '_' only")
    return dataset


def check_location(location: str) -> str:
    if not isinstance(location, str) or not _LOCATION.fullmatch(location):
        raise RegistrationError(f"invalid BigQuery location {location!r} (e.g. US, EU, europe-west1)")
    return location


def lake_root_from_bucket(bucket: str) -> str:
    """'bucket', 'gs://bucket' or 'gs://bucket/prefix' -> 'gs://bucket[/prefix]', checked as the writer checks it."""
    from lake.stores import resolve

    text = bucket.strip().rstrip("/")
    try:
        return resolve(text if text.startswith("gs://") else f"gs://{text}").url
    except DestinationError as exc:
        raise RegistrationError(str(exc)) from None


# --- SQL text --------------------------------------------------------------------------------


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


def _labels(fingerprint: str | None) -> list[tuple[str, str]]:
    if fingerprint is None:
        return []
    return [("labels", f"[({sql_string(FINGERPRINT_LABEL)}, {sql_string(fingerprint)})]")]


def external_table_sql(table: Table, *, dataset: str, lake_root: str, project: str | None, fingerprint: str | None = None) -> str:
    prefix = f"{lake_root}/{layout.lake_partition_prefix(table.name).rstrip('/')}"
    columns = []
    for col in table.physical_columns:
        not_null = "" if col.nullable else " NOT NULL"
        columns.append(f"  {col.name} {col.kind.bigquery}{not_null} OPTIONS(description = {sql_string(col.description)})")
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
        *_labels(fingerprint),
    ]
    return (
        f"CREATE OR REPLACE EXTERNAL TABLE {qualified(external_table_name(table.name), dataset, project)} (\n"
        + ",\n".join(columns)
        + "\n)\nWITH PARTITION COLUMNS (run_id STRING)\n"
        + _options(options)
        + ";\n"
    )


def view_sql(table: Table, *, dataset: str, project: str | None, fingerprint: str | None = None) -> str:
    source = qualified(external_table_name(table.name), dataset, project)
    runs = qualified(external_table_name("runs"), dataset, project)
    columns = ",\n".join(f"  t.{name}" for name in (*table.column_names, "run_id"))
    if table.name == "runs":
        # A runs row is the commit itself: every row is a committed run.
        where = ""
        description = f"{table.description} Contract version {table.version}."
    else:
        where = f"\nWHERE t.run_id IN (SELECT r.run_id FROM {runs} AS r)"
        description = f"{table.description} Committed runs only. Contract version {table.version}."
    options = [("description", sql_string(description)), *_labels(fingerprint)]
    return (
        f"CREATE OR REPLACE VIEW {qualified(view_name(table.name), dataset, project)}\n"
        + _options(options)
        + f"\nAS\nSELECT\n{columns}\nFROM {source} AS t{where};\n"
    )


@dataclass(frozen=True)
class Statement:
    """One DDL statement of the catalog and the object it creates."""

    kind: Literal["external_table", "view"]
    table: str  # the lake table it derives from
    name: str  # object name in the dataset
    sql: str
    fingerprint: str | None = None


def _fingerprint(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


def statements(
    *, dataset: str = DATASET, lake_root: str = f"gs://{BUCKET_PLACEHOLDER}", project: str | None = None, fingerprints: bool = False
) -> list[Statement]:
    """External tables first (views read them), then views; each in TABLES order."""
    out: list[Statement] = []
    for kind, build, name in (
        ("external_table", lambda t, fp: external_table_sql(t, dataset=dataset, lake_root=lake_root, project=project, fingerprint=fp), external_table_name),
        ("view", lambda t, fp: view_sql(t, dataset=dataset, project=project, fingerprint=fp), view_name),
    ):
        for table in TABLES.values():
            plain = build(table, None)
            if fingerprints:
                fp = _fingerprint(plain)
                out.append(Statement(kind, table.name, name(table.name), build(table, fp), fp))
            else:
                out.append(Statement(kind, table.name, name(table.name), plain))
    return out


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
    for stmt in statements():
        table = TABLES[stmt.table]
        if stmt.kind == "external_table":
            head = _DDL_HEADER.format(table=table.name, version=table.version, dataset=DATASET)
            files[f"ddl/{table.name}.sql"] = head + stmt.sql
        else:
            what = (
                "The runs of the lake: a run is committed once its runs row exists."
                if table.name == "runs"
                else f"{table.name} of committed runs only (run_id present in {external_table_name('runs')}); analysts query this view."
            )
            head = _VIEW_HEADER.format(table=table.name, version=table.version, what=what)
            files[f"views/{table.name}.sql"] = head + stmt.sql
    return files


def write_generated_files(sql_dir: Path) -> list[str]:
    """Write the generated files under sql_dir; return the relative paths whose content changed."""
    changed = []
    for rel, text in generated_files().items():
        path = Path(sql_dir) / rel
        if path.exists() and path.read_text() == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        changed.append(rel)
    return changed


def drifted_files(sql_dir: Path) -> list[str]:
    """Relative paths whose checked-in text differs from what schemas/ generates (or that are missing)."""
    out = []
    for rel, text in generated_files().items():
        path = Path(sql_dir) / rel
        if not path.exists() or path.read_text() != text:
            out.append(rel)
    for sub in ("ddl", "views"):
        for path in sorted((Path(sql_dir) / sub).glob("*.sql")):
            if f"{sub}/{path.name}" not in generated_files():
                out.append(f"{sub}/{path.name}")
    return out


# --- registration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    object: str  # e.g. "dataset my-proj.execution", "external table execution.lake_fills"
    action: Literal["created", "replaced", "unchanged"]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.object}: {self.action}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class RegisterReport:
    project: str
    dataset: str
    location: str
    changes: list[Change]

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)


def dataset_sql(project: str | None, dataset: str, location: str | None) -> str:
    """The dataset creation, as the DDL equivalent of the API call (shown by --dry-run)."""
    opts = f"\nOPTIONS (location = {sql_string(location)})" if location else ""
    target = f"`{check_project(project)}.{check_dataset(dataset)}`" if project else check_dataset(dataset)
    return f"CREATE SCHEMA IF NOT EXISTS {target}{opts};\n"


def make_client(project: str, location: str | None = None):
    """A BigQuery client with Application Default Credentials (imported lazily: optional extra)."""
    try:
        from google.cloud import bigquery
    except ImportError as exc:  # pragma: no cover - the bigquery extra is part of `all`
        raise RegistrationError("google-cloud-bigquery is not installed: pip install 'execution-lake[bigquery]'") from exc
    try:
        return bigquery.Client(project=check_project(project), location=location)
    except Exception as exc:  # DefaultCredentialsError and friends: say what to do
        raise RegistrationError(f"cannot create a BigQuery client for project {project!r}: {exc}") from exc


def register(
    client,
    *,
    bucket: str,
    dataset: str = DATASET,
    location: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> RegisterReport:
    """Create the dataset if absent, then each external table and view whose fingerprint differs.

    `client` is a google.cloud.bigquery.Client; its project is the target.
    Returns what changed; a second call with the same arguments changes nothing.
    """
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    project = check_project(client.project)
    dataset = check_dataset(dataset)
    if location is not None:
        location = check_location(location)
    lake_root = lake_root_from_bucket(bucket)
    say = echo or (lambda _msg: None)
    changes: list[Change] = []

    ds_ref = bigquery.DatasetReference(project, dataset)
    ds_label = f"dataset {project}.{dataset}"
    try:
        ds = client.get_dataset(ds_ref)
    except gexc.NotFound:
        if location is None:
            raise RegistrationError(
                f"{ds_label} does not exist; pass --location (the location of bucket {lake_root}, e.g. US or europe-west1)"
            ) from None
        new = bigquery.Dataset(ds_ref)
        new.location = location
        new.description = "execution-lake: backtest runs of the execution store (external tables lake_*, views over committed runs)."
        try:
            ds = client.create_dataset(new)
        except gexc.GoogleAPICallError as exc:
            raise RegistrationError(f"cannot create {ds_label} in {location}: {exc}") from exc
        change = Change(ds_label, "created", f"location {ds.location or location}")
    except gexc.GoogleAPICallError as exc:
        raise RegistrationError(f"cannot read {ds_label}: {exc}") from exc
    else:
        if location is not None and (ds.location or "").lower() != location.lower():
            raise RegistrationError(
                f"{ds_label} exists in location {ds.location}, not {location}; a dataset cannot move (drop --location or pick another dataset)"
            )
        change = Change(ds_label, "unchanged", f"location {ds.location}")
    changes.append(change)
    say(str(change))
    location = ds.location or location

    for stmt in statements(dataset=dataset, lake_root=lake_root, project=project, fingerprints=True):
        what = f"{'external table' if stmt.kind == 'external_table' else 'view'} {dataset}.{stmt.name}"
        ref = ds_ref.table(stmt.name)
        try:
            existing = client.get_table(ref)
        except gexc.NotFound:
            action = "created"
        except gexc.GoogleAPICallError as exc:
            raise RegistrationError(f"cannot read {what}: {exc}") from exc
        else:
            wanted_type = "EXTERNAL" if stmt.kind == "external_table" else "VIEW"
            if (existing.labels or {}).get(FINGERPRINT_LABEL) == stmt.fingerprint and existing.table_type == wanted_type:
                change = Change(what, "unchanged")
                changes.append(change)
                say(str(change))
                continue
            action = "replaced"
        try:
            client.query(stmt.sql, location=location, job_id_prefix="lake_register_").result()
        except gexc.GoogleAPICallError as exc:
            raise RegistrationError(f"BigQuery rejected the statement for {what}: {exc}\n{stmt.sql}") from exc
        change = Change(what, action)
        changes.append(change)
        say(str(change))
    return RegisterReport(project, dataset, location or "", changes)
