"""push: copy the runs of a local lake (or a folder of spec files) to another store, usually gs://.

Committed lake runs are copied byte for byte through the commit Transaction
(manifest first, data, summary, runs row last; create-only), after checking
every local object against its manifest. Runs present only as spec files
(backtest_results/{run_id}/*.parquet + summary.json, config/, logs/) are read
back into a Run and planned like write_run, so they are validated first.
Runs already committed at the destination are skipped; anything that would
replace different bytes there is refused.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from lake import layout
from lake.errors import ConflictError, DestinationError, LakeError, ValidationError
from lake.stores import LocalStore, ObjectExistsError, ObjectNotFoundError, Store, open_store, resolve
from lake.verify import keys_by_run
from lake.write import Blob, Plan, Transaction, write_run_to_store
from lake.write.commit import read_commit
from lake.write.encode import JSON_CONTENT_TYPE, PARQUET_CONTENT_TYPE, TEXT_CONTENT_TYPE
from lake.write.manifest import read_manifest
from lake.write.spec_files import read_spec_run
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


def push(src: str | os.PathLike, dest: "str | os.PathLike", *, progress: Progress | None = None) -> PushReport:
    """Push every run under the local folder src to dest (gs://bucket[/prefix] or a folder)."""
    source = resolve(src)
    if source.is_gcs or not source.path.is_dir():
        raise DestinationError(f"push source {source.url!r} is not a local folder")
    local = LocalStore(source.path)
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
    manifest = read_manifest(manifest_bytes, run_id)
    if not manifest.ok:
        return REFUSED, f"the source's manifest is not usable: {manifest.problems[0]}"
    entries = manifest.objects

    if remote.exists(layout.commit_key(run_id)):
        try:
            same = remote.get(manifest_key) == manifest_bytes
        except ObjectNotFoundError:
            same = False
        return (SKIPPED, "already committed at the destination") if same else (
            REFUSED, "a run with other content is committed at the destination under this run_id")

    missing = sorted(set(entries) - keys)
    summary_key = layout.summary_key(run_id)
    if summary_key not in entries:
        return REFUSED, f"{manifest_key} in the source does not list {summary_key}"
    if missing:
        return REFUSED, f"the source lacks {missing[0]} (listed in its manifest)"
    runs_row = local.get(layout.commit_key(run_id))
    try:
        data_file = read_commit(runs_row).data_file
    except LakeError as exc:
        return REFUSED, f"{layout.commit_key(run_id)} in the source: {exc}"
    named = [layout.lake_key(run_id, t, data_file) for t in RUN_TABLES]
    if not set(named) <= set(entries):  # an overwrite that did not run to its end: the manifest is the old run's
        return REFUSED, f"{manifest_key} in the source does not list the files its runs row names: finish the overwrite first"

    # One put per distinct content: a spec file and its lake partition go up once.
    groups: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for key, entry in sorted(entries.items()):
        groups[(entry["size"], entry["crc32c"], _content_type(key))].append(key)

    # Every source object is checked against the manifest before anything is sent.
    blobs = []
    for (size, crc32c, content_type), group in groups.items():
        data = local.get(group[0])
        blob = Blob(tuple(group), data, content_type, entries[group[0]]["rows"])
        if (len(data), blob.crc32c) != (size, crc32c):
            raise _Refused(f"{group[0]} in the source does not match its manifest (size or CRC32C)")
        blobs.append(blob)
    runs_row = Blob((layout.commit_key(run_id),), runs_row, PARQUET_CONTENT_TYPE, 1)
    plan = Plan(
        run_id,
        data=[b for b in blobs if summary_key not in b.keys],
        summary=next(b for b in blobs if summary_key in b.keys),
        build_row=lambda _created_at, _data_file: runs_row,  # the source's row, byte for byte
        data_file=data_file,
        manifest=manifest_bytes,
    )
    return PUSHED, Transaction(remote).commit(plan).bytes_written


def _push_spec_files(local: Store, remote: Store, run_id: str, keys: set[str]) -> tuple[str, object]:
    """A run saved only as the spec's files: read it back and write it like write_run (validated).

    An unreadable file raises SpecFileError, a ValidationError: the run is refused, naming the file.
    """
    run = read_spec_run(local, run_id, keys)
    written = write_run_to_store(run, remote).bytes_written
    if written == 0:
        return SKIPPED, "already committed at the destination"
    return PUSHED, written


def _content_type(key: str) -> str:
    if key.endswith(".parquet"):
        return PARQUET_CONTENT_TYPE
    if key.endswith(".json"):
        return JSON_CONTENT_TYPE
    return TEXT_CONTENT_TYPE
