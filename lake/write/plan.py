"""plan_run: everything a run will write, built and checked before the first byte.

A Plan holds the encoded bytes of every object of one run and the keys each
goes to: the four tables (the spec file and the lake partition share one
encoding), config and log, summary.json, and the runs row that commits the
run. If anything in the run breaks the contract, plan_run raises and nothing
has been written anywhere.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

from lake import layout
from lake.checksum import crc32c_b64
from lake.errors import Failure, LakeError, SerializationError, ValidationError
from lake.run import Run, RunId
from lake.write.checks import conform_run, submit_checks
from lake.write.encode import JSON_CONTENT_TYPE, PARQUET_CONTENT_TYPE, TEXT_CONTENT_TYPE, json_bytes, parquet_bytes, to_jsonable
from lake.write.redact import redact, scrub
from lake.write.runs_row import build_runs_row
from schemas import RUN_TABLES, RUNS


@dataclass(frozen=True)
class Blob:
    """Bytes encoded once and stored under one or more keys."""

    keys: tuple[str, ...]
    data: bytes
    content_type: str
    rows: int | None = None


@dataclass
class Plan:
    """One run's objects in commit order: data, then summary, then the runs row (the commit).

    `commit_row(created_at)` encodes the runs row for the creation time the
    commit settles on (a rerun keeps the first write's); it was built once at
    plan time, so it cannot fail later. `manifest` is set when the manifest's
    bytes are given (push copies a committed run verbatim); otherwise the
    commit writes one from `entries()`.
    """

    run_id: RunId
    data: list[Blob]
    summary: Blob
    commit_row: Callable[[dt.datetime], Blob]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    manifest: bytes | None = None

    def entries(self) -> dict[str, dict]:
        """The manifest's objects: size, CRC32C and rows of every key but the manifest and the runs row."""
        entries = {}
        for blob in [*self.data, self.summary]:
            entry = {"size": len(blob.data), "crc32c": crc32c_b64(blob.data), "rows": blob.rows}
            entries.update(dict.fromkeys(blob.keys, entry))
        return entries


def plan_run(run: Run) -> Plan:
    """Validate the run and encode every object of it, or raise before anything is written.

    Every problem is collected (summary, config and log as well as the tables)
    and raised together as one ValidationError. Each table's Parquet encoding
    runs beside its Pandera checks (both release the GIL); if any check fails
    the encoded bytes are simply dropped. check_run is this function with the
    error turned into a report, so the two can never disagree.
    """
    if not isinstance(run, Run):
        raise LakeError(f"write_run expects a lake.Run, got {type(run).__name__}")
    failures: list[Failure] = []
    summary, documents, summary_blob = _documents(run, failures)
    tables, table_failures = conform_run(run)
    failures += table_failures
    order = sorted(tables, key=lambda n: -tables[n].num_rows)  # largest first keeps both workers busy
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        encoded = {n: pool.submit(parquet_bytes, tables[n], RUN_TABLES[n], run.run_id) for n in order}
        checks = submit_checks(pool, {n: tables[n] for n in order})
        if summary is not None:
            checks.append(pool.submit(_runs_row_failures, summary, tables))
        for future in checks:
            failures += future.result()
        if failures:
            for future in encoded.values():
                future.cancel()
            raise ValidationError(run.run_id, failures)
        data = [
            Blob(
                (layout.spec_table_key(run.run_id, n), layout.lake_key(run.run_id, n)),
                encoded[n].result(),
                PARQUET_CONTENT_TYPE,
                tables[n].num_rows,
            )
            for n in RUN_TABLES
        ]

    def commit_row(created_at: dt.datetime) -> Blob:
        row = build_runs_row(summary, tables, created_at)
        return Blob((layout.commit_key(run.run_id),), parquet_bytes(row, RUNS, run.run_id), PARQUET_CONTENT_TYPE, 1)

    # No failures: _runs_row_failures has built the runs row from these very tables and summary,
    # so commit_row cannot fail once writing has begun.
    return Plan(run.run_id, data + documents, summary_blob, commit_row, tables)


# What building the runs row raises on a summary field of an unexpected shape (a date that is not
# ISO 8601, a list where a dict is read, a number where a string is stored).
_ROW_ERRORS = (ValueError, TypeError, AttributeError, KeyError, OverflowError, pa.ArrowException)


def _runs_row_failures(summary: dict, tables: dict[str, pa.Table]) -> list[Failure]:
    """Summary fields the runs row cannot be built from, each named.

    Tables that failed stand in as empty ones, so a bad summary is reported in
    the same pass as bad tables. The builder stops at its first error: the key
    whose removal changes that error is its cause; it is recorded and removed,
    and the row is built again until it builds (a handful of tries at most).
    """
    stand_in = {n: tables[n] if n in tables else t.arrow_schema.empty_table() for n, t in RUN_TABLES.items()}
    now = dt.datetime.now(dt.timezone.utc)

    def error(doc: dict) -> str | None:
        try:
            build_runs_row(doc, stand_in, now)
        except _ROW_ERRORS as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    failures = []
    doc = dict(summary)
    while (current := error(doc)) is not None:
        cause = next((k for k in doc if error({i: v for i, v in doc.items() if i != k}) != current), None)
        failures.append(Failure("summary", cause, "runs_row", f"the runs row cannot be built from it ({current})"))
        if cause is None:
            break
        del doc[cause]
    return failures


def _documents(run: Run, failures: list[Failure]) -> tuple[dict | None, list[Blob], Blob | None]:
    """Summary, config and log: secrets redacted from the JSON and scrubbed from the text.

    A document that cannot be written adds Failures (every offending value by
    its JSON path) and comes back as None.
    """
    secrets: set[str] = set()
    summary = _json_document("summary", run.summary, secrets, failures)
    config = _json_document("config", run.config, secrets, failures) if run.config is not None else None
    # A secret that is not valid UTF-8 cannot occur in UTF-8 bytes, and could not be searched for.
    secrets = {s for s in secrets if _utf8(s) is not None}
    blobs = []
    if config is not None:
        blobs.append(Blob((layout.config_key(run.run_id),), scrub(config[1], secrets), JSON_CONTENT_TYPE))
    if run.log is not None:
        log = _log_bytes(run.log, failures)
        if log is not None:
            blobs.append(Blob((layout.log_key(run.run_id),), scrub(log, secrets), TEXT_CONTENT_TYPE))
    if summary is None:
        return None, blobs, None
    summary_blob = Blob((layout.summary_key(run.run_id),), scrub(summary[1], secrets), JSON_CONTENT_TYPE)
    return summary[0], blobs, summary_blob


def _json_document(name: str, value, secrets: set[str], failures: list[Failure]):
    """(plain JSON value, encoded bytes) of a redacted document, or None after appending Failures."""
    if not isinstance(value, dict):
        failures.append(Failure(name, None, "type", f"{name} must be a dict, got {type(value).__name__}"))
        return None
    try:
        redacted = redact(value, secrets)
        plain = to_jsonable(redacted, name)
        data = json_bytes(plain, name)
    except SerializationError:
        _unserialisable(name, redacted, name, failures)
        return None
    except RecursionError:  # a document that contains itself, or absurdly deep nesting
        failures.append(Failure(name, None, "json", "nested too deeply (or contains itself)"))
        return None
    except ValueError as exc:  # e.g. a lone surrogate: valid in a Python str, not in UTF-8
        failures.append(Failure(name, None, "json", f"cannot be encoded as UTF-8 JSON ({exc})"))
        return None
    return plain, data


def _unserialisable(name: str, value, path: str, failures: list[Failure]) -> None:
    """A Failure for every value (or key) below `path` that cannot be JSON, found by descending.

    to_jsonable stops at the first bad value; asking it again about each child
    finds all of them without a second copy of its rules.
    """
    try:
        to_jsonable(value, path)
        return
    except SerializationError as exc:
        error = exc
    before = len(failures)
    if isinstance(value, dict):
        for key, item in value.items():
            try:
                to_jsonable({key: None}, path)
            except SerializationError as exc:
                failures.append(_json_failure(name, exc))
                continue
            _unserialisable(name, item, f"{path}.{key}", failures)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        for i, item in enumerate(items):
            _unserialisable(name, item, f"{path}[{i}]", failures)
    if len(failures) == before:
        failures.append(_json_failure(name, error))


def _json_failure(name: str, exc: SerializationError) -> Failure:
    """to_jsonable says '<path>: <problem>'; the path below the document becomes the column."""
    path, _, problem = str(exc).partition(": ")
    column = path[len(name) :].lstrip(".") if path.startswith(name) else path
    return Failure(name, column or None, "json", problem or str(exc))


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _log_bytes(log, failures: list[Failure]) -> bytes | None:
    if isinstance(log, bytes):
        return log
    if isinstance(log, str):
        data = _utf8(log)
        if data is None:
            failures.append(Failure("log", None, "utf8", "log text cannot be encoded as UTF-8 (a lone surrogate?)"))
        return data
    failures.append(Failure("log", None, "type", f"log must be str or bytes, got {type(log).__name__}"))
    return None
