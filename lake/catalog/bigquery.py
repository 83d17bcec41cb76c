"""BigQuery registration: the catalog's DDL (lake.catalog.ddl) sent through the API, only where it differs.

`register` creates the dataset if absent, then the external tables and views.
Each statement carries a fingerprint label (a hash of its unlabelled text); an
object whose label matches is left alone, so a second call changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Literal

from lake.catalog import ddl
from lake.catalog.ddl import BUCKET_PLACEHOLDER, DATASET, external_table_name, view_name
from lake.errors import DestinationError, LakeError
from schemas import TABLES

FINGERPRINT_LABEL = "execution_lake_ddl"


class RegistrationError(LakeError):
    """A BigQuery call of `lake register` failed, or its arguments cannot be used."""


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


def statements(*, dataset: str = DATASET, lake_root: str = f"gs://{BUCKET_PLACEHOLDER}", project: str | None = None) -> list[Statement]:
    """What register sends, in order: external tables first (views read them), then views; each in TABLES order."""
    builders = (
        ("external_table", external_table_name, lambda t, labels: ddl.external_table_sql(t, dataset=dataset, lake_root=lake_root, project=project, labels=labels)),
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

    project = _argument(ddl.check_project, client.project)
    dataset = _argument(ddl.check_dataset, dataset)
    if location is not None:
        location = _argument(ddl.check_location, location)
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

    for stmt in statements(dataset=dataset, lake_root=lake_root, project=project):
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
