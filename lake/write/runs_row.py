"""Flatten a run into its one row of the `runs` table.

Counts and money come from the validated tables (exact); identity, window and
statistics from the summary, read under NautilusTrader's BacktestResult names.
The full summary is kept too, as summary_json.

The summary is the caller's free-form dict, so the fields the row reads are
parsed explicitly first (`parse_summary`): each that has the wrong shape is a
Failure naming `summary.<field>`, found before anything is written, and the
row is built from the parsed values only. Times become integer microseconds
of UTC here, so no environment setting (pandera's PYARROW_IGNORE_TIMEZONE)
can shift them on the way into Arrow.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from lake.errors import Failure
from lake.version import __version__
from lake.write.conform import TIMESTAMP_RANGE, TIMESTAMP_US
from lake.write.equity_stats import EquityStats
from schemas import RUNS
from schemas.contract import DECIMAL_PRECISION, DECIMAL_SCALE, Kind, exact_sums

WRITER_VERSION = __version__

# runs column -> key in the summary's stats_returns (NautilusTrader's names).
_RETURN_STATS = {
    "position_returns_sharpe": "Sharpe Ratio (252 days)",
    "sharpe_ratio": "Sharpe Ratio (252 days)",  # deprecated name of the same statistic (runs v1, v2)
    "sortino_ratio": "Sortino Ratio (252 days)",
    "profit_factor": "Profit Factor",
    "returns_volatility": "Returns Volatility (252 days)",
    "risk_return_ratio": "Risk Return Ratio",
}
_PNL_STATS = {"win_rate": "Win Rate"}  # runs column -> key in stats_pnls[currency]

_TIME_FIELDS = ("backtest_start", "backtest_end", "run_started", "run_finished")
_ID_LIST_FIELDS = ("strategy_ids", "instrument_ids", "venues")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US = dt.timedelta(microseconds=1)
_NUMERIC_LIMIT = Decimal(10) ** (DECIMAL_PRECISION - DECIMAL_SCALE)


@dataclass(frozen=True)
class RunSummary:
    """The summary fields the runs row reads, typed; times as UTC microseconds since the epoch."""

    summary_json: str
    trader_id: str | None = None
    strategy_ids: tuple[str, ...] = ()
    instrument_ids: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()
    backtest_start: int | None = None
    backtest_end: int | None = None
    run_started: int | None = None
    run_finished: int | None = None
    stats_pnls: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)  # read stats only
    stats_returns: Mapping[str, float | None] = field(default_factory=dict)  # read stats only


def parse_summary(summary: Mapping[str, Any], failures: list[Failure]) -> RunSummary | None:
    """The runs row's fields of a plain JSON summary, or None after appending a Failure per bad field.

    - backtest_start/end, run_started/finished: ISO 8601 text or a datetime; an offset is converted to UTC,
      no offset means UTC (as NautilusTrader reads times); within 0001-01-01 .. 9999-12-31 (BigQuery); an end
      may not precede its start.
    - trader_id: a non-blank string. strategy_ids, instrument_ids, venues: a list of non-blank strings without
      commas (the column joins them with commas); a single string is refused, never split into characters.
    - stats_pnls: {currency: {statistic: value}}, stats_returns: {statistic: value}; the statistics the row
      stores (Win Rate, Sharpe Ratio (252 days), ...) must be numbers or null, others may be any scalar
      (NautilusTrader allows str and bool for custom statistics).
    All missing or null means "not given".
    """
    before = len(failures)

    def fail(name: str, message: str) -> None:
        failures.append(Failure("summary", name, "runs_row", message))  # a field the runs row reads

    times = {name: _time(summary.get(name), name, fail) for name in _TIME_FIELDS}
    for start, end in (("backtest_start", "backtest_end"), ("run_started", "run_finished")):
        if times[start] is not None and times[end] is not None and times[end] < times[start]:
            fail(end, f"{summary.get(end)!r} precedes {start} {summary.get(start)!r}")
    trader_id = summary.get("trader_id")
    if trader_id is not None and not _id_text(trader_id):
        fail("trader_id", f"expected a non-blank string, got {_shown(trader_id)}")
        trader_id = None
    ids = {name: _id_list(summary.get(name), name, fail) for name in _ID_LIST_FIELDS}
    stats_pnls = _stats_pnls(summary.get("stats_pnls"), fail)
    stats_returns = _stats(summary.get("stats_returns"), "stats_returns", _RETURN_STATS.values(), fail)
    if len(failures) > before:
        return None
    return RunSummary(
        summary_json=json.dumps(summary, sort_keys=True, ensure_ascii=False),
        trader_id=trader_id,
        **ids,
        **times,
        stats_pnls=stats_pnls,
        stats_returns=stats_returns,
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80] + '...' if len(text) > 80 else text}"


def _time(value: Any, name: str, fail) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            fail(name, f"expected an ISO 8601 date-time such as 2024-01-01T00:00:00Z, got {_shown(value)}")
            return None
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        fail(name, f"expected an ISO 8601 date-time string, got {_shown(value)}")
        return None
    micros = _utc_micros(value)
    if not TIMESTAMP_US[0] <= micros <= TIMESTAMP_US[1]:
        fail(name, f"{value.isoformat()} is outside {TIMESTAMP_RANGE} in UTC")
        return None
    return micros


def _id_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _id_list(value: Any, name: str, fail) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        fail(name, f"expected a list of strings, got the string {value[:80]!r} (it is not split into characters)")
        return ()
    if not isinstance(value, list):
        fail(name, f"expected a list of strings, got {_shown(value)}")
        return ()
    for i, item in enumerate(value):
        if not _id_text(item):
            fail(name, f"item {i}: expected a non-blank string, got {_shown(item)}")
            return ()
        if "," in item:
            fail(name, f"item {i}: {item[:80]!r} contains a comma (the column joins the ids with commas)")
            return ()
    return tuple(value)


def _stats_pnls(value: Any, fail) -> dict[str, dict[str, float | None]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail("stats_pnls", f"expected {{currency: {{statistic: value}}}}, got {_shown(value)}")
        return {}
    out = {}
    for currency, stats in value.items():
        parsed = _stats(stats, f"stats_pnls[{currency!r}]", _PNL_STATS.values(), fail, column="stats_pnls")
        out[currency] = parsed
    return out


def _stats(value: Any, where: str, read: Any, fail, column: str | None = None) -> dict[str, float | None]:
    column = column or where
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(column, f"{where}: expected {{statistic: value}}, got {_shown(value)}")
        return {}
    out: dict[str, float | None] = {}
    for name in read:
        if name not in value or value[name] is None:
            continue
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            fail(column, f"{where}[{name!r}]: expected a number or null, got {_shown(number)}")
            continue
        try:
            number = float(number)
        except OverflowError:
            fail(column, f"{where}[{name!r}]: an integer of {len(str(abs(number)))} digits does not fit a FLOAT64")
            continue
        out[name] = number if math.isfinite(number) else None
    for name, item in value.items():
        if name not in out and isinstance(item, (dict, list)):
            fail(column, f"{where}[{name!r}]: a statistic must be a single value, got {_shown(item)}")
    return out


def sums_by_currency(data: pa.Table, amount: str, currency: str) -> dict[str, Decimal]:
    """Exact decimal sums of `amount` grouped by `currency` (summed in decimal256: no overflow)."""
    if data.num_rows == 0:
        return {}
    sums = exact_sums(data.column(currency), data.column(amount))
    return {
        cur: (total if total is not None else Decimal(0))
        for cur, total in zip(sums.column("key").to_pylist(), sums.column("amount_sum").to_pylist())
    }


def _distinct(data: pa.Table, column: str) -> list[str]:
    return pc.unique(data.column(column)).to_pylist() if data.num_rows else []


def _joined(values) -> str | None:
    items = sorted({v for v in values if isinstance(v, str) and v.strip()})
    return ",".join(items) if items else None


@dataclass(frozen=True)
class RunMoney:
    """The run's exact money totals by currency, summed from its validated tables (run_money)."""

    pnl: dict[str, Decimal]
    commission: dict[str, Decimal]

    @property
    def currency(self) -> str | None:
        return next(iter(self.pnl)) if len(self.pnl) == 1 else None

    @property
    def realized_pnl(self) -> Decimal | None:
        return self.pnl[self.currency] if self.currency else None

    @property
    def total_commission(self) -> Decimal | None:
        cur = self.currency
        return self.commission.get(cur, Decimal(0)) if cur and set(self.commission) <= {cur} else None


