"""BigQuery registration: the catalog's DDL (lake.catalog.ddl) sent through the API, only where it differs.

`register` creates the dataset if absent, then the external tables and views.
Each statement carries a fingerprint label (a hash of its unlabelled text); an
object whose label matches is left alone, so a second call changes nothing.
With a connection the external tables are BigLake tables whose file lists are
cached; `refresh` refreshes those caches, data tables first and lake_runs last,
so that no reader ever sees a run whose files its data tables' caches lack.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

from lake.catalog import ddl
from lake.catalog.ddl import BUCKET_PLACEHOLDER, DATASET, BigLake, external_table_name, view_name
from lake.errors import DestinationError, LakeError
from lake.run import check_run_id
from schemas import TABLES

FINGERPRINT_LABEL = "execution_lake_ddl"


class RegistrationError(LakeError):
    """A BigQuery call of `lake register` failed, or its arguments cannot be used."""


class RefreshError(LakeError):
    """`lake refresh` cannot refresh a metadata cache (or may not: a table is not a BigLake table)."""


# The refresh order: every data table before lake_runs. A run becomes visible to readers through its
# runs row; refreshed last, lake_runs never names a file the data tables' caches do not have yet.
REFRESH_ORDER = tuple(external_table_name(t) for t in TABLES if t != "runs") + (external_table_name("runs"),)
RUNS_PER_REFRESH = 500  # subdirectories per CALL when refreshing chosen runs
RETRY_DELAYS = (2.0, 8.0, 30.0)  # seconds before retrying a failed refresh (only one of concurrent refreshes succeeds)


def lake_root_from_bucket(bucket: str) -> str:
    """'bucket', 'gs://bucket' or 'gs://bucket/prefix' -> 'gs://bucket[/prefix]', resolved as every destination is."""
    from lake.stores import resolve

    text = bucket.strip()
    try:
        return resolve(text if text.startswith("gs://") else f"gs://{text}").url
    except DestinationError as exc:
        raise RegistrationError(str(exc)) from None


@dataclass(frozen=True)
class Statement:
    """One DDL statement that registration sends, and the object it creates."""

    kind: Literal["external_table", "view"]
    table: str  # the lake table it derives from
    name: str  # object name in the dataset
    sql: str
    fingerprint: str


def _fingerprint(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


def statements(
    *,
    dataset: str = DATASET,
    lake_root: str = f"gs://{BUCKET_PLACEHOLDER}",
    project: str | None = None,
    biglake: BigLake | None = None,
) -> list[Statement]:
    """What register sends, in order: external tables first (views read them), then views; each in TABLES order.
    With `biglake` the external tables are BigLake tables with a manually refreshed metadata cache."""

    def table_sql(t, labels):
        return ddl.external_table_sql(t, dataset=dataset, lake_root=lake_root, project=project, labels=labels, biglake=biglake)

    builders = (
        ("external_table", external_table_name, table_sql),
        ("view", view_name, lambda t, labels: ddl.view_sql(t, dataset=dataset, project=project, labels=labels)),
    )
    out: list[Statement] = []
    for kind, name, build in builders:
        for table in TABLES.values():
            fp = _fingerprint(build(table, None))
            out.append(Statement(kind, table.name, name(table.name), build(table, {FINGERPRINT_LABEL: fp}), fp))
    return out


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
    refreshed: list[str] = field(default_factory=list)  # BigLake tables whose caches were refreshed, in order

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)


def make_client(project: str, location: str | None = None):
    """A BigQuery client with Application Default Credentials (imported lazily: optional extra)."""
    try:
        from google.cloud import bigquery
    except ImportError as exc:  # pragma: no cover - the bigquery extra is part of `all`
        raise RegistrationError("google-cloud-bigquery is not installed: pip install 'execution-lake[bigquery]'") from exc
    try:
        return bigquery.Client(project=_argument(ddl.check_project, project), location=location)
    except Exception as exc:  # DefaultCredentialsError and friends: say what to do
        raise RegistrationError(f"cannot create a BigQuery client for project {project!r}: {exc}") from exc


def _argument(check: Callable[[str], str], value: str) -> str:
    """A name checked for SQL text; a bad one is a registration error, raised before any call."""
    try:
        return check(value)
    except ddl.CatalogNameError as exc:
        raise RegistrationError(str(exc)) from None


def biglake_form(connection: str | None, max_staleness: str | None = None) -> BigLake | None:
    """The BigLake form for --connection (and --max-staleness, e.g. '4h'); None without a connection."""
    if connection is None:
        if max_staleness is not None:
            raise RegistrationError("--max-staleness needs --connection: only BigLake tables cache their file lists")
        return None
    try:
        minutes = ddl.staleness_minutes(max_staleness) if max_staleness is not None else ddl.DEFAULT_STALENESS_MINUTES
        return BigLake(ddl.check_connection(connection), minutes)
    except ddl.CatalogNameError as exc:
        raise RegistrationError(str(exc)) from None


def register(
    client,
    *,
    bucket: str,
    dataset: str = DATASET,
    location: str | None = None,
    echo: Callable[[str], None] | None = None,
    biglake: BigLake | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS,
) -> RegisterReport:
    """Create the dataset if absent, then each external table and view whose fingerprint differs.

    `client` is a google.cloud.bigquery.Client; its project is the target.
    Returns what changed; a second call with the same arguments changes nothing.
    With `biglake` the external tables are BigLake tables over its connection (which must be in
    the dataset's location); when one of them is created or replaced, every cache is refreshed
    afterwards, in the safe order (a new table's cache is empty).
    """
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    project = _argument(ddl.check_project, client.project)
    dataset = _argument(ddl.check_dataset, dataset)
    if location is not None:
        location = _argument(ddl.check_location, location)
    lake_root = lake_root_from_bucket(bucket)
    if biglake is not None and location is not None:
        _same_location(biglake, location, f"dataset {project}.{dataset}")
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
    if biglake is not None and ds.location:
        _same_location(biglake, ds.location, ds_label)
    changes.append(change)
    say(str(change))
    location = ds.location or location

    for stmt in statements(dataset=dataset, lake_root=lake_root, project=project, biglake=biglake):
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
    report = RegisterReport(project, dataset, location or "", changes)
    if biglake is not None and any(c.action != "unchanged" and c.object.startswith("external table") for c in changes):
        refreshed = refresh(client, dataset=dataset, echo=echo, retry_delays=retry_delays)
        report.refreshed = refreshed.tables
    return report


def _same_location(biglake: BigLake, location: str, where: str) -> None:
    """A BigLake table's connection must be in its dataset's location (BigQuery refuses it otherwise)."""
    if ddl.connection_location(biglake.connection).lower() != location.lower():
        raise RegistrationError(
            f"connection {biglake.connection} is in location {ddl.connection_location(biglake.connection)}, "
            f"{where} in {location}: use a connection of the dataset's location"
        )


# --- metadata caches of BigLake tables ----------------------------------------------------------


@dataclass
class RefreshReport:
    project: str
    dataset: str
    tables: list[str]  # refreshed, in order
    run_ids: list[str] | None  # None: every file of each table


def refresh_sql(table: str, dataset: str, project: str, subdirectories: Sequence[str] = ()) -> str:
    """The CALL that refreshes one BigLake table's metadata cache (only under `subdirectories` when given)."""
    name = ddl.sql_string(f"{ddl.check_project(project)}.{ddl.check_dataset(dataset)}.{table}")
    if not subdirectories:
        return f"CALL BQ.REFRESH_EXTERNAL_METADATA_CACHE({name});"
    uris = ", ".join(ddl.sql_string(u) for u in subdirectories)
    return f"CALL BQ.REFRESH_EXTERNAL_METADATA_CACHE({name}, [{uris}]);"


def run_subdirectories(table_prefix: str, run_ids: Sequence[str]) -> list[str]:
    """The folders of chosen runs under a table's Hive prefix: gs://.../lake/fills/run_id=X/*"""
    return [f"{table_prefix.rstrip('/')}/run_id={check_run_id(r)}/*" for r in run_ids]


def refresh_statements(
    *, project: str, dataset: str = DATASET, prefixes: dict[str, str] | None = None, run_ids: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """(table, CALL) in the refresh order; with run_ids, only those runs' folders (`prefixes`: table -> Hive prefix)."""
    out = []
    run_ids = None if run_ids is None else sorted(set(run_ids))
    for table in REFRESH_ORDER:
        if run_ids is None:
            out.append((table, refresh_sql(table, dataset, project)))
            continue
        folders = run_subdirectories((prefixes or {})[table], run_ids)
        for i in range(0, len(folders), RUNS_PER_REFRESH):
            out.append((table, refresh_sql(table, dataset, project, folders[i : i + RUNS_PER_REFRESH])))
    return out


def refresh(
    client,
    *,
    dataset: str = DATASET,
    run_ids: Sequence[str] | None = None,
    echo: Callable[[str], None] | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS,
) -> RefreshReport:
    """Refresh the metadata caches of the lake's BigLake tables: data tables first, lake_runs last.

    With `run_ids`, only those runs' folders (the backend, right after writing them). Every table is
    looked up first: if one is not a BigLake table with a manually refreshed cache, nothing is
    refreshed. A failed refresh is retried after each of `retry_delays` (BigQuery lets only one of
    concurrent refreshes of a table succeed); if it still fails, the tables after it (lake_runs
    among them) are left as they were, which readers see as "the new runs are not there yet".
    """
    from google.api_core import exceptions as gexc

    project = _refresh_argument(ddl.check_project, client.project)
    dataset = _refresh_argument(ddl.check_dataset, dataset)
    if run_ids is not None:
        try:
            run_ids = sorted(set(check_run_id(r) for r in run_ids))
        except LakeError as exc:
            raise RefreshError(str(exc)) from None
        if not run_ids:
            raise RefreshError("no run to refresh")
    say = echo or (lambda _msg: None)
    try:
        ds = client.get_dataset(f"{project}.{dataset}")
    except gexc.NotFound:
        raise RefreshError(f"dataset {project}.{dataset} does not exist: run `lake register` first") from None
    except gexc.GoogleAPICallError as exc:
        raise RefreshError(f"cannot read dataset {project}.{dataset}: {exc}") from exc

    prefixes, refusals = {}, []
    for table in REFRESH_ORDER:
        try:
            found = client.get_table(f"{project}.{dataset}.{table}")
        except gexc.NotFound:
            refusals.append(f"{dataset}.{table} does not exist")
            continue
        except gexc.GoogleAPICallError as exc:
            raise RefreshError(f"cannot read {dataset}.{table}: {exc}") from exc
        external = found.to_api_repr().get("externalDataConfiguration") or {}
        if external.get("metadataCacheMode") != "MANUAL":
            refusals.append(f"{dataset}.{table} is not a BigLake table with a manually refreshed metadata cache")
            continue
        prefixes[table] = (external.get("hivePartitioningOptions") or {}).get("sourceUriPrefix", "")
        if run_ids is not None and not prefixes[table].startswith("gs://"):
            refusals.append(f"{dataset}.{table} has no gs:// Hive partitioning prefix to find the runs' folders under")
    if refusals:
        raise RefreshError(
            "nothing refreshed: " + "; ".join(refusals)
            + " (register BigLake tables with `lake register --connection PROJECT.LOCATION.CONNECTION`)"
        )

    done: list[str] = []
    for table, sql in refresh_statements(project=project, dataset=dataset, prefixes=prefixes, run_ids=run_ids):
        _refresh_one(client, table, sql, ds.location, retry_delays, done)
        if not done or done[-1] != table:
            done.append(table)
            say(f"metadata cache of {dataset}.{table}: refreshed" + (f" ({len(run_ids)} run(s))" if run_ids else ""))
    return RefreshReport(project, dataset, done, run_ids)


def _refresh_one(client, table: str, sql: str, location: str | None, retry_delays: Sequence[float], done: list[str]) -> None:
    from google.api_core import exceptions as gexc

    for attempt in range(len(retry_delays) + 1):
        try:
            client.query(sql, location=location, job_id_prefix="lake_refresh_").result()
            return
        except (gexc.NotFound, gexc.Forbidden, gexc.Unauthorized) as exc:
            error: Exception = exc
            break  # retrying changes nothing
        except gexc.GoogleAPIError as exc:
            error = exc
            if attempt < len(retry_delays):
                time.sleep(retry_delays[attempt])
    before = ", ".join(done) if done else "none"
    raise RefreshError(
        f"refreshing the metadata cache of {table} failed: {error}. Refreshed before it: {before}; "
        f"{REFRESH_ORDER[-1]} is refreshed last, so readers see no run without its data. Run `lake refresh` again."
    ) from error


def _refresh_argument(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except ddl.CatalogNameError as exc:
        raise RefreshError(str(exc)) from None
