"""The runs row's equity figures: max drawdown and the Sharpe ratio of daily equity returns.

They are the leaderboard query's `max_drawdown`, `max_drawdown_pct` and `sharpe` (sql/queries/leaderboard.sql),
for the run's equity curve in its pnl_currency, computed once by the writer from the validated table. A sweep
over many runs then reads one small runs row per run instead of every equity sample
(tests/test_sweep.py checks that both give the same figures).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.contract import DECIMAL_PRECISION, DECIMAL_SCALE

_DAY_US = 86_400_000_000
_TRADING_DAYS = 252
_DIFFERENCE = pa.decimal256(DECIMAL_PRECISION + 1, DECIMAL_SCALE)  # holds any difference of two NUMERIC values


@dataclass(frozen=True)
class EquityStats:
    max_drawdown: Decimal | None = None
    max_drawdown_pct: float | None = None
    equity_sharpe: float | None = None

    def columns(self) -> dict:
        """The runs columns, by name."""
        return asdict(self)


def equity_stats(equity: pa.Table, currency: str | None) -> EquityStats:
    """The figures of `equity` (an equity_curve table in contract types) in `currency`; all null without samples.

    - max_drawdown: MAX(peak_equity - equity), exact;
    - max_drawdown_pct: MAX((peak_equity - equity) / peak_equity) in FLOAT64, samples with a zero peak left out;
    - equity_sharpe: each UTC day's last equity; returns equity[d] / equity[previous day with samples] - 1 (none
      after a zero); mean / sample standard deviation * SQRT(252); null with fewer than two returns or none spread.
    """
    if currency is None or equity.num_rows == 0:
        return EquityStats()
    rows = equity.filter(pc.equal(equity.column("currency"), currency))
    if rows.num_rows == 0:
        return EquityStats()
    peak, value = rows.column("peak_equity"), rows.column("equity")
    fall = pc.subtract_checked(peak.cast(_DIFFERENCE), value.cast(_DIFFERENCE))  # exact, never overflowing
    peak_f = peak.cast(pa.float64())
    pct = pc.divide(fall.cast(pa.float64()), pc.if_else(pc.equal(peak_f, 0.0), pa.scalar(None, pa.float64()), peak_f))
    return EquityStats(
        max_drawdown=pc.max(fall).as_py(),
        max_drawdown_pct=pc.max(pct).as_py(),
        equity_sharpe=_daily_sharpe(rows),
    )


def _daily_sharpe(rows: pa.Table) -> float | None:
    micros = rows.column("ts").cast(pa.int64()).to_numpy()
    order = np.argsort(micros, kind="stable")
    days = np.floor_divide(micros[order], _DAY_US)
    last = order[np.flatnonzero(np.append(days[1:] != days[:-1], True))]  # each day's last sample
    # One value per day: exact decimals to the nearest float (as a cast to FLOAT64 does).
    closes = [float(v) for v in rows.column("equity").take(pa.array(last)).to_pylist()]
    returns = [b / a - 1 for a, b in zip(closes, closes[1:]) if a != 0]
    if len(returns) < 2:
        return None
    spread = statistics.stdev(returns)
    if spread == 0 or not math.isfinite(spread):
        return None
    return statistics.fmean(returns) / spread * math.sqrt(_TRADING_DAYS)
