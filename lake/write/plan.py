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
from lake.errors import LakeError, ValidationError
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

    Each table's Parquet encoding runs beside its Pandera checks (both release
    the GIL); if any check fails the encoded bytes are simply dropped.
    """
    if not isinstance(run, Run):
        raise LakeError(f"write_run expects a lake.Run, got {type(run).__name__}")
    summary, documents, summary_blob = _documents(run)
    tables, failures = conform_run(run)
    order = sorted(tables, key=lambda n: -tables[n].num_rows)  # largest first keeps both workers busy
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        encoded = {n: pool.submit(parquet_bytes, tables[n], RUN_TABLES[n], run.run_id) for n in order}
        for future in submit_checks(pool, {n: tables[n] for n in order}):
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

    commit_row(dt.datetime.now(dt.timezone.utc))  # the runs row must build now, before any byte is written
    return Plan(run.run_id, data + documents, summary_blob, commit_row, tables)


def _documents(run: Run) -> tuple[dict, list[Blob], Blob]:
    """Summary, config and log: secrets redacted from the JSON and scrubbed from the text."""
    secrets: set[str] = set()
    config = redact(run.config, secrets) if run.config is not None else None
    summary = to_jsonable(redact(run.summary, secrets), "summary")
    if not isinstance(summary, dict):
        raise LakeError(f"summary must be a dict, got {type(run.summary).__name__}")
    summary_data = scrub(json_bytes(summary, "summary"), secrets)
    blobs = []
    if run.config is not None:
        blobs.append(Blob((layout.config_key(run.run_id),), scrub(json_bytes(config, "config"), secrets), JSON_CONTENT_TYPE))
    if run.log is not None:
        blobs.append(Blob((layout.log_key(run.run_id),), scrub(_log_bytes(run.log), secrets), TEXT_CONTENT_TYPE))
    return summary, blobs, Blob((layout.summary_key(run.run_id),), summary_data, JSON_CONTENT_TYPE)


def _log_bytes(log: str | bytes) -> bytes:
    if isinstance(log, bytes):
        return log
    if isinstance(log, str):
        return log.encode("utf-8")
    raise LakeError(f"log must be str or bytes, got {type(log).__name__}")
