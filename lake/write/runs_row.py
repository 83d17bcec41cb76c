"""Flatten a run into its one row of the `runs` table.

Counts and money come from the validated tables (exact); identity, window and
statistics from the summary, read under NautilusTrader's BacktestResult names.
The full summary is kept too, as summary_json.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lake.version import __version__
from schemas import RUNS

WRITER_VERSION = __version__

# runs column -> key in the summary's stats_returns (NautilusTrader's names).
_RETURN_STATS = {
    "sharpe_ratio": "Sharpe Ratio (252 days)",
    "sortino_ratio": "Sortino Ratio (252 days)",
    "profit_factor": "Profit Factor",
    "returns_volatility": "Returns Volatility (252 days)",
    "risk_return_ratio": "Risk Return Ratio",
}


def sums_by_currency(data: pa.Table, amount: str, currency: str) -> dict[str, Decimal]:
    """Exact decimal sums of `amount` grouped by `currency`."""
    if data.num_rows == 0:
        return {}
    grouped = data.group_by(currency).aggregate([(amount, "sum")])
    return {
        cur: (total if total is not None else Decimal(0))
        for cur, total in zip(grouped.column(currency).to_pylist(), grouped.column(f"{amount}_sum").to_pylist())
    }


def _joined(values) -> str | None:
    items = sorted({str(v) for v in values if v is not None and str(v)})
    return ",".join(items) if items else None


def _distinct(data: pa.Table, column: str) -> list[str]:
    return pc.unique(data.column(column)).to_pylist() if data.num_rows else []


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def build_runs_row(summary: dict[str, Any], tables: dict[str, pa.Table], created_at: dt.datetime) -> pa.Table:
    """`summary` is the JSON-ready summary (as written to summary.json)."""
    orders, fills, positions, equity = (tables[n] for n in ("orders", "fills", "positions", "equity_curve"))
    pnl = sums_by_currency(positions, "realized_pnl", "currency")
    commission = sums_by_currency(fills, "commission", "commission_currency")
    pnl_currency = next(iter(pnl)) if len(pnl) == 1 else None
    instruments = summary.get("instrument_ids") or _distinct(orders, "instrument_id")
    stats_returns = summary.get("stats_returns") or {}
    stats_pnls = ((summary.get("stats_pnls") or {}).get(pnl_currency) or {}) if pnl_currency else {}

    row: dict[str, Any] = {
        "trader_id": summary.get("trader_id"),
        "strategy_ids": _joined(summary.get("strategy_ids") or _distinct(orders, "strategy_id")),
        "instrument_ids": _joined(instruments),
        "venues": _joined(summary.get("venues") or [str(i).rsplit(".", 1)[-1] for i in instruments]),
        "backtest_start": _timestamp(summary.get("backtest_start")),
        "backtest_end": _timestamp(summary.get("backtest_end")),
        "run_started": _timestamp(summary.get("run_started")),
        "run_finished": _timestamp(summary.get("run_finished")),
        "order_count": orders.num_rows,
        "fill_count": fills.num_rows,
        "position_count": positions.num_rows,
        "equity_point_count": equity.num_rows,
        "pnl_currency": pnl_currency,
        "realized_pnl": pnl.get(pnl_currency) if pnl_currency else None,
        "commission": commission.get(pnl_currency, Decimal(0)) if pnl_currency and set(commission) <= {pnl_currency} else None,
        "realized_pnl_by_currency": json.dumps({k: str(v) for k, v in pnl.items()}, sort_keys=True),
        "commission_by_currency": json.dumps({k: str(v) for k, v in commission.items()}, sort_keys=True),
        "win_rate": _float(stats_pnls.get("Win Rate")),
        **{col: _float(stats_returns.get(key)) for col, key in _RETURN_STATS.items()},
        "created_at": created_at,
        "schema_version": RUNS.version,
        "writer_version": WRITER_VERSION,
        "summary_json": json.dumps(summary, sort_keys=True, ensure_ascii=False),
    }
    return pa.Table.from_pylist([row], schema=RUNS.arrow_schema)
