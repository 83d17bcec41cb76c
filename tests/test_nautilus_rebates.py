"""Maker rebates: a venue whose maker fee is negative pays resting orders, and the lake keeps the sign.

A real NautilusTrader backtest on an instrument with maker_fee -0.025% and taker_fee 0.1%: limit orders that
rest and fill are MAKER fills with a negative commission, market orders TAKER fills with a positive one.
Every fill, every position and the runs row's totals are compared with Nautilus's own reports, before and
after the run is written and read back.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from lake import layout, write_run
from lake.nautilus import from_nautilus
from tests.nautilus_scenarios import BTC, act, engine, money, rows

MAKER_FEE = Decimal("-0.00025")

ACTIONS = [
    act(3, BTC, "BUY", "2", type="LIMIT", offset="-40"),  # rests below the market, fills later in two parts: maker
    act(5, BTC, "BUY", "1"),  # taker
    act(10, BTC, "SELL", "2", type="LIMIT", offset="40"),  # never reached: stays open, no fill
    act(20, BTC, "SELL", "0.5", type="LIMIT", offset="60"),  # rests above, fills later: maker
    act(40, BTC, close_all="1"),  # taker
]


@pytest.fixture(scope="module")
def rebates():
    eng = engine(oms="NETTING", account="MARGIN", actions=ACTIONS, maker_fee=MAKER_FEE)
    return eng, from_nautilus(eng)


def reported_fills(eng) -> dict[str, dict]:
    """trade_id -> the fill as generate_fills_report shows it (commission parsed from '-8.69415820 USDT')."""
    report = eng.trader.generate_fills_report()
    return {
        r["trade_id"]: {"client_order_id": cid, "liquidity_side": r["liquidity_side"], "commission": money(r["commission"])}
        for cid, r in report.iterrows()
    }


def test_maker_fills_are_paid_and_taker_fills_pay(rebates):
    eng, _ = rebates
    fills = reported_fills(eng)
    signs = sorted((f["liquidity_side"], f["commission"][0] > 0) for f in fills.values())
    assert signs == [("MAKER", False)] * 3 + [("TAKER", True)] * 2  # the scenario has both kinds, in Nautilus's words


def test_every_commission_keeps_its_sign_as_nautilus_reports_it(rebates):
    eng, run = rebates
    expected = reported_fills(eng)
    ours = rows(run.fills, "trade_id")
    assert set(ours) == set(expected)
    for trade_id, fill in expected.items():
        got = ours[trade_id]
        assert (got["commission"], got["commission_currency"]) == fill["commission"], trade_id
        assert (got["liquidity_side"], got["client_order_id"]) == (fill["liquidity_side"], fill["client_order_id"])
    assert min(f["commission"] for f in ours.values()) < 0


def test_realized_pnl_includes_the_rebates_as_nautilus_reports_it(rebates):
    eng, run = rebates
    report = eng.trader.generate_positions_report()
    ours = rows(run.positions, "position_id")
    assert set(ours) == set(report.index)
    for pid, r in report.iterrows():
        assert (ours[pid]["realized_pnl"], ours[pid]["currency"]) == money(r["realized_pnl"])


def test_the_written_run_keeps_the_sign_and_sums_it_exactly(rebates, tmp_path):
    eng, run = rebates
    write_run(run, tmp_path)
    expected = reported_fills(eng)
    stored = {r["trade_id"]: r for r in pq.read_table(tmp_path / layout.lake_key(run.run_id, "fills")).to_pylist()}
    assert {t: (r["commission"], r["commission_currency"]) for t, r in stored.items()} == {
        t: f["commission"] for t, f in expected.items()
    }
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for amount, currency in (f["commission"] for f in expected.values()):
        totals[currency] += amount
    row = pq.read_table(tmp_path / layout.commit_key(run.run_id)).to_pylist()[0]
    assert row["commission"] == totals["USDT"]
    assert {c: Decimal(v) for c, v in json.loads(row["commission_by_currency"]).items()} == dict(totals)
    rebate = -sum(f["commission"][0] for f in expected.values() if f["liquidity_side"] == "MAKER")
    assert rebate > 0 and row["commission"] == sum(
        f["commission"][0] for f in expected.values() if f["liquidity_side"] == "TAKER") - rebate
