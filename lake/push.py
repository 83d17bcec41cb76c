"""push: copy the runs of a local lake (or a folder of spec files) to another store, usually gs://.

Committed lake runs are copied byte for byte with the commit protocol (manifest
first, data, summary, runs row last; create-only), after checking every local
object against its manifest. Runs present only as spec files
(backtest_results/{run_id}/*.parquet + summary.json, config/, logs/) are read
back into a Run and written with write_run, so they are validated first.
Runs already committed at the destination are skipped; anything that would
replace different bytes there is refused.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout
from lake.checksum import crc32c_b64
from lake.encode import JSON_CONTENT_TYPE, PARQUET_CONTENT_TYPE, TEXT_CONTENT_TYPE
from lake.errors import ConflictError, DestinationError, LakeError, ValidationError
from lake.inspect import keys_by_run
from lake.run import Run
from lake.stores import LocalStore, ObjectExistsError, ObjectNotFoundError, PutOutcome, Store, open_store
from schemas import RUN_TABLES

PUSHED, SKIPPED, REFUSED, FAILED = "pushed", "skipped", "refused", "failed"


@dataclass
class PushReport:
    src: str
    dest: str
    pushed: dict[str, int] = field(default_factory=dict)  # run_id -> bytes of the objects created there
    skipped: dict[str, str] = field(default_factory=dict)  # run_id -> why
    refused: dict[str, str] = field(default_factory=dict)  # run_id -> why (the destination holds other bytes, ...)
    failed: dict[str, str] = field(default_factory=dict)  # run_id -> error (network, permissions, ...)

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed

    def __str__(self) -> str:
        written = sum(self.pushed.values())
        lines = [
            f"{self.src} -> {self.dest}: {len(self.pushed)} pushed ({written:,} bytes), {len(self.skipped)} skipped, "
            f"{len(self.refused)} refused, {len(self.failed)} failed"
        ]
        for title, runs in (("skipped", self.skipped), ("refused", self.refused), ("failed", self.failed)):
            lines += [f"  {title} {run_id}: {why}" for run_id, why in sorted(runs.items())]
        return "\n".join(lines)


Progress = Callable[[str, str], None]  # (run_id, outcome)


class _Refused(LakeError):
    """The source run cannot be pushed as it is."""


def push(src: str | os.PathLike, dest: "str | Store", *, progress: Progress | None = None) -> PushReport:
    """Push every run under the local folder src to dest (gs://bucket[/prefix] or a folder)."""
    if not os.path.isdir(src):
        raise DestinationError(f"push source {os.fspath(src)!r} is not a folder")
    local = LocalStore(src)
    remote = open_store(dest)
    report = PushReport(local.url, remote.url)
    for run_id, keys in sorted(keys_by_run(local).items()):
        try:
            outcome, detail = _push_run(local, remote, run_id, set(keys))
        except (ConflictError, ObjectExistsError) as exc:
            outcome, detail = REFUSED, f"the destination holds different bytes ({exc})"
        except ValidationError as exc:
            outcome, detail = REFUSED, str(exc).replace("\n", " ")
        except _Refused as exc:
            outcome, detail = REFUSED, str(exc)
        except LakeError as exc:
            outcome, detail = FAILED, str(exc)
        getattr(report, outcome)[run_id] = detail
        if progress:
            progress(run_id, outcome)
    return report


def _push_run(local: Store, remote: Store, run_id: str, keys: set[str]) -> tuple[str, object]:
    if layout.commit_key(run_id) in keys:
        return _push_committed(local, remote, run_id, keys)
    if layout.manifest_key(run_id) in keys:
        return REFUSED, "not committed in the source (an interrupted write): write it there again first"
    if layout.summary_key(run_id) in keys:
        return _push_spec_files(local, remote, run_id, keys)
    return REFUSED, f"no summary.json and no committed lake run in the source ({len(keys)} stray object(s))"


def _push_committed(local: Store, remote: Store, run_id: str, keys: set[str]) -> tuple[str, object]:
    manifest_key = layout.manifest_key(run_id)
    manifest_bytes = local.get(manifest_key)
    try:
        entries = json.loads(manifest_bytes)["objects"]
    except (ValueError, KeyError, TypeError):
        return REFUSED, f"{manifest_key} in the source is not a readable manifest"

    if remote.exists(layout.commit_key(run_id)):
        try:
            same = remote.get(manifest_key) == manifest_bytes
        except ObjectNotFoundError:
            same = False
        return (SKIPPED, "already committed at the destination") if same else (
            REFUSED, "a run with other content is committed at the destination under this run_id")

    missing = sorted(set(entries) - keys)
    if missing:
        return REFUSED, f"the source lacks {missing[0]} (listed in its manifest)"

    # One put per distinct content: a spec file and its lake partition go up once.
    groups: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for key, entry in sorted(entries.items()):
        groups[(entry["size"], entry["crc32c"], _content_type(key))].append(key)
    summary_key = layout.summary_key(run_id)
    data_groups = [k for k in groups.values() if summary_key not in k]
    summary_groups = [k for k in groups.values() if summary_key in k]

    # Every source object is checked against the manifest before anything is sent.
    contents: dict[str, bytes] = {}
    for group in groups.values():
        data = local.get(group[0])
        entry = entries[group[0]]
        if (len(data), crc32c_b64(data)) != (entry["size"], entry["crc32c"]):
            raise _Refused(f"{group[0]} in the source does not match its manifest (size or CRC32C)")
        contents[group[0]] = data
    runs_row = local.get(layout.commit_key(run_id))

    def put(group: list[str]) -> int:
        data = contents[group[0]]
        return _written(remote.put(group, data, _content_type(group[0])), len(data))

    written = _written(remote.put([manifest_key], manifest_bytes, JSON_CONTENT_TYPE), len(manifest_bytes))
    with ThreadPoolExecutor(max_workers=max(1, remote.max_concurrency)) as pool:
        written += sum(pool.map(put, data_groups))
    written += sum(map(put, summary_groups))
    written += _written(  # the commit, last
        remote.put([layout.commit_key(run_id)], runs_row, PARQUET_CONTENT_TYPE), len(runs_row))
    return PUSHED, written


def _push_spec_files(local: Store, remote: Store, run_id: str, keys: set[str]) -> tuple[str, object]:
    """A run saved only as the spec's files: read it back and write it with write_run (validated)."""
    from lake.writer import write_run

    try:
        summary = json.loads(local.get(layout.summary_key(run_id)))
    except ValueError as exc:
        return REFUSED, f"{layout.summary_key(run_id)} is not valid JSON ({exc})"
    tables = {}
    for name, table in RUN_TABLES.items():
        key = layout.spec_table_key(run_id, name)
        if key in keys:
            try:
                tables[name] = pq.read_table(pa.BufferReader(local.get(key)))
            except (pa.ArrowException, OSError) as exc:
                return REFUSED, f"{key} is not readable as Parquet ({exc})"
        else:
            tables[name] = table.arrow_schema.empty_table()
    config = None
    if layout.config_key(run_id) in keys:
        try:
            config = json.loads(local.get(layout.config_key(run_id)))
        except ValueError as exc:
            return REFUSED, f"{layout.config_key(run_id)} is not valid JSON ({exc})"
    log = local.get(layout.log_key(run_id)) if layout.log_key(run_id) in keys else None
    run = Run(run_id, summary, config=config, log=log, **tables)
    report = write_run(run, remote)
    written = sum(o.size for o in report.objects if o.outcome is not PutOutcome.IDENTICAL)
    if written == 0:
        return SKIPPED, "already committed at the destination"
    return PUSHED, written


def _written(outcomes: list[PutOutcome], size: int) -> int:
    return size * sum(o is not PutOutcome.IDENTICAL for o in outcomes)


def _content_type(key: str) -> str:
    if key.endswith(".parquet"):
        return PARQUET_CONTENT_TYPE
    if key.endswith(".json"):
        return JSON_CONTENT_TYPE
    return TEXT_CONTENT_TYPE
