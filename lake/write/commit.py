"""The commit protocol, as one transaction used by write_run and push alike.

  1. claim   backtest_results/{run_id}/_manifest.json: sizes and CRC32C of every
             object; an existing manifest that lists other bytes is a conflict
  2. data    table files (spec file and lake partition share one encoding),
             config and log, in parallel
  3. summary backtest_results/{run_id}/summary.json
  4. commit  lake/runs/run_id={run_id}/part-00000.parquet, the runs row
Every put is create-only and atomic, so a crash leaves no committed partial run
and the next write of the same run finishes it, keeping identical objects.
See docs/protocol.md.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from lake import layout
from lake.errors import ConflictError
from lake.stores import ObjectExistsError, ObjectNotFoundError, PutOutcome, Store
from lake.stores.retry import after_lost_races
from lake.version import __version__
from lake.write.encode import JSON_CONTENT_TYPE, json_bytes
from lake.write.plan import Blob, Plan


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
    overwrite=True: the run is uncommitted first (its runs row removed), then
    replaced, then committed again.
    """

    def __init__(self, store: Store, *, overwrite: bool = False, progress: Progress | None = None):
        self.store = store
        self.overwrite = overwrite
        self.progress = progress

    def commit(self, plan: Plan) -> WriteReport:
        entries = plan.entries()
        key = layout.manifest_key(plan.run_id)
        if plan.manifest is not None:  # given verbatim (push): create it, or find it already there
            created_at = dt.datetime.fromisoformat(json.loads(plan.manifest)["created_at"])
            report = WriteReport(plan.run_id, self.store.url, created_at)
            self._put_all(plan.run_id, [Blob((key,), plan.manifest, JSON_CONTENT_TYPE)], report)
            replacing = False
        else:
            created_at, replacing = self._claim(plan.run_id, key, entries)
            report = WriteReport(plan.run_id, self.store.url, created_at)
        self._put_all(plan.run_id, plan.data, report)
        if replacing:
            self._delete_stale(plan.run_id, entries)
        self._put_all(plan.run_id, [plan.summary], report)
        self._put_all(plan.run_id, [plan.commit_row(created_at)], report)  # the commit, last
        return report

    # -- 1. claim ------------------------------------------------------------------------

    def _claim(self, run_id: str, key: str, entries: dict) -> tuple[dt.datetime, bool]:
        """Write or match the run's manifest. Returns (created_at, replacing an earlier run)."""

        def attempt() -> tuple[dt.datetime, bool] | None:
            existing = self._read_manifest(key)
            if existing is None:
                created_at = dt.datetime.now(dt.timezone.utc)
                try:
                    self.store.put([key], manifest_bytes(run_id, created_at, entries), JSON_CONTENT_TYPE)
                    return created_at, False
                except ObjectExistsError:
                    return None  # another writer claimed the run a moment ago: compare with its manifest
            if existing.get("objects") == entries:
                return dt.datetime.fromisoformat(existing["created_at"]), False
            if not self.overwrite:
                raise ConflictError(run_id, key, _difference(existing.get("objects") or {}, entries))
            # Uncommit first, so readers never see the old runs row over new data.
            self.store.delete(layout.commit_key(run_id))
            created_at = dt.datetime.now(dt.timezone.utc)
            self.store.put([key], manifest_bytes(run_id, created_at, entries), JSON_CONTENT_TYPE, overwrite=True)
            return created_at, True

        return after_lost_races(
            attempt, lambda: ConflictError(run_id, key, "the manifest keeps changing under concurrent writers")
        )

    def _read_manifest(self, key: str) -> dict | None:
        try:
            data = self.store.get(key)
        except ObjectNotFoundError:
            return None
        try:
            manifest = json.loads(data)
            dt.datetime.fromisoformat(manifest["created_at"])
            return manifest
        except (ValueError, KeyError, TypeError):
            return {"objects": None}  # unreadable: differs from anything we would write

    # -- 2-4. puts -----------------------------------------------------------------------

    def _put_all(self, run_id: str, blobs: list[Blob], report: WriteReport) -> None:
        with ThreadPoolExecutor(max_workers=max(1, self.store.max_concurrency)) as pool:
            for blob, outcomes in zip(blobs, pool.map(lambda b: self._put(run_id, b), blobs)):
                for key, outcome in zip(blob.keys, outcomes):
                    written = WrittenObject(key, len(blob.data), blob.rows, outcome)
                    report.objects.append(written)
                    if self.progress:
                        self.progress(written)

    def _put(self, run_id: str, blob: Blob) -> list[PutOutcome]:
        try:
            return self.store.put(blob.keys, blob.data, blob.content_type, overwrite=self.overwrite)
        except ObjectExistsError as exc:
            raise ConflictError(run_id, exc.key) from None

    def _delete_stale(self, run_id: str, entries: dict) -> None:
        """After an overwrite, drop optional objects the new run does not have (config, log)."""
        for key in (layout.config_key(run_id), layout.log_key(run_id)):
            if key not in entries:
                self.store.delete(key)


def manifest_bytes(run_id: str, created_at: dt.datetime, entries: dict) -> bytes:
    manifest = {"run_id": run_id, "created_at": created_at, "writer_version": __version__, "objects": entries}
    return json_bytes(manifest, "manifest")


def _difference(old: dict, new: dict) -> str:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    return f"differs in {shown}" if changed else "manifest unreadable"
