"""A finished backtest run: its id, summary, four tables, config and log."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import pyarrow as pa

from lake.errors import InvalidRunIdError

if TYPE_CHECKING:
    import pandas

TableLike = Union[pa.Table, "pandas.DataFrame"]

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LABEL_JUNK = re.compile(r"[^A-Za-z0-9._-]+")


class RunId(str):
    """A str that has passed check_run_id: key builders take it without checking again."""

    __slots__ = ()


def check_run_id(run_id: object) -> RunId:
    """Return run_id if it may name a run, else raise InvalidRunIdError.

    The rule keeps run ids safe as one path segment everywhere (local folders,
    GCS object names, Hive partition values): letters, digits, '.', '_' and '-',
    starting with a letter or digit, at most 128 characters, and no '..'.
    """
    if not isinstance(run_id, str):
        raise InvalidRunIdError(f"run_id must be a string, got {type(run_id).__name__}")
    if not _RUN_ID.fullmatch(run_id):
        raise InvalidRunIdError(
            f"invalid run_id {run_id!r}: expected 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit"
        )
    if ".." in run_id:
        raise InvalidRunIdError(f"invalid run_id {run_id!r}: '..' is not allowed")
    return RunId(run_id)


def new_run_id(label: str | None = None, started: dt.datetime | None = None) -> RunId:
    """The one run-id maker: sortable and readable, unique without coordination.

    `{UTC start %Y%m%dT%H%M%S}Z-{label}-{8 hex of a uuid4}`; the label is
    cleaned to the run_id alphabet and cut to 60 characters.
    """
    started = (started or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    label = _LABEL_JUNK.sub("-", label or "")[:60].strip("-._") or "run"
    return check_run_id(f"{started:%Y%m%dT%H%M%S}Z-{label}-{uuid.uuid4().hex[:8]}")


@dataclass(frozen=True)
class Run:
    """Everything one backtest produced.

    Tables may be pandas DataFrames or pyarrow Tables with the contract's columns
    (see schemas/); they are checked by write_run, all at once. `config` is the
    backtest configuration (secrets are redacted when written), `log` the
    execution log as text or bytes.
    """

    run_id: str
    summary: dict[str, Any]
    orders: TableLike
    fills: TableLike
    positions: TableLike
    equity_curve: TableLike
    config: dict[str, Any] | None = None
    log: str | bytes | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "run_id", check_run_id(self.run_id))

    def tables(self) -> dict[str, TableLike]:
        return {
            "orders": self.orders,
            "fills": self.fills,
            "positions": self.positions,
            "equity_curve": self.equity_curve,
        }
