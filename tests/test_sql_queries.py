"""Every shipped query, run on DuckDB over a lake written by write_run, against answers worked out
by hand from the runs in sql_lake.py (and, for the statistics, recomputed with pandas)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from lake import layout
from lake.catalog.engine import open_engine, query_lake, run_query
from lake.catalog.translate import QueryError
from tests.sql_lake import BTC, ETH, alpha, build_lake, run_0042


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return build_lake(tmp_path_factory.mktemp("sql-lake"))


@pytest.fixture(scope="module")
def con(lake):
    c = open_engine(lake)
    yield c
    c.close()


def by_key(table, *key):
    return {tuple(r[k] for k in key): r for r in table.to_pylist()}


# --- pandas, independently of the SQL ---------------------------------------------------------


def pandas_sharpe(equity: pd.DataFrame) -> tuple[float | None, int]:
    """Daily (UTC) last equity -> returns -> mean / sample std * sqrt(252)."""
    frame = equity.assign(day=equity["ts"].dt.tz_convert("UTC").dt.date, equity=equity["equity"].astype(float))
    daily = frame.sort_values("ts").groupby("day")["equity"].last()
    returns = daily.pct_change().dropna()
    if len(returns) < 2 or returns.std(ddof=1) == 0:
        return None, len(returns)
    return float(returns.mean() / returns.std(ddof=1) * math.sqrt(252)), len(returns)


def pandas_max_drawdown(equity: pd.DataFrame) -> tuple[D, float]:
    e = equity.sort_values("ts")["equity"]
    peak = e.cummax()
    return max(peak - e), float(max((peak - e).astype(float) / peak.astype(float)))


# --- committed runs only ----------------------------------------------------------------------


def test_views_show_committed_runs_only_and_run_id_stays_a_string(con, lake):
    assert (Path(lake) / layout.lake_key("gamma", "fills")).is_file()  # gamma's files are there ...
    # ... and the local engine does not even open them: its lake_ tables hold the files commits name.
    lake_runs = sorted(r[0] for r in con.execute("SELECT DISTINCT run_id FROM execution.lake_fills").fetchall())
    assert lake_runs == ["0042", "alpha"]
    for view in ("orders", "fills", "positions", "equity_curve", "runs"):
        got = sorted(r[0] for r in con.execute(f"SELECT DISTINCT run_id FROM execution.{view}").fetchall())
        assert got == ["0042", "alpha"], view  # ... but it is not committed
    assert con.execute("SELECT typeof(run_id) FROM execution.runs LIMIT 1").fetchall()[0][0] == "VARCHAR"


# --- leaderboard ------------------------------------------------------------------------------


def test_leaderboard_by_hand(con):
    rows = by_key(run_query(con, "leaderboard"), "run_id", "currency")
    assert set(rows) == {("alpha", "USDT"), ("alpha", "BNB"), ("0042", "USDT")}

    a = rows["alpha", "USDT"]
    assert a["rank"] == 1
    assert a["net_pnl"] == D("22.36")  # 19.4 + 6.01 (snapshot) - 3 - 0.05 (open position)
    assert a["commission"] == D("0.64")  # 0.1 + 0.1 + 0.2 + 0.2 - 0.01 + 0.05
    assert a["trades"] == 7
    assert a["closed_positions"] == 3
    assert a["win_rate"] == pytest.approx(2 / 3)
    assert a["max_drawdown"] == D("30")  # 1020 (intraday peak) -> 990
    assert a["max_drawdown_pct"] == pytest.approx(30 / 1020)
    r = [990 / 1010 - 1, 1030 / 990 - 1, 1021.91 / 1030 - 1]
    assert a["sharpe"] == pytest.approx(np.mean(r) / np.std(r, ddof=1) * math.sqrt(252))
    assert a["return_days"] == 3
    assert a["turnover"] == D("572.75")  # 99 + 100 + 110 + 109 + 50 + 44 + 0.5 * 121.5

    bnb = rows["alpha", "BNB"]
    assert (bnb["net_pnl"], bnb["commission"], bnb["trades"], bnb["closed_positions"]) == (D(0), D("0.001"), 7, 0)
    assert bnb["win_rate"] is None and bnb["max_drawdown"] is None and bnb["sharpe"] is None

    b = rows["0042", "USDT"]
    assert b["rank"] == 2
    assert (b["net_pnl"], b["commission"], b["trades"], b["closed_positions"]) == (D("-11.55"), D("1.05"), 3, 1)
    assert b["win_rate"] == 0.0
    assert b["max_drawdown"] == D("11.55") and b["max_drawdown_pct"] == pytest.approx(11.55 / 500)
    assert b["sharpe"] is None and b["return_days"] == 1  # one return: no standard deviation
    assert b["turnover"] == D("610.5")  # 101 + 2 * 99.5 + 3 * 103.5


def test_leaderboard_against_pandas(con):
    rows = by_key(run_query(con, "leaderboard"), "run_id", "currency")
    for run in (alpha(), run_0042()):
        pos, fills, eq = run.positions, run.fills, run.equity_curve
        row = rows[run.run_id, "USDT"]
        assert row["net_pnl"] == pos.loc[pos.currency == "USDT", "realized_pnl"].sum()
        assert row["commission"] == fills.loc[fills.commission_currency == "USDT", "commission"].sum()
        assert row["trades"] == len(fills)
        closed = pos[pos.ts_closed.notna()]
        assert row["win_rate"] == pytest.approx((closed.realized_pnl > 0).mean())
        assert row["turnover"] == (fills.last_qty * fills.last_px).sum()
        dd, dd_pct = pandas_max_drawdown(eq)
        assert row["max_drawdown"] == dd and row["max_drawdown_pct"] == pytest.approx(dd_pct)
        sharpe, days = pandas_sharpe(eq)
        assert row["return_days"] == days
        assert row["sharpe"] == (pytest.approx(sharpe) if sharpe is not None else None)


def test_leaderboard_for_chosen_runs(con):
    rows = run_query(con, "leaderboard", {"run_ids": ["0042"]}).to_pylist()
    assert [(r["run_id"], r["currency"], r["rank"], r["net_pnl"]) for r in rows] == [("0042", "USDT", 1, D("-11.55"))]
    # An uncommitted run asked for by name still shows nothing.
    assert run_query(con, "leaderboard", {"run_ids": "gamma"}).num_rows == 0


# --- run A versus run B -----------------------------------------------------------------------


def test_run_vs_run_by_hand(con):
    rows = by_key(run_query(con, "run_vs_run", {"run_a": "alpha", "run_b": "0042"}), "instrument_id", "currency")
    assert list(rows) == [(BTC, "USDT"), (ETH, "BNB"), (ETH, "USDT")]

    btc = rows[BTC, "USDT"]
    assert (btc["net_pnl_a"], btc["net_pnl_b"], btc["net_pnl_diff"]) == (D("19.35"), D("-11.55"), D("-30.9"))
    assert (btc["commission_a"], btc["commission_b"], btc["commission_diff"]) == (D("0.65"), D("1.05"), D("0.4"))
    assert (btc["fills_a"], btc["fills_b"], btc["volume_a"], btc["volume_b"]) == (5, 3, D("4.5"), D("6"))
    assert (btc["closed_positions_a"], btc["closed_positions_b"], btc["win_rate_a"], btc["win_rate_b"]) == (1, 1, 1.0, 0.0)

    eth = rows[ETH, "USDT"]
    assert (eth["net_pnl_a"], eth["net_pnl_b"], eth["net_pnl_diff"]) == (D("3.01"), D(0), D("-3.01"))
    assert (eth["commission_a"], eth["fills_a"], eth["closed_positions_a"], eth["win_rate_a"]) == (D("-0.01"), 1, 2, 0.5)
    assert eth["fills_b"] == 0 and eth["win_rate_b"] is None

    bnb = rows[ETH, "BNB"]
    assert (bnb["commission_a"], bnb["fills_a"], bnb["net_pnl_a"], bnb["commission_diff"]) == (D("0.001"), 1, D(0), D("-0.001"))


def test_run_vs_run_swapped_flips_the_differences_and_ignores_uncommitted(con):
    ab = by_key(run_query(con, "run_vs_run", {"run_a": "alpha", "run_b": "0042"}), "instrument_id", "currency")
    ba = by_key(run_query(con, "run_vs_run", {"run_a": "0042", "run_b": "alpha"}), "instrument_id", "currency")
    for key in ab:
        assert ba[key]["net_pnl_diff"] == -ab[key]["net_pnl_diff"]
        assert ba[key]["net_pnl_a"] == ab[key]["net_pnl_b"]
    vs_gamma = run_query(con, "run_vs_run", {"run_a": "alpha", "run_b": "gamma"}).to_pylist()
    assert all(r["net_pnl_b"] == 0 and r["fills_b"] == 0 for r in vs_gamma)


# --- slippage and commission ------------------------------------------------------------------


def test_slippage_and_commission_by_hand(con):
    rows = by_key(run_query(con, "slippage_commission"), "run_id", "liquidity_side", "commission_currency")
    assert list(rows) == [
        ("0042", "MAKER", "USDT"),
        ("0042", "TAKER", "USDT"),
        ("alpha", "MAKER", "USDT"),
        ("alpha", "TAKER", "BNB"),
        ("alpha", "TAKER", "USDT"),
    ]
    # alpha makers: T-1 buys 1 @ 99 vs limit 100 (-1), T-2 1 @ 100 (0), T-6 buys 1 @ 44 vs limit 45 (-1)
    m = rows["alpha", "MAKER", "USDT"]
    assert (m["fills"], m["volume"], m["notional"], m["commission"]) == (3, D(3), D(243), D("0.19"))
    assert m["slippage"] == D(-2)
    assert m["slippage_bps"] == pytest.approx(-2 / (100 + 100 + 45) * 1e4)
    assert m["commission_bps"] == pytest.approx(0.19 / 243 * 1e4)
    assert (m["fills_vs_limit"], m["fills_vs_first_fill"]) == (3, 0)
    # alpha takers in USDT: market sell O-2 (110 first, then 109: +1), T-7 buys 0.5 @ 121.5 vs limit 120 (+0.75)
    t = rows["alpha", "TAKER", "USDT"]
    assert (t["fills"], t["volume"], t["notional"], t["commission"]) == (3, D("2.5"), D("279.75"), D("0.45"))
    assert t["slippage"] == D("1.75")
    assert t["slippage_bps"] == pytest.approx(1.75 / (110 + 110 + 60) * 1e4)
    assert (t["fills_vs_limit"], t["fills_vs_first_fill"]) == (1, 2)
    bnb = rows["alpha", "TAKER", "BNB"]
    assert (bnb["fills"], bnb["commission"], bnb["slippage"]) == (1, D("0.001"), D(0))
    assert bnb["commission_bps"] == pytest.approx(0.001 / 50 * 1e4)
    # 0042: market sell 1 @ 101 then 2 @ 99.5 (+1.5 each); limit buy 3 @ 103.5 vs 104 (-0.5 each)
    t = rows["0042", "TAKER", "USDT"]
    assert (t["slippage"], t["notional"], t["commission"]) == (D(3), D(300), D("0.9"))
    assert t["slippage_bps"] == pytest.approx(3 / 303 * 1e4) and t["commission_bps"] == pytest.approx(30.0)
    m = rows["0042", "MAKER", "USDT"]
    assert (m["slippage"], m["notional"], m["fills_vs_limit"]) == (D("-1.5"), D("310.5"), 1)


def test_slippage_against_pandas(con):
    rows = by_key(run_query(con, "slippage_commission", {"run_ids": ["alpha", "0042"]}), "run_id", "liquidity_side", "commission_currency")
    for run in (alpha(), run_0042()):
        f = run.fills.merge(run.orders[["client_order_id", "price"]], on="client_order_id")
        f = f.sort_values(["ts_event", "trade_id"])
        f["first_px"] = f.groupby("client_order_id")["last_px"].transform("first")
        f["ref"] = [p if p is not None and not pd.isna(p) else fp for p, fp in zip(f["price"], f["first_px"])]
        sign = np.where(f["order_side"] == "BUY", 1, -1)
        f["slip"] = [(px - ref) * s * q for px, ref, s, q in zip(f["last_px"], f["ref"], sign, f["last_qty"])]
        for (side, ccy), g in f.groupby(["liquidity_side", "commission_currency"]):
            row = rows[run.run_id, side, ccy]
            assert row["slippage"] == sum(g["slip"]) and row["commission"] == sum(g["commission"])
            assert row["fills"] == len(g)


# --- equity curves side by side ---------------------------------------------------------------


def test_equity_daily_by_hand(con):
    rows = run_query(con, "equity_daily").to_pylist()
    assert [(str(r["day"]), r["run_id"], r["equity"]) for r in rows] == [
        ("2024-01-01", "alpha", D(1010)),
        ("2024-01-02", "0042", D("488.45")),
        ("2024-01-02", "alpha", D(990)),
        ("2024-01-03", "0042", D(490)),
        ("2024-01-03", "alpha", D(1030)),
        ("2024-01-04", "alpha", D("1021.91")),
    ]
    a = [r for r in rows if r["run_id"] == "alpha"]
    assert [r["change"] for r in a] == [D(0), D(-20), D(20), D("11.91")]
    assert [r["rebased"] for r in a] == pytest.approx([1, 990 / 1010, 1030 / 1010, 1021.91 / 1010])
    assert [r["drawdown_pct"] for r in a] == pytest.approx([0, 20 / 1010, 0, (1030 - 1021.91) / 1030])
    assert a[-1]["balance"] == D("1022.41") and a[-1]["unrealized_pnl"] == D("-0.5")
    only = run_query(con, "equity_daily", {"run_ids": "0042"}).to_pylist()
    assert [(r["run_id"], r["change"]) for r in only] == [("0042", D(0)), ("0042", D("1.55"))]


def test_days_are_utc_whatever_the_machine_zone(lake, monkeypatch):
    # 0042's sample at 23:00 UTC on Jan 2 is Jan 3 in Tokyo; BigQuery's DATE() is UTC, and so must DuckDB's be.
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        rows = query_lake(lake, "equity_daily", {"run_ids": ["0042"]}).to_pylist()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [(str(r["day"]), r["equity"]) for r in rows] == [("2024-01-02", D("488.45")), ("2024-01-03", D(490))]


# --- holding time -----------------------------------------------------------------------------


def test_holding_time_by_hand(con):
    rows = by_key(run_query(con, "holding_time"), "run_id", "bucket")
    assert list(rows) == [("0042", 5), ("alpha", 0), ("alpha", 2), ("alpha", 5)]
    quick, minute, hours = rows["alpha", 0], rows["alpha", 2], rows["alpha", 5]
    assert (quick["holding_time"], quick["positions"], quick["net_pnl"], quick["win_rate"]) == ("< 1s", 1, D(-3), 0.0)
    assert quick["avg_holding_seconds"] == pytest.approx(0.25)
    # P-1 is held 29 s and 1 ns: the exact nanosecond columns keep it
    assert minute["avg_holding_seconds"] == 29.000000001 and minute["max_holding_seconds"] == 29.000000001
    assert (minute["net_pnl"], minute["win_rate"], minute["share"]) == (D("19.4"), 1.0, pytest.approx(1 / 3))
    assert (hours["holding_time"], hours["avg_holding_seconds"], hours["net_pnl"]) == ("1h - 1d", 7259.0, D("6.01"))
    assert sum(r["positions"] for r in rows.values() if r["run_id"] == "alpha") == 3  # the open P-3 is left out
    b = rows["0042", 5]
    assert (b["positions"], b["share"], b["avg_holding_seconds"], b["net_pnl"]) == (1, 1.0, 3699.0, D("-11.55"))


def test_holding_time_against_pandas(con):
    rows = run_query(con, "holding_time", {"run_ids": ["alpha"]}).to_pylist()
    pos = alpha().positions
    closed = pos[pos.ts_closed.notna()]
    seconds = [(c - o).value / 1e9 for o, c in zip(closed.ts_opened, closed.ts_closed)]
    edges = [1, 10, 60, 600, 3600, 86400]
    buckets = pd.Series([sum(s >= e for e in edges) for s in seconds]).value_counts().sort_index()
    assert [(r["bucket"], r["positions"]) for r in rows] == list(buckets.items())
    assert sum(r["net_pnl"] for r in rows) == closed.realized_pnl.sum()


# --- parameters -------------------------------------------------------------------------------


def test_parameters_are_checked_and_bound_as_values(con):
    with pytest.raises(QueryError, match=r"missing parameter @run_b"):
        run_query(con, "run_vs_run", {"run_a": "alpha"})
    with pytest.raises(QueryError, match=r"unknown parameter\(s\) @run_c"):
        run_query(con, "run_vs_run", {"run_a": "alpha", "run_b": "0042", "run_c": "x"})
    # A value is a value, never SQL.
    sneaky = "alpha') OR ('1' = '1"
    assert run_query(con, "leaderboard", {"run_ids": [sneaky]}).num_rows == 0
    got = run_query(
        con,
        "-- Typed parameters\n-- Parameters:\n--   @n INT64 a number\n--   @d DATE a day\n--   @b BOOL (default: true)\n"
        "SELECT @n + 1 AS n, @d AS d, NOT @b AS b",
        {"n": "41", "d": "2024-02-29"},
    ).to_pylist()
    assert got == [{"n": 42, "d": pd.Timestamp("2024-02-29").date(), "b": False}]
    with pytest.raises(QueryError, match=r"'x' is not a valid INT64"):
        run_query(con, "-- q\n-- Parameters:\n--   @n INT64 n\nSELECT @n", {"n": "x"})
    with pytest.raises(QueryError, match=r"@m is used but not declared"):
        run_query(con, "-- q\nSELECT @m", {})


def test_array_parameters_bind_as_constants_that_prune(con):
    """`run_id IN UNNEST(@run_ids)` becomes a literal list (FALSE when empty), not a per-row CASE over the array."""
    from lake.catalog.translate import load_query, to_duckdb

    some = to_duckdb(load_query("leaderboard"), {"run_ids": ["alpha", "0042"]})[-1]
    assert "f.run_id IN ('alpha', '0042')" in some and "ARRAY_CONTAINS" not in some
    empty = to_duckdb(load_query("leaderboard"), {"run_ids": []})[-1]
    assert "WHERE 0 = 0 OR FALSE" in empty and "ARRAY_CONTAINS" not in empty
    # and the answers are those of the runs named
    assert {r["run_id"] for r in run_query(con, "leaderboard", {"run_ids": ["0042"]}).to_pylist()} == {"0042"}
    assert run_query(con, "holding_time", {"run_ids": ["nope"]}).num_rows == 0
