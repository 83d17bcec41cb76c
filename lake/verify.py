"""Verify a destination: every committed run complete and valid, partial runs listed.

This is what `lake validate` runs, and what a CI job calls to check a store.
It reads through the Store protocol, so it works on any store.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.checksum import crc32c_b64
from lake.errors import DestinationError, Failure
from lake.run import check_run_id
from lake.stores import ObjectNotFoundError, Store, open_store, resolve
from lake.write.checks import pandera_failures, reference_failures
from schemas import RUN_TABLES, TABLES, Table

_ROOTS = (layout.SPEC_ROOT, "config", "logs", layout.LAKE_ROOT)


@dataclass
class RunCheck:
    run_id: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class DestinationReport:
    dest: str
    runs: list[RunCheck] = field(default_factory=list)
    uncommitted: dict[str, list[str]] = field(default_factory=dict)  # run_id -> keys present
    leftover_temp_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    def __str__(self) -> str:
        good = sum(r.ok for r in self.runs)
        lines = [f"{self.dest}: {len(self.runs)} committed run(s), {good} valid, {len(self.runs) - good} invalid"]
        for r in self.runs:
            lines.append(f"  {'ok ' if r.ok else 'BAD'} {r.run_id}")
            lines += [f"        - {p}" for p in r.problems]
        if self.uncommitted:
            lines.append(f"  {len(self.uncommitted)} uncommitted partial run(s) (no runs row; invisible to readers; "
                         "writing the run again finishes it):")
            lines += [f"    {run_id}: {len(keys)} object(s)" for run_id, keys in sorted(self.uncommitted.items())]
        if self.leftover_temp_files:
            lines.append(f"  {len(self.leftover_temp_files)} temp file(s) left by interrupted writers in .tmp/")
        return "\n".join(lines)


def keys_by_run(store: Store) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for root in _ROOTS:
        for key in store.list(root + "/"):
            run_id = layout.run_id_from_key(key)
            if run_id is not None:
                found[run_id].append(key)
    return found


def verify_destination(dest, run_id: str | None = None, progress: Callable[[str], None] | None = None) -> DestinationReport:
    where = resolve(dest)
    if not where.is_gcs and not where.path.is_dir():  # a typo must not read as "0 runs, all valid"
        raise DestinationError(f"no lake at {where.url!r}: not a folder")
    store = open_store(where)
    report = DestinationReport(store.url)
    found = keys_by_run(store)
    if run_id is not None:
        run_id = check_run_id(run_id)
        found = {run_id: found.get(run_id, [])}
    committed = sorted(r for r, keys in found.items() if layout.commit_key(r) in keys)
    for rid, keys in sorted(found.items()):
        if rid in committed:
            continue
        if keys:
            report.uncommitted[rid] = sorted(keys)
        elif run_id is not None:
            report.runs.append(RunCheck(rid, [f"no run {rid!r} in this destination"]))
    # Runs are independent: read them as concurrently as the store allows (remote stores gain most).
    with ThreadPoolExecutor(max_workers=max(1, min(store.max_concurrency, 4))) as pool:
        for check in pool.map(lambda rid: verify_run(store, rid, set(found[rid])), committed):
            report.runs.append(check)
            if progress:
                progress(check.run_id)
    if hasattr(store, "leftover_temp_files"):
        report.leftover_temp_files = store.leftover_temp_files()
    return report


def verify_run(store: Store, run_id: str, keys: set[str]) -> RunCheck:
    check = RunCheck(run_id)
    required = [layout.manifest_key(run_id), layout.summary_key(run_id)]
    required += [layout.spec_table_key(run_id, t) for t in RUN_TABLES]
    required += [layout.lake_key(run_id, t) for t in TABLES]
    check.problems += [f"missing {k}" for k in required if k not in keys]

    manifest = _manifest(store, run_id, check)
    expected = (manifest or {}).get("objects") or {}
    for key in sorted(set(expected) - keys):
        check.problems.append(f"missing {key} (listed in the manifest)")

    tables: dict[str, pa.Table] = {}
    checked: dict[bytes, pa.Table | None] = {}  # a spec file and its lake partition are usually the same bytes
    for key in sorted(keys):
        if key == layout.manifest_key(run_id):
            continue
        try:
            data = store.get(key)
        except ObjectNotFoundError:
            check.problems.append(f"missing {key}")
            continue
        entry = expected.get(key)
        if entry and (entry["size"] != len(data) or entry["crc32c"] != crc32c_b64(data)):
            check.problems.append(f"{key}: bytes differ from the manifest (size or CRC32C)")
        table = _table_of(run_id, key)
        if table is not None:
            if data not in checked:
                checked[data] = _check_parquet(run_id, key, table, data, check)
            parsed = checked[data]
            if parsed is not None and key.startswith(layout.LAKE_ROOT + "/"):
                tables[table.name] = parsed
        elif key == layout.summary_key(run_id):
            _check_json(key, data, check)
    if len(tables) == len(TABLES):
        check.problems += [str(f) for f in reference_failures(tables)]
    return check


def _manifest(store: Store, run_id: str, check: RunCheck) -> dict | None:
    try:
        return json.loads(store.get(layout.manifest_key(run_id)))
    except ObjectNotFoundError:
        return None
    except ValueError as exc:
        check.problems.append(f"{layout.manifest_key(run_id)}: not valid JSON ({exc})")
        return None


def _table_of(run_id: str, key: str) -> Table | None:
    for name, table in TABLES.items():
        if key == layout.lake_key(run_id, name) or (name in RUN_TABLES and key == layout.spec_table_key(run_id, name)):
            return table
    return None


def _check_parquet(run_id: str, key: str, table: Table, data: bytes, check: RunCheck) -> pa.Table | None:
    try:
        parsed = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        check.problems.append(f"{key}: not readable as Parquet ({exc})")
        return None
    if not parsed.schema.equals(table.arrow_schema, check_metadata=False):
        diff = _schema_difference(parsed.schema, table.arrow_schema)
        check.problems.append(f"{key}: schema differs from the {table.name} contract: {diff}")
        return None
    meta = parsed.schema.metadata or {}
    if meta.get(b"run_id") != run_id.encode():
        check.problems.append(f"{key}: metadata run_id is {meta.get(b'run_id')!r}, expected {run_id!r}")
    if meta.get(b"schema_version") != str(table.version).encode():
        check.problems.append(
            f"{key}: metadata schema_version is {meta.get(b'schema_version')!r}, contract is {table.version}"
        )
    failures: list[Failure] = pandera_failures(table, parsed)
    check.problems += [f"{key}: {f}" for f in failures]
    return parsed


def _schema_difference(actual: pa.Schema, expected: pa.Schema) -> str:
    diffs = []
    for f in expected:
        if f.name not in actual.names:
            diffs.append(f"missing {f.name}")
        elif not actual.field(f.name).equals(f, check_metadata=False):
            got = actual.field(f.name)
            diffs.append(f"{f.name} is {got.type}{'' if got.nullable else ' not null'}, expected {f.type}{'' if f.nullable else ' not null'}")
    diffs += [f"extra {n}" for n in actual.names if n not in expected.names]
    if not diffs and actual.names != expected.names:
        diffs.append("column order differs")
    return "; ".join(diffs)


def _check_json(key: str, data: bytes, check: RunCheck) -> None:
    try:
        json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        check.problems.append(f"{key}: not valid UTF-8 JSON ({exc})")
