"""NUMERIC products round as BigQuery rounds them, on DuckDB too.

BigQuery rounds every NUMERIC product (and quotient) to 9 decimals, half away from zero, row by row;
DuckDB keeps DECIMAL(38, 9) * DECIMAL(38, 9) exact as DECIMAL(38, 18) until a cast. So every such
product in the shipped SQL is cast to NUMERIC where it is computed (a check below refuses one that
is not), DuckDB's cast is shown to round half away from zero, and the answers on runs whose
products need more than 9 decimals are checked against BigQuery's rule computed in Python:
Decimal.quantize(ROUND_HALF_UP) of each product, then the sum.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal as D

import duckdb
import pandas as pd
import pytest

from lake.catalog import smoke
from lake.catalog.engine import open_engine, run_query
from lake.catalog.translate import numeric_hazards, to_duckdb
from lake.run import Run
from lake.write import write_run
from sql import SQL_DIR

NANO = D("0.000000001")


def bigquery_round(value: D) -> D:
    """BigQuery's rounding of a NUMERIC result: 9 decimals, half away from zero (Python's ROUND_HALF_UP)."""
    return value.quantize(NANO, rounding=ROUND_HALF_UP)


def three_dust_fills() -> Run:
    """The issue's example: three fills of 0.00000001 x 0.05 (each product 5e-10), and 0.00012345 x 65432.11."""
    t0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")
    t = lambda s, ns=0: t0 + pd.Timedelta(seconds=s) + pd.Timedelta(nanoseconds=ns)  # noqa: E731
    orders = pd.DataFrame(
        [
            smoke.order_row("O-1", smoke.DUSTC, "BUY", "MARKET", "0.00000003", None, "0.05", t(0), t(3)),
            smoke.order_row("O-2", smoke.BTC, "BUY", "LIMIT", "0.00012345", "65432.12", "65432.11", t(4), t(5)),
        ]
    )
    fills = pd.DataFrame(
        [
            smoke.fill_row(f"T-{i}", "O-1", "P-1", smoke.DUSTC, "BUY", "0.00000001", "0.05", "0", "USDT", "TAKER", t(i, i))
            for i in (1, 2, 3)
        ]
        + [smoke.fill_row("T-4", "O-2", "P-2", smoke.BTC, "BUY", "0.00012345", "65432.11", "0", "USDT", "MAKER", t(5))]
    )
    positions = pd.DataFrame(
        [
            smoke.position_row("P-1", smoke.DUSTC, "O-1", None, "BUY", "0.00000003", "0.00000003", "0.05", None, "0", t(1, 1), None),
            smoke.position_row("P-2", smoke.BTC, "O-2", None, "BUY", "0.00012345", "0.00012345", "65432.11", None, "0", t(5), None),
        ]
    )
    equity = smoke.equity_frame([(t(0), "USDT", "100", "0")])
    return Run("three-dust", {}, orders, fills, positions, equity)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    dest = tmp_path_factory.mktemp("rounding-lake")
    for run in (three_dust_fills(), smoke.dust_run()):
        write_run(run, dest)
    c = open_engine(dest)
    yield c
    c.close()


# --- DuckDB's cast is BigQuery's rounding -------------------------------------------------------

HALVES = ["0.0000000005", "0.0000000015", "0.0000000025", "-0.0000000005", "-0.0000000025", "8.0775939795",
          "1.9999999995", "-1.9999999995", "0.000000000499999999", "-0.000000000500000001", "12345678901234567.0000000005"]  # fmt: skip


@pytest.mark.parametrize("text", HALVES)
def test_duckdb_cast_to_scale_9_rounds_half_away_from_zero(text):
    got = duckdb.sql(f"SELECT CAST(CAST('{text}' AS DECIMAL(38, 18)) AS DECIMAL(38, 9))").fetchall()[0][0]
    assert got == bigquery_round(D(text))


def test_a_product_cast_to_numeric_in_bigquery_sql_rounds_like_bigquery_on_duckdb():
    pairs = [("0.00000001", "0.05"), ("0.00012345", "65432.11"), ("-0.00000001", "0.05"), ("0.00000001", "-0.15"),
             ("123456789.123456789", "0.000000001"), ("0.333333333", "0.333333333")]  # fmt: skip
    for a, b in pairs:
        sql = f"-- q\nSELECT CAST(CAST('{a}' AS NUMERIC) * CAST('{b}' AS NUMERIC) AS NUMERIC) AS p"
        (stmt,) = to_duckdb(sql)
        assert duckdb.sql(stmt).fetchall()[0][0] == bigquery_round(D(a) * D(b)), (a, b)
    # Not half-even, not truncation: the cases where they would differ.
    assert bigquery_round(D("-0.0000000005")) == D("-0.000000001")
    assert D("-0.0000000005").quantize(NANO, rounding=ROUND_HALF_EVEN) == 0


# --- the check over the shipped SQL -------------------------------------------------------------

