"""Every error the library raises derives from LakeError."""

from __future__ import annotations

from dataclasses import dataclass, field


class LakeError(Exception):
    """Base class of all execution-lake errors."""


class InvalidRunIdError(LakeError, ValueError):
    """A run_id that does not match the run_id rule."""


class InvalidExperimentError(LakeError, ValueError):
    """An experiment name that does not match the run_id rule."""


class InvalidTagsError(LakeError, ValueError):
    """Tags that are not a flat mapping of names to text, or that hold a secret."""


class SerializationError(LakeError, TypeError):
    """A summary or config value that cannot be written as JSON."""


class ConflictError(LakeError):
    """Different content already exists under a run_id (pass overwrite=True to replace it)."""

    def __init__(self, run_id: str, key: str, detail: str = ""):
        self.run_id = run_id
        self.key = key
        msg = f"run {run_id!r} already exists with different content at {key!r}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg + "; pass overwrite=True to replace it")


class DestinationError(LakeError):
    """A destination that cannot be used (bad URL, forbidden bucket, unreachable store)."""


class StoreError(LakeError):
    """A store operation that failed after its retries."""


@dataclass
class Failure:
    """One failed check: where, what, and a few offending rows."""

    table: str
    column: str | None
    check: str
    message: str = ""
    rows: list[tuple[int | None, object]] = field(default_factory=list)
    count: int | None = None

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        text = f"{where} [{self.check}]"
        if self.message:
            text += f": {self.message}"
        if self.rows:
            shown = "; ".join(f"row {i}: {v!r}" if i is not None else repr(v) for i, v in self.rows)
            n = self.count if self.count is not None else len(self.rows)
            text += f" ({n} row{'s' if n != 1 else ''}, e.g. {shown})"
        return text


class ValidationError(LakeError, ValueError):
    """One or more tables of a run break the contract. `failures` lists each problem."""

    def __init__(self, run_id: str | None, failures: list[Failure]):
        self.run_id = run_id
        self.failures = failures
        head = f"run {run_id!r}" if run_id else "run"
        lines = [f"{head} failed validation ({len(failures)} problem{'s' if len(failures) != 1 else ''}); nothing was written:"]
        lines += [f"  - {f}" for f in failures]
        super().__init__("\n".join(lines))
