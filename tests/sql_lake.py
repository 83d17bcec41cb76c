"""Hand-made runs with exact numbers, written by write_run, for the SQL tests.

Three runs:
  alpha  committed; BTC and ETH, USDT settlement, one commission in BNB, a NETTING
         snapshot, an open position, limit and market orders, maker and taker fills,
         an equity curve over four UTC days
  0042   committed; a numeric-looking run_id (must stay the string '0042'); BTC only
  gamma  written, then its runs row removed: not committed, so no view may show it;
         its amounts are huge so that any leak shows in every figure

And an experiment (build_sweep_lake): a 3 x 2 grid of runs over fast_period x entry
with alpha's and 0042's rows, for the sweep queries.

The expected answers in the tests are worked out by hand from these rows (and, for
statistics, recomputed with pandas from the same rows). The rows are built by the
bq-smoke runs' row builders (lake.catalog.smoke): strategy S-1, venue order id "V" + id.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from lake import layout
from lake.catalog.smoke import equity_frame, fill_row, order_row, position_row
from lake.run import Run
from lake.write import write_run

T0 = pd.Timestamp("2024-01-01 09:00:00", tz="UTC")


def ts(seconds: float = 0, ns: int = 0, base: pd.Timestamp = T0) -> pd.Timestamp:
    return base + pd.Timedelta(seconds=seconds) + pd.Timedelta(nanoseconds=ns)


BTC, ETH = "BTCUSDT.BINANCE", "ETHUSDT.BINANCE"
SNAPSHOT_ID = "P-2-5f0c2a9e-8d1b-4c3e-9a7f-0123456789ab"


def alpha() -> Run:
    orders = pd.DataFrame(
        [
            # O-1 BTC limit buy 2 @ 100: fills 1 @ 99 and 1 @ 100 (slippage vs limit: -1 and 0)
            order_row("O-1", BTC, "BUY", "LIMIT", "2", "100", "99.5", ts(0), ts(1, 5)),
            # O-2 BTC market sell 2: fills 1 @ 110 then 1 @ 109 (vs first fill: 0 and +1)
            order_row("O-2", BTC, "SELL", "MARKET", "2", None, "109.5", ts(29), ts(30, 2)),
            # O-3 ETH market sell 1 @ 50 (first fill: 0)
            order_row("O-3", ETH, "SELL", "MARKET", "1", None, "50", ts(40), ts(41)),
            # O-4 ETH limit buy 1 @ 45, filled @ 44 (vs limit: -1)
            order_row("O-4", ETH, "BUY", "LIMIT", "1", "45", "44", ts(100), ts(7300)),
            # O-5 BTC limit buy 0.5 @ 120, filled @ 121.5 (vs limit: +1.5), opens P-3 which stays open
            order_row("O-5", BTC, "BUY", "LIMIT", "0.5", "120", "121.5", ts(86400 * 2), ts(86400 * 2 + 1)),
            # O-6 canceled, never filled
            order_row("O-6", ETH, "BUY", "LIMIT", "3", "10", None, ts(50), ts(60), status="CANCELED"),
        ]
    )
    fills = pd.DataFrame(
        [
            fill_row("T-1", "O-1", "P-1", BTC, "BUY", "1", "99", "0.1", "USDT", "MAKER", ts(1)),
            fill_row("T-2", "O-1", "P-1", BTC, "BUY", "1", "100", "0.1", "USDT", "MAKER", ts(1, 5)),
            fill_row("T-3", "O-2", "P-1", BTC, "SELL", "1", "110", "0.2", "USDT", "TAKER", ts(30, 1)),
            fill_row("T-4", "O-2", "P-1", BTC, "SELL", "1", "109", "0.2", "USDT", "TAKER", ts(30, 2)),
            fill_row("T-5", "O-3", SNAPSHOT_ID, ETH, "SELL", "1", "50", "0.001", "BNB", "TAKER", ts(41)),
            fill_row("T-6", "O-4", SNAPSHOT_ID, ETH, "BUY", "1", "44", "-0.01", "USDT", "MAKER", ts(7300)),
            fill_row("T-7", "O-5", "P-3", BTC, "BUY", "0.5", "121.5", "0.05", "USDT", "TAKER", ts(86400 * 2 + 1)),
        ]
    )
    positions = pd.DataFrame(
        [
            # P-1: long 2 BTC 99.5 -> 109.5 = +20, minus 0.6 USDT commission; held 29 s + 1 ns
            position_row("P-1", BTC, "O-1", "O-2", "BUY", "0", "2", "99.5", "109.5", "19.4", ts(1), ts(30, 1)),
            # NETTING snapshot of the ETH short: 50 -> 44 = +6, +0.01 rebate; held 7259 s
            position_row(SNAPSHOT_ID, ETH, "O-3", "O-4", "SELL", "0", "1", "50", "44", "6.01", ts(41), ts(7300), snapshot=True),
            # P-2: the same ETH position id reopened and closed at a loss; held 0.25 s
            position_row("P-2", ETH, "O-3", "O-4", "SELL", "0", "1", "44", "47", "-3", ts(7400), ts(7400.25)),
            # P-3: open (commission only so far)
            position_row("P-3", BTC, "O-5", None, "BUY", "0.5", "0.5", "121.5", None, "-0.05", ts(86400 * 2 + 1), None),
        ]
    )
    d = lambda day, hour: pd.Timestamp(f"2024-01-0{day} {hour:02d}:00:00", tz="UTC")  # noqa: E731
    equity = equity_frame(
        [
            (d(1, 9), "USDT", "1000", "0"),
            (d(1, 17), "USDT", "1010", "0"),  # day 1 closes at 1010
            (d(2, 8), "USDT", "1010", "10"),  # peak 1020
            (d(2, 12), "USDT", "990", "0"),  # day 2 closes at 990: drawdown 30 from 1020
            (d(3, 12), "USDT", "1030", "0"),  # day 3 closes at 1030
            (d(4, 12), "USDT", "1022.41", "-0.5"),  # day 4 closes at 1021.91
        ]
    )
    summary = {"trader_id": "TESTER-001", "strategy_ids": ["S-1"], "instrument_ids": [BTC, ETH]}
    return Run("alpha", summary, orders, fills, positions, equity)


def run_0042() -> Run:
    t = T0 + pd.Timedelta(days=1)
    orders = pd.DataFrame(
        [
            order_row("O-1", BTC, "SELL", "MARKET", "3", None, "100", ts(0, base=t), ts(2, base=t)),
            order_row("O-2", BTC, "BUY", "LIMIT", "3", "104", "103.5", ts(3600, base=t), ts(3700, base=t)),
        ]
    )
    fills = pd.DataFrame(
        [
            # market sell walks down: 101 first, then 99 (+2 slippage for a SELL)
            fill_row("T-1", "O-1", "P-1", BTC, "SELL", "1", "101", "0.3", "USDT", "TAKER", ts(1, base=t)),
            fill_row("T-2", "O-1", "P-1", BTC, "SELL", "2", "99.5", "0.6", "USDT", "TAKER", ts(2, base=t)),
            fill_row("T-3", "O-2", "P-1", BTC, "BUY", "3", "103.5", "0.15", "USDT", "MAKER", ts(3700, base=t)),
        ]
    )
    positions = pd.DataFrame(
        [
            # short 3 BTC at 100 covered at 103.5 = -10.5, minus 1.05 commission; held 3699 s
            position_row("P-1", BTC, "O-1", "O-2", "SELL", "0", "3", "100", "103.5", "-11.55", ts(1, base=t), ts(3700, base=t)),
        ]
    )
    d = lambda day, hour: pd.Timestamp(f"2024-01-0{day} {hour:02d}:00:00", tz="UTC")  # noqa: E731
    equity = equity_frame(
        [
            (d(2, 9), "USDT", "500", "0"),
            (d(2, 23), "USDT", "488.45", "0"),
            (d(3, 1), "USDT", "488.45", "1.55"),
        ]
    )
    return Run("0042", {"trader_id": "TESTER-001"}, orders, fills, positions, equity)


def gamma() -> Run:
    orders = pd.DataFrame([order_row("O-1", BTC, "BUY", "MARKET", "1000", None, "50000", ts(0), ts(1))])
    fills = pd.DataFrame([fill_row("T-1", "O-1", "P-1", BTC, "BUY", "1000", "50000", "999", "USDT", "TAKER", ts(1))])
    positions = pd.DataFrame(
        [position_row("P-1", BTC, "O-1", None, "BUY", "1000", "1000", "50000", None, "1000000", ts(1), None)]
    )
    equity = equity_frame([(ts(0), "USDT", "9000000", "0"), (ts(86400), "USDT", "1", "0")])
    return Run("gamma", {}, orders, fills, positions, equity)


def build_lake(dest: Path) -> Path:
    """Write alpha and 0042 (committed) and gamma (uncommitted: its runs row removed)."""
    for run in (alpha(), run_0042(), gamma()):
        write_run(run, dest)
    (Path(dest) / layout.commit_key("gamma")).unlink()
    return Path(dest)


# --- an experiment: a sweep of fast_period x entry --------------------------------------------------

SWEEP, FAST, ENTRY = "ema-grid", "S-1.fast_period", "S-1.entry"
# (run_id, tables from, fast_period, entry): a full 3 x 2 grid whose groups differ (alpha made +22.36, 0042 -11.55).
SWEEP_GRID = [
    ("g-5-market", alpha, 5, "MARKET"),
    ("g-5-limit", run_0042, 5, "LIMIT"),
    ("g-10-market", run_0042, 10, "MARKET"),
    ("g-10-limit", run_0042, 10, "LIMIT"),
    ("g-20-market", alpha, 20, "MARKET"),
    ("g-20-limit", alpha, 20, "LIMIT"),
]


def sweep_runs() -> list[Run]:
    """The grid's runs under experiment SWEEP, each with parameters as a strategy config gives them, then a run
    of SWEEP without fast_period and a run of another experiment (both committed)."""
    runs = [
        dataclasses.replace(make(), run_id=run_id, experiment=SWEEP, tags={"grid": "fast x entry"},
                            params={FAST: fast, ENTRY: entry, "S-1.levels": [1, 2], "venue.BINANCE.oms_type": "NETTING"})
        for run_id, make, fast, entry in SWEEP_GRID
    ]
    runs.append(dataclasses.replace(alpha(), run_id="g-no-fast", experiment=SWEEP, params={ENTRY: "MARKET"}))
    runs.append(dataclasses.replace(alpha(), run_id="other-5", experiment="other-grid", params={FAST: 5, ENTRY: "MARKET"}))
    return runs


def build_sweep_lake(dest: Path) -> Path:
    """sweep_runs() written, and an uncommitted run of SWEEP (gamma's huge amounts: no answer may show them)."""
    for run in sweep_runs():
        write_run(run, dest)
    write_run(dataclasses.replace(gamma(), run_id="g-uncommitted", experiment=SWEEP, params={FAST: 5, ENTRY: "MARKET"}), dest)
    (Path(dest) / layout.commit_key("g-uncommitted")).unlink()
    return Path(dest)
