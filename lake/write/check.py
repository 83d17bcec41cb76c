"""check_run: everything write_run checks, nothing written, no destination needed.

It runs plan_run, the very code write_run runs before its first byte, and
turns a ValidationError into a report instead of raising; so a run that
check_run passes is one write_run accepts, and the other way round.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from lake import layout
from lake.errors import Failure, SerializationError, ValidationError
from lake.run import Run
from lake.write.commit import manifest_bytes
from lake.write.encode import to_jsonable
from lake.write.plan import Plan, plan_run


@dataclass(frozen=True)
class PlannedObject:
    """One object write_run would create: its key, size in bytes and rows (tables only)."""

    key: str
    size: int
    rows: int | None = None


@dataclass
class CheckReport:
    """A run checked against the contract: every failure, or every object that would be written."""

    run_id: str
    failures: list[Failure] = field(default_factory=list)
    objects: list[PlannedObject] = field(default_factory=list)  # empty when there are failures

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def total_bytes(self) -> int:
        return sum(o.size for o in self.objects)

    def to_dict(self) -> dict:
        """Plain JSON values (decimals and times in offending rows as strings), for `lake check --format json`."""
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "failures": [
                {
                    "table": f.table,
                    "column": f.column,
                    "check": f.check,
                    "message": f.message,
                    "count": f.count if f.count is not None else (len(f.rows) or None),  # null: not about rows
                    "rows": [{"row": i, "value": _plain(v)} for i, v in f.rows],
                }
                for f in self.failures
            ],
            "objects": [{"key": o.key, "size": o.size, "rows": o.rows} for o in self.objects],
        }

    def __str__(self) -> str:
        if not self.ok:
            n = len(self.failures)
            return "\n".join([f"BAD {self.run_id}: {n} problem{'s' if n != 1 else ''}", *(f"  - {f}" for f in self.failures)])
        lines = [f"ok  {self.run_id}: would write {len(self.objects)} objects, {self.total_bytes:,} bytes"]
        for o in self.objects:
            rows = f"{o.rows:>10,} row{'s' if o.rows != 1 else ' '}" if o.rows is not None else " " * 15
            lines.append(f"  {o.size:>12,} B {rows}  {o.key}")
        return "\n".join(lines)


def check_run(run: Run) -> CheckReport:
    """Check `run` exactly as write_run would (conform, Pandera, references, summary, config, log,
    redaction, the runs row) without writing anything. The report lists every failure by table,
    column, check and rows; or, when the run passes, every object write_run would create."""
    try:
        plan = plan_run(run)
    except ValidationError as exc:
        return CheckReport(run.run_id, list(exc.failures))
    return CheckReport(plan.run_id, objects=planned_objects(plan))


def planned_objects(plan: Plan) -> list[PlannedObject]:
    """The plan's objects in commit order: manifest, data, summary, runs row (the commit)."""
    now = dt.datetime.now(dt.timezone.utc)
    manifest = manifest_bytes(plan.run_id, now, plan.entries())
    out = [PlannedObject(layout.manifest_key(plan.run_id), len(manifest))]
    for blob in [*plan.data, plan.summary, plan.commit_row(now)]:
        out += [PlannedObject(key, len(blob.data), blob.rows) for key in blob.keys]
    return out


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # the offending NaN itself, not the null JSON would make of it
    try:
        return to_jsonable(value)
    except SerializationError:
        return repr(value)