def run_money(tables: Mapping[str, pa.Table]) -> RunMoney:
    """The money totals of the runs row: a pass over positions and fills, so computed once per run and
    handed to row_failures and build_runs_row alike."""
    return RunMoney(
        sums_by_currency(tables["positions"], "realized_pnl", "currency"),
        sums_by_currency(tables["fills"], "commission", "commission_currency"),
    )


def row_failures(money: RunMoney, equity: EquityStats | None = None) -> list[Failure]:
    """What the tables would put in the runs row that it cannot hold: a total (or drawdown) beyond NUMERIC(38, 9)."""
    failures = []
    for table, column, total in (
        ("positions", "realized_pnl", money.realized_pnl),
        ("fills", "commission", money.total_commission),
        ("equity_curve", "equity", equity.max_drawdown if equity else None),
    ):
        if total is not None and abs(total) >= _NUMERIC_LIMIT:
            what = "max drawdown" if table == "equity_curve" else "total"
            failures.append(Failure(
                table, column, "total_fits_numeric",
                f"the run's {what} ({total} {money.currency}) does not fit the runs table's NUMERIC(38, 9)",
            ))
    return failures


def _utc_micros(value: dt.datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return (value - _EPOCH) // _US


def build_runs_row(
    summary: RunSummary, tables: Mapping[str, pa.Table], created_at: dt.datetime, *, money: RunMoney | None = None,
    **columns: Any,
) -> pa.Table:
    """The runs row of a parsed summary and the run's validated tables.

    `money` is run_money(tables) when the caller has it already (else summed here). `columns` gives
    values of further runs columns by name (nullable columns not given are null).
    """
    orders, fills, positions, equity = (tables[n] for n in ("orders", "fills", "positions", "equity_curve"))
    money = run_money(tables) if money is None else money
    instruments = summary.instrument_ids or _distinct(orders, "instrument_id")
    pnl_stats = summary.stats_pnls.get(money.currency, {}) if money.currency else {}
    row: dict[str, Any] = {
        "trader_id": summary.trader_id,
        "strategy_ids": _joined(summary.strategy_ids or _distinct(orders, "strategy_id")),
        "instrument_ids": _joined(instruments),
        "venues": _joined(summary.venues or [i.rsplit(".", 1)[-1] for i in instruments if isinstance(i, str)]),
        "backtest_start": summary.backtest_start,
        "backtest_end": summary.backtest_end,
        "run_started": summary.run_started,
        "run_finished": summary.run_finished,
        "order_count": orders.num_rows,
        "fill_count": fills.num_rows,
        "position_count": positions.num_rows,
        "equity_point_count": equity.num_rows,
        "pnl_currency": money.currency,
        "realized_pnl": money.realized_pnl,
        "commission": money.total_commission,
        "realized_pnl_by_currency": json.dumps({k: str(v) for k, v in money.pnl.items()}, sort_keys=True),
        "commission_by_currency": json.dumps({k: str(v) for k, v in money.commission.items()}, sort_keys=True),
        **{col: pnl_stats.get(key) for col, key in _PNL_STATS.items()},
        **{col: summary.stats_returns.get(key) for col, key in _RETURN_STATS.items()},
        "created_at": _utc_micros(created_at),
        "schema_version": RUNS.version,
        "writer_version": WRITER_VERSION,
        "summary_json": summary.summary_json,
        **columns,
    }
    arrays = []
    for col in RUNS.physical_columns:
        value = row.get(col.name)
        if col.kind is Kind.TIMESTAMP:  # integer UTC microseconds: nothing can reinterpret a zone
            arrays.append(pa.array([value], pa.int64()).cast(col.kind.arrow))
        else:
            arrays.append(pa.array([value], col.kind.arrow))
    return pa.Table.from_arrays(arrays, schema=RUNS.arrow_schema)
