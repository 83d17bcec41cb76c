"""The commit protocol, as one transaction used by write_run and push alike.

A run is committed by its runs row, lake/runs/run_id={run_id}/part-00000.parquet,
which names the run's lake data files (data_file); readers trust nothing else.
A new run:
  1. claim   backtest_results/{run_id}/_manifest.json: sizes and CRC32C of every
             object; an existing manifest that lists other bytes is a conflict
  2. data    table files (spec file and lake partition share one encoding),
             config and log, in parallel
  3. summary backtest_results/{run_id}/summary.json
  4. commit  the runs row, created only if absent
An overwrite (overwrite=True over a committed run): the new lake files beside the
old ones under the new generation's name, the runs row swapped only if it still
holds what was read (compare-and-swap), then spec files, summary, manifest, and
the old generation's files deleted. Every put is create-only and atomic, so a
crash leaves the old run or the new run committed, never a mix, and the next
write of the same run finishes it, keeping identical objects. See docs/protocol.md.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

from lake import layout
from lake.errors import ConflictError, LakeError
from lake.stores import ObjectChangedError, ObjectExistsError, ObjectNotFoundError, PutOutcome, Store
from lake.stores.retry import after_lost_races
from lake.write.encode import JSON_CONTENT_TYPE, read_parquet_bytes
from lake.write.manifest import Manifest, manifest_bytes, read_manifest
from lake.write.plan import Blob, Plan
from schemas import RUN_TABLES


@dataclass(frozen=True)
class WrittenObject:
    key: str
    size: int
    rows: int | None
    outcome: PutOutcome


@dataclass
class WriteReport:
    """What a commit did: every object of the run, its size, rows and outcome."""

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

    @property
    def bytes_written(self) -> int:
        return sum(o.size for o in self.objects if o.outcome is not PutOutcome.IDENTICAL)

    def __str__(self) -> str:
        lines = [f"run {self.run_id} -> {self.dest} ({len(self.objects)} objects, {self.total_bytes:,} bytes)"]
        for o in self.objects:
            rows = f"{o.rows:>10,} rows" if o.rows is not None else " " * 15
            lines.append(f"  {o.outcome.value:<9} {o.size:>12,} B {rows}  {o.key}")
        return "\n".join(lines)


Progress = Callable[[WrittenObject], None]


class Transaction:
    """Commits planned runs to one store in protocol order.

    overwrite=False: different bytes under a run_id are a ConflictError.
    overwrite=True: a committed run is replaced as one switch of its runs row
    (see _replace); readers never see it missing or mixed.
    """

    def __init__(self, store: Store, *, overwrite: bool = False, progress: Progress | None = None):
        self.store = store
        self.overwrite = overwrite
        self.progress = progress

    def commit(self, plan: Plan) -> WriteReport:
        current = self._committed(plan.run_id)
        if current is None:
            return self._write_new(plan)
        named = plan if plan.manifest is not None else plan.named(current.data_file)
        if named.commit_row(current.created_at).data == current.row:
            # This very content is committed: make sure every other object is in place (a rerun
            # after a crash; with overwrite=True also the end of an interrupted overwrite).
            report = WriteReport(plan.run_id, self.store.url, current.created_at)
            self._settle(named, current.created_at, report)
            return report
        if not self.overwrite:
            manifest = self._read_manifest(plan.run_id) or Manifest()
            detail = _difference(manifest.objects or {}, named.entries())
            raise ConflictError(plan.run_id, layout.commit_key(plan.run_id), detail)
        return self._replace(plan, current)

    # -- a run not committed yet: manifest, data, summary, runs row ------------------------

    def _write_new(self, plan: Plan) -> WriteReport:
        entries = plan.entries()
        key = layout.manifest_key(plan.run_id)
        if plan.manifest is not None:  # given verbatim (push): create it, or find it already there
            created_at = read_manifest(plan.manifest, plan.run_id).created_at
            report = WriteReport(plan.run_id, self.store.url, created_at)
            self._put_all(plan.run_id, [Blob((key,), plan.manifest, JSON_CONTENT_TYPE)], report)
            replacing = False
        else:
            created_at, replacing = self._claim(plan.run_id, key, entries)
            report = WriteReport(plan.run_id, self.store.url, created_at)
        self._put_all(plan.run_id, plan.data, report)
        if replacing:  # an uncommitted run of other content was there: nothing readers saw is touched
            self._delete_stale(plan.run_id, entries)
        self._put_all(plan.run_id, [plan.summary], report)
        self._swap_commit(plan, plan.commit_row(created_at), None, report)  # the commit, last
        return report

    def _claim(self, run_id: str, key: str, entries: dict) -> tuple[dt.datetime, bool]:
        """Write or match the run's manifest. Returns (created_at, replacing uncommitted objects)."""

        def attempt() -> tuple[dt.datetime, bool] | None:
            existing = self._read_manifest(run_id)
            if existing is None:
                created_at = dt.datetime.now(dt.timezone.utc)
                try:
                    self.store.put([key], manifest_bytes(run_id, created_at, entries), JSON_CONTENT_TYPE)
                    return created_at, False
                except ObjectExistsError:
                    return None  # another writer claimed the run a moment ago: compare with its manifest
            if existing.objects == entries:
                return existing.created_at, False
            if not self.overwrite:
                raise ConflictError(run_id, key, _difference(existing.objects or {}, entries))
            created_at = dt.datetime.now(dt.timezone.utc)
            self.store.put([key], manifest_bytes(run_id, created_at, entries), JSON_CONTENT_TYPE, overwrite=True)
            return created_at, True

        return after_lost_races(
            attempt, lambda: ConflictError(run_id, key, "the manifest keeps changing under concurrent writers")
        )

    # -- overwrite of a committed run: new lake files beside the old, switch, then the rest ----

    def _replace(self, plan: Plan, current: Committed) -> WriteReport:
        """Readers see the old run whole until the runs row is switched, then the new one whole.

        The new generation's lake files go beside the committed ones under their
        own name; the runs row is replaced only if it still holds the bytes read
        at the start (of two racing overwriters exactly one wins); the spec files,
        summary and manifest follow, and the old generation's files go last.
        """
        named = plan.named(layout.data_file_name(plan.generation()))
        created_at = dt.datetime.now(dt.timezone.utc)
        report = WriteReport(plan.run_id, self.store.url, created_at)
        lake_only = [lake for lake, _ in map(Blob.split, named.data) if lake]
        self._put_all(plan.run_id, lake_only, report, overwrite=False)
        try:
            self._swap_commit(named, named.commit_row(created_at), current.row, report)
        except ConflictError:
            winner = self._committed(plan.run_id)
            if winner is None or winner.data_file != named.data_file:  # our files are nobody's: remove them
                for blob in lake_only:
                    for key in blob.keys:
                        self.store.delete(key)
            raise
        self._settle(named, created_at, report, lake_written=True)
        return report

    # -- after the commit: every object of the committed content in place ------------------

    def _settle(self, plan: Plan, created_at: dt.datetime, report: WriteReport, lake_written: bool = False) -> None:
        """Put every object of a committed plan; committed lake files must already hold these bytes."""
        entries = plan.entries()
        lake_blobs, other_blobs = zip(*map(Blob.split, plan.data)) if plan.data else ((), ())
        if not lake_written:
            self._put_all(plan.run_id, [b for b in lake_blobs if b], report, overwrite=False)  # immutable once committed
        self._put_all(plan.run_id, [b for b in other_blobs if b], report)
        self._put_all(plan.run_id, [plan.summary], report)
        manifest = plan.manifest or manifest_bytes(plan.run_id, created_at, entries)
        self._put_all(plan.run_id, [Blob((layout.manifest_key(plan.run_id),), manifest, JSON_CONTENT_TYPE)], None)
        self._put_all(plan.run_id, [plan.commit_row(created_at)], report, overwrite=False)
        if self.overwrite:
            self._delete_stale(plan.run_id, entries)

    def _swap_commit(self, plan: Plan, row: Blob, expect: bytes | None, report: WriteReport) -> None:
        """Create or replace the runs row only if it still holds `expect` (None: absent)."""
        key = layout.commit_key(plan.run_id)
        try:
            self.store.swap(key, row.data, row.content_type, expect=expect)
            outcome = PutOutcome.CREATED if expect is None else PutOutcome.REPLACED
        except ObjectChangedError:
            now = self._committed(plan.run_id)
            if now is None or now.row != row.data:
                raise ConflictError(plan.run_id, key, "another writer committed this run meanwhile") from None
            outcome = PutOutcome.IDENTICAL  # the same commit, made by a concurrent writer of the same run
        self._report(report, WrittenObject(key, len(row.data), row.rows, outcome))

    def _committed(self, run_id: str) -> Committed | None:
        """The run's current runs row, or None when the run is not committed."""
        key = layout.commit_key(run_id)
        try:
            data = self.store.get(key)
        except ObjectNotFoundError:
            return None
        try:
            return read_commit(data)
        except LakeError as exc:
            if not self.overwrite:
                raise ConflictError(run_id, key, str(exc)) from None
            return Committed(data, dt.datetime.now(dt.timezone.utc), layout.PART_FILE)

    def _read_manifest(self, run_id: str) -> Manifest | None:
        try:
            data = self.store.get(layout.manifest_key(run_id))
        except ObjectNotFoundError:
            return None
        manifest = read_manifest(data, run_id)
        return manifest if manifest.ok else Manifest()  # unusable: differs from anything we would write

    # -- 2-4. puts -----------------------------------------------------------------------

    def _put_all(self, run_id: str, blobs: list[Blob], report: WriteReport | None, overwrite: bool | None = None) -> None:
        with ThreadPoolExecutor(max_workers=max(1, self.store.max_concurrency)) as pool:
            for blob, outcomes in zip(blobs, pool.map(lambda b: self._put(run_id, b, overwrite), blobs)):
                for key, outcome in zip(blob.keys, outcomes):
                    self._report(report, WrittenObject(key, len(blob.data), blob.rows, outcome))

    def _report(self, report: WriteReport | None, written: WrittenObject) -> None:
        if report is not None:
            report.objects.append(written)
        if self.progress:
            self.progress(written)

    def _put(self, run_id: str, blob: Blob, overwrite: bool | None) -> list[PutOutcome]:
        try:
            return self.store.put(blob.keys, blob.data, blob.content_type, overwrite=self.overwrite if overwrite is None else overwrite)
        except ObjectExistsError as exc:
            raise ConflictError(run_id, exc.key) from None

    def _delete_stale(self, run_id: str, entries: dict) -> None:
        """After a replace, drop what the new run does not have: config, log, other generations' lake files."""
        stale = {layout.config_key(run_id), layout.log_key(run_id)} - set(entries)
        for table in RUN_TABLES:
            folder = layout.lake_key(run_id, table).rpartition("/")[0] + "/"
            stale |= {k for k in self.store.list(folder) if layout.is_data_file(k.rpartition("/")[2]) and k not in entries}
        for key in sorted(stale):
            self.store.delete(key)


@dataclass(frozen=True)
class Committed:
    """What the store's runs row says: its bytes (the swap precondition), creation time and data file name."""

    row: bytes
    created_at: dt.datetime
    data_file: str


def read_commit(data: bytes) -> Committed:
    """A runs row's bytes read as a commit: when it was created and which data files it names."""
    try:
        row = read_parquet_bytes(data).to_pylist()[0]
        return Committed(data, row["created_at"], layout.check_data_file(row.get("data_file") or layout.PART_FILE))
    except (pa.ArrowException, OSError, IndexError, KeyError, TypeError) as exc:
        raise LakeError(f"the runs row is unreadable ({exc})") from None


def _difference(old: dict, new: dict) -> str:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    return f"differs in {shown}" if changed else "its runs row differs"