CHECKED = sorted(SQL_DIR.glob("queries/*.sql")) + sorted(SQL_DIR.glob("views/*.sql")) + sorted(SQL_DIR.glob("commands/*.sql"))


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.relative_to(SQL_DIR).as_posix())
def test_every_numeric_product_in_shipped_sql_is_cast_per_row(path):
    assert numeric_hazards(path.read_text(), path.relative_to(SQL_DIR).as_posix()) == []


def test_the_check_finds_uncast_products_quotients_and_averages():
    old = (SQL_DIR / "queries" / "leaderboard.sql").read_text().replace(
        "SUM(CAST(f.last_qty * f.last_px AS NUMERIC))", "SUM(f.last_qty * f.last_px)"
    )
    assert [p.split(": ", 1)[1].split(":")[0] for p in numeric_hazards(old, "leaderboard")] == ["NUMERIC product not rounded per row"]
    sql = """
    WITH px AS (SELECT f.run_id, f.last_qty, COALESCE(f.last_px, 0) AS px FROM execution.fills AS f)
    SELECT
      SUM(last_qty * px) AS through_a_cte,                                   -- flagged: both NUMERIC
      CAST((last_qty * px) AS NUMERIC) AS parenthesised,                      -- fine
      last_qty * 2 AS times_an_integer,                                      -- fine: exact in both engines
      CAST(last_qty AS FLOAT64) * px AS as_floats,                           -- fine: FLOAT64
      SAFE_DIVIDE(last_qty, px) AS quotient,                                 -- flagged
      SAFE_DIVIDE(CAST(last_qty AS FLOAT64), CAST(px AS FLOAT64)) AS ratio,  -- fine
      AVG(px) AS mean                                                        -- flagged
    FROM px GROUP BY run_id, last_qty, px
    """
    problems = numeric_hazards(sql, "t")
    assert len(problems) == 3, problems
    assert any("product" in p and "`last_qty` * `px`" in p.replace("`px`.", "") for p in problems)
    assert any("quotient" in p and "SAFE_DIVIDE" in p for p in problems)
    assert any(p.startswith("t: AVG of NUMERIC") for p in problems)


# --- answers on products that need more than 9 decimals -----------------------------------------


def test_the_issues_example_three_fills_of_dust_turn_over_0_000000003(con):
    rows = {r["run_id"]: r for r in run_query(con, "leaderboard", {"run_ids": ["three-dust"]}).to_pylist()}
    exact = 3 * D("0.00000001") * D("0.05") + D("0.00012345") * D("65432.11")
    assert rows["three-dust"]["turnover"] == 3 * D("0.000000001") + D("8.077593980")  # what BigQuery gives
    assert bigquery_round(exact) != rows["three-dust"]["turnover"]  # what rounding once at the end would give


@pytest.mark.parametrize("run", [three_dust_fills(), smoke.dust_run()], ids=lambda r: r.run_id)
def test_leaderboard_turnover_follows_bigquerys_rule(con, run):
    rows = run_query(con, "leaderboard", {"run_ids": [run.run_id]}).to_pylist()
    expected = sum(bigquery_round(q * p) for q, p in zip(run.fills.last_qty, run.fills.last_px))
    assert {r["turnover"] for r in rows} == {expected}
    assert expected != bigquery_round(sum(q * p for q, p in zip(run.fills.last_qty, run.fills.last_px)))


def test_slippage_and_notional_follow_bigquerys_rule(con):
    run = smoke.dust_run()
    f = run.fills.merge(run.orders[["client_order_id", "price"]], on="client_order_id")
    f = f.sort_values(["ts_event", "trade_id"])
    f["first_px"] = f.groupby("client_order_id")["last_px"].transform("first")
    f["ref"] = [p if p is not None and not pd.isna(p) else fp for p, fp in zip(f["price"], f["first_px"])]
    f["per_unit"] = [px - ref if side == "BUY" else ref - px for px, ref, side in zip(f["last_px"], f["ref"], f["order_side"])]
    rows = {
        (r["liquidity_side"], r["commission_currency"]): r
        for r in run_query(con, "slippage_commission", {"run_ids": [run.run_id]}).to_pylist()
    }
    for (side, ccy), g in f.groupby(["liquidity_side", "commission_currency"]):
        row = rows[side, ccy]
        assert row["notional"] == sum(bigquery_round(q * p) for q, p in zip(g.last_qty, g.last_px))
        assert row["slippage"] == sum(bigquery_round(q * s) for q, s in zip(g.last_qty, g.per_unit))
    # The maker side holds a SELL limit 0.10 filled at 0.15: 0.00000001 x -0.05 = -5e-10, which BigQuery
    # rounds away from zero to -0.000000001 (half-even or truncation would give 0).
    maker = f[f.liquidity_side == "MAKER"]
    assert any(q * s == D("-0.0000000005") for q, s in zip(maker.last_qty, maker.per_unit))
