"""write_run: validate a run, encode it once, and commit it to a store.

The commit protocol (see README, "How a run is committed"):
  1. claim   backtest_results/{run_id}/_manifest.json: sizes and CRC32C of every
             object; an existing manifest that lists other bytes is a conflict
  2. data    table files (spec file and lake partition share one encoding),
             config and log, in parallel
  3. summary backtest_results/{run_id}/summary.json
  4. commit  lake/runs/run_id={run_id}/part-00000.parquet, the runs row
Every put is create-only and atomic, so a crash leaves no committed partial run
and the next write of the same run finishes it, keeping identical objects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import pyarrow as pa

from lake import layout
from lake.checksum import crc32c_b64
from lake.encode import (
    JSON_CONTENT_TYPE,
    PARQUET_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    json_bytes,
    parquet_bytes,
    redact,
    scrub,
    to_jsonable,
)
from lake.errors import ConflictError, LakeError, ValidationError
from lake.run import Run
from lake.runs_row import build_runs_row
from lake.stores import ObjectExistsError, ObjectNotFoundError, PutOutcome, Store, open_store
from lake.validate import conform_run, submit_checks
from lake.version import __version__
from schemas import RUN_TABLES, RUNS


@dataclass(frozen=True)
class Blob:
    """Bytes encoded once and stored under one or more keys."""

    keys: tuple[str, ...]
    data: bytes
    content_type: str
    rows: int | None = None


@dataclass(frozen=True)
class WrittenObject:
    key: str
    size: int
    rows: int | None
    outcome: PutOutcome


@dataclass
class WriteReport:
    """What write_run did: every object of the run, its size, rows and outcome."""

    run_id: str
    dest: str
    created_at: dt.datetime
    objects: list[WrittenObject] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def created(self) -> list[str]:
        return [o.key for o in self.objects if o.outcome is not PutOutcome.IDENTICAL]

    def __str__(self) -> str:
        lines = [f"run {self.run_id} -> {self.dest} ({len(self.objects)} objects, {self.total_bytes:,} bytes)"]
        for o in self.objects:
            rows = f"{o.rows:>10,} rows" if o.rows is not None else " " * 15
            lines.append(f"  {o.outcome.value:<9} {o.size:>12,} B {rows}  {o.key}")
        return "\n".join(lines)


Progress = Callable[[WrittenObject], None]


def write_run(run: Run, dest, *, overwrite: bool = False, progress: Progress | None = None) -> WriteReport:
    """Validate `run`, then write every object of it to `dest` (a folder or gs://bucket[/prefix]).

    Raises ValidationError (nothing written) when a table breaks the contract,
    ConflictError when the run_id already holds different content and
    overwrite is False.
    """
    if not isinstance(run, Run):
        raise LakeError(f"write_run expects a lake.Run, got {type(run).__name__}")
    store = dest if hasattr(dest, 'put') else open_store(dest)  # TEMP: a refused or unusable destination fails before any work
    tables, summary, blobs, summary_blob = prepare(run)
    return _commit(store, run.run_id, tables, summary, blobs, summary_blob, overwrite, progress)


async def write_run_async(run: Run, dest, *, overwrite: bool = False, progress: Progress | None = None) -> WriteReport:
    """write_run for asyncio code: the work runs in a worker thread, the event loop stays free."""
    return await asyncio.to_thread(write_run, run, dest, overwrite=overwrite, progress=progress)


def prepare(run: Run) -> tuple[dict[str, pa.Table], dict, list[Blob], Blob]:
    """Validate the run and encode every object but the runs row, or raise before anything is written.

    Each table's Parquet encoding runs beside its Pandera checks (both release
    the GIL); if any check fails the encoded bytes are simply dropped.
    """
    summary, extra_blobs, summary_blob = encode_documents(run)
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
        blobs = [
            Blob(
                (layout.spec_table_key(run.run_id, n), layout.lake_key(run.run_id, n)),
                encoded[n].result(),
                PARQUET_CONTENT_TYPE,
                tables[n].num_rows,
            )
            for n in RUN_TABLES
        ]
    return tables, summary, blobs + extra_blobs, summary_blob


def encode_documents(run: Run) -> tuple[dict, list[Blob], Blob]:
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


def manifest_entries(blobs: Sequence[Blob]) -> dict[str, dict]:
    entries = {}
    for blob in blobs:
        entry = {"size": len(blob.data), "crc32c": crc32c_b64(blob.data), "rows": blob.rows}
        entries.update(dict.fromkeys(blob.keys, entry))
    return entries


def _commit(store: Store, run_id, tables, summary, blobs, summary_blob, overwrite, progress) -> WriteReport:
    entries = manifest_entries([*blobs, summary_blob])
    created_at, replacing = _claim(store, run_id, entries, overwrite)
    report = WriteReport(run_id, store.url, created_at)

    def put_all(phase: list[Blob]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, store.max_concurrency)) as pool:
            for blob, outcomes in zip(phase, pool.map(lambda b: _put(store, run_id, b, overwrite), phase)):
                for key, outcome in zip(blob.keys, outcomes):
                    written = WrittenObject(key, len(blob.data), blob.rows, outcome)
                    report.objects.append(written)
                    if progress:
                        progress(written)

    put_all(blobs)
    if replacing:
        _delete_stale(store, run_id, entries)
    put_all([summary_blob])
    runs = build_runs_row(summary, tables, created_at)
    commit = Blob((layout.commit_key(run_id),), parquet_bytes(runs, RUNS, run_id), PARQUET_CONTENT_TYPE, 1)
    put_all([commit])
    return report


def _put(store: Store, run_id: str, blob: Blob, overwrite: bool) -> list[PutOutcome]:
    try:
        return store.put(blob.keys, blob.data, blob.content_type, overwrite=overwrite)
    except ObjectExistsError as exc:
        raise ConflictError(run_id, exc.key) from None


def _claim(store: Store, run_id: str, entries: dict, overwrite: bool) -> tuple[dt.datetime, bool]:
    """Write or match the run's manifest. Returns (created_at, replacing an earlier run)."""
    key = layout.manifest_key(run_id)
    for _ in range(3):
        existing = _read_manifest(store, key)
        if existing is None:
            created_at = dt.datetime.now(dt.timezone.utc)
            try:
                store.put([key], _manifest_bytes(run_id, created_at, entries), JSON_CONTENT_TYPE)
                return created_at, False
            except ObjectExistsError:
                continue  # another writer claimed the run a moment ago: compare with its manifest
        if existing.get("objects") == entries:
            return dt.datetime.fromisoformat(existing["created_at"]), False
        if not overwrite:
            raise ConflictError(run_id, key, _difference(existing.get("objects") or {}, entries))
        # Uncommit first, so readers never see the old runs row over new data.
        store.delete(layout.commit_key(run_id))
        created_at = dt.datetime.now(dt.timezone.utc)
        store.put([key], _manifest_bytes(run_id, created_at, entries), JSON_CONTENT_TYPE, overwrite=True)
        return created_at, True
    raise ConflictError(run_id, key, "the manifest keeps changing under concurrent writers")


def _read_manifest(store: Store, key: str) -> dict | None:
    try:
        data = store.get(key)
    except ObjectNotFoundError:
        return None
    try:
        manifest = json.loads(data)
        dt.datetime.fromisoformat(manifest["created_at"])
        return manifest
    except (ValueError, KeyError, TypeError):
        return {"objects": None}  # unreadable: differs from anything we would write


def _manifest_bytes(run_id: str, created_at: dt.datetime, entries: dict) -> bytes:
    manifest = {"run_id": run_id, "created_at": created_at, "writer_version": __version__, "objects": entries}
    return json_bytes(manifest, "manifest")


def _difference(old: dict, new: dict) -> str:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    return f"differs in {shown}" if changed else "manifest unreadable"


def _delete_stale(store: Store, run_id: str, entries: dict) -> None:
    """After an overwrite, drop optional objects the new run does not have (config, log)."""
    for key in (layout.config_key(run_id), layout.log_key(run_id)):
        if key not in entries:
            store.delete(key)
