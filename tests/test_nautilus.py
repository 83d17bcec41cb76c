"""from_nautilus against NautilusTrader's own reports, on small real backtests.

Every scenario compares each extracted table with generate_orders_report,
generate_fills_report, generate_positions_report and generate_account_report of
the same engine: same rows, same ids, values equal exactly after parsing the
report strings (average prices: Nautilus's float, rounded half-even to 9 decimals).
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

import nautilus_trader
import pyarrow.parquet as pq
import pytest

from lake import write_run
from lake.fixed_point import units_array
from lake.nautilus import (
    ExtractionError,
    account_state_samples,
    equity_table,
    float_to_units,
    from_nautilus,
    raw_to_units,
)
from tests.nautilus_scenarios import BTC, ETH, act, dec, engine, money, ns, rows
from schemas import TABLES

# The tested releases differ here (1.221.x on Python 3.11, 1.231.x on 3.12+); the installed one sets the expectation.
NAUTILUS_VERSION = tuple(int(part) for part in re.match(r"(\d+)\.(\d+)", nautilus_trader.__version__).groups())
FLIP_KEEPS_CLOSED_LEG = NAUTILUS_VERSION >= (1, 231)

# ---------------------------------------------------------------- scenarios (one engine each, shared per module)

NETTING_ACTIONS = [
    act(3, BTC, "BUY", "2"),
    act(5, BTC, "BUY", "60"),  # more than the bar's top-of-book size: several fills
    act(8, BTC, "SELL", "20", type="LIMIT", offset="30"),  # resting limit, filled in parts
    act(12, BTC, "BUY", "1", type="LIMIT", offset="-5000"),  # never fills; canceled at bar 20
    act(14, BTC, "SELL", "1", type="STOP_MARKET", offset="-20"),
    act(16, BTC, "BUY", "1", type="LIMIT", offset="-3000", time_in_force="IOC"),  # canceled at once
    act(17, BTC, "SELL", "1", type="STOP_LIMIT", offset="-15", limit_offset="-5"),
    act(20, BTC, cancel_all="1"),
    act(24, BTC, close_all="1"),  # closes the leg: a snapshot once the position reopens
    act(28, BTC, "SELL", "3"),
    act(34, BTC, close_all="1"),
    act(40, BTC, "BUY", "1.5"),  # stays open
]

HEDGING_ACTIONS = [
    act(3, BTC, "BUY", "1", type="LIMIT", offset="-20"),
    act(4, BTC, "BUY", "40", type="LIMIT", offset="5"),  # marketable limit bigger than the book: parts
    act(6, BTC, "SELL", "0.5"),  # HEDGING: a separate short position
    act(15, BTC, close_all="1"),
    act(20, BTC, "SELL", "2", type="LIMIT", offset="10"),
]

FLIP_ACTIONS = [
    act(3, BTC, "BUY", "2"),
    act(6, BTC, "SELL", "5"),  # one order through zero: 1.221 keeps no snapshot of the closed long, 1.231 does
    act(10, BTC, "BUY", "3"),  # closes the short
]

TWO_INSTRUMENT_ACTIONS = [
    act(3, BTC, "BUY", "1"),
    act(3, ETH, "SELL", "10"),
    act(7, ETH, "BUY", "10", type="LIMIT", offset="-2"),
    act(12, BTC, close_all="1"),
    act(12, ETH, close_all="1"),
    act(15, ETH, "BUY", "4"),
]


@pytest.fixture(scope="module")
def netting_margin():
    return engine(oms="NETTING", account="MARGIN", actions=NETTING_ACTIONS)


@pytest.fixture(scope="module")
def hedging_cash():
    return engine(oms="HEDGING", account="CASH", actions=HEDGING_ACTIONS)


@pytest.fixture(scope="module")
def netting_flip():
    return engine(oms="NETTING", account="MARGIN", actions=FLIP_ACTIONS, recorder=False)


@pytest.fixture(scope="module")
def two_instruments():
    return engine(oms="NETTING", account="MARGIN", actions=TWO_INSTRUMENT_ACTIONS, symbols=("BTCUSDT", "ETHUSDT"))


@pytest.fixture(scope="module")
def no_trades():
    return engine(oms="NETTING", account="CASH", actions=[])


SCENARIOS = ["netting_margin", "hedging_cash", "netting_flip", "two_instruments", "no_trades"]


@pytest.fixture(scope="module")
def extracted(request):
    """scenario name -> (engine, Run), extracted once."""
    cache = {}

    def get(name):
        if name not in cache:
            eng = request.getfixturevalue(name)
            cache[name] = (eng, from_nautilus(eng))
        return cache[name]

    return get


# ---------------------------------------------------------------- comparisons with Nautilus's reports


def assert_orders_match(eng, run):
    report = eng.trader.generate_orders_report()
    ours = rows(run.orders, "client_order_id")
    assert set(ours) == set(report.index)
    for cid, r in report.iterrows():
        o = ours[cid]
        assert o["venue_order_id"] == (r["venue_order_id"] if isinstance(r["venue_order_id"], str) else None)
        assert (o["strategy_id"], o["instrument_id"]) == (r["strategy_id"], r["instrument_id"])
        assert (o["order_side"], o["order_type"], o["status"], o["time_in_force"]) == (
            r["side"], r["type"], r["status"], r["time_in_force"])
        assert o["quantity"] == dec(r["quantity"]) and o["filled_qty"] == dec(r["filled_qty"])
        assert o["price"] == dec(r.get("price")), cid
        assert o["trigger_price"] == dec(r.get("trigger_price")), cid
        assert o["avg_px"] == dec(r["avg_px"]), cid
        assert o["ts_init_ns"] == r["ts_init"] and o["ts_last_ns"] == (r["ts_last"] or r["ts_init"])
        assert o["ts_init"].timestamp() * 1e6 == pytest.approx(r["ts_init"] // 1000)


def assert_fills_match(eng, run):
    report = eng.trader.generate_fills_report()
    ours = rows(run.fills, "trade_id")
    if report.empty:
        assert run.fills.num_rows == 0
        return
    assert sorted(ours) == sorted(report["trade_id"])
    for cid, r in report.iterrows():
        f = ours[r["trade_id"]]
        assert f["client_order_id"] == cid
        assert (f["venue_order_id"], f["position_id"], f["strategy_id"], f["instrument_id"]) == (
            r["venue_order_id"], r["position_id"], r["strategy_id"], r["instrument_id"])
        assert (f["order_side"], f["liquidity_side"]) == (r["order_side"], r["liquidity_side"])
        assert f["last_qty"] == dec(r["last_qty"]) and f["last_px"] == dec(r["last_px"])
        assert (f["commission"], f["commission_currency"]) == money(r["commission"])
        assert f["ts_event_ns"] == ns(r["ts_event"])


def assert_positions_match(eng, run):
    report = eng.trader.generate_positions_report()
    ours = rows(run.positions, "position_id")
    if report.empty:
        assert run.positions.num_rows == 0
        return
    assert set(ours) == set(report.index)
    for pid, r in report.iterrows():
        p = ours[pid]
        assert (p["strategy_id"], p["instrument_id"], p["opening_order_id"]) == (
            r["strategy_id"], r["instrument_id"], r["opening_order_id"])
        assert p["closing_order_id"] == (r["closing_order_id"] if isinstance(r["closing_order_id"], str) else None)
        assert (p["entry"], p["side"], p["is_snapshot"]) == (r["entry"], r["side"], bool(r["is_snapshot"]))
        assert p["quantity"] == dec(r["quantity"]) and p["peak_qty"] == dec(r["peak_qty"])
        assert p["avg_px_open"] == dec(r["avg_px_open"]) and p["avg_px_close"] == dec(r["avg_px_close"]), pid
        assert (p["realized_pnl"], p["currency"]) == money(r["realized_pnl"])
        assert p["ts_opened_ns"] == ns(r["ts_opened"]) and p["ts_closed_ns"] == ns(r["ts_closed"])


def assert_account_matches(eng, run):
    """Account states (the realized equity fallback) equal generate_account_report, balance by balance."""
    from nautilus_trader.model.identifiers import Venue

    report = eng.trader.generate_account_report(Venue("BINANCE"))
    expected = {}
    for ts, r in report.iterrows():  # sorted by time; the last state within a microsecond wins
        expected[(ts.value // 1000, r["currency"])] = Decimal(r["total"]).quantize(Decimal("1e-9"))
    samples = account_state_samples(eng.cache.accounts())
    assert {k: Decimal(v[0]).scaleb(-9) for k, v in samples.items()} == expected
    if run.summary["equity_source"] == "account_states":
        got = {(r["ts"].timestamp() * 1_000_000, r["currency"]): r["balance"] for r in run.equity_curve.to_pylist()}
        assert {(int(k[0]), k[1]): v for k, v in got.items()} == expected
        assert all(r["unrealized_pnl"] == 0 for r in run.equity_curve.to_pylist())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_tables_equal_nautilus_reports(extracted, scenario):
    eng, run = extracted(scenario)
    for name in ("orders", "fills", "positions", "equity_curve"):
        assert run.tables()[name].schema == TABLES[name].arrow_schema
    assert_orders_match(eng, run)
    assert_fills_match(eng, run)
    assert_positions_match(eng, run)
    assert_account_matches(eng, run)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_run_passes_contract_and_write_run(extracted, scenario, tmp_path):
    _, run = extracted(scenario)
    report = write_run(run, tmp_path)
    assert report.run_id == run.run_id
    for name in ("orders", "fills", "positions", "equity_curve"):
        stored = pq.read_table(tmp_path / "lake" / name / f"run_id={run.run_id}" / "part-00000.parquet")
        assert stored.num_rows == run.tables()[name].num_rows
        assert stored.cast(TABLES[name].arrow_schema).equals(run.tables()[name])
    runs_row = pq.read_table(tmp_path / "lake" / "runs" / f"run_id={run.run_id}" / "part-00000.parquet").to_pylist()[0]
    assert runs_row["fill_count"] == run.fills.num_rows and runs_row["trader_id"] == "BACKTESTER-001"


def _pnl_by_currency(run) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for p in run.positions.to_pylist():
        out[p["currency"]] += p["realized_pnl"]
    return dict(out)


@pytest.mark.parametrize("scenario", ["netting_margin", "two_instruments"])
def test_summary_pnl_equals_positions(extracted, scenario):
    """MARGIN accounts, every closed leg present (snapshots included): PnL (total) is the sum of realized PnL.

    (For a CASH account Nautilus's PnL (total) is the change of the quote balance,
    which also moves with the base asset bought or sold, so no such identity holds.)
    """
    _, run = extracted(scenario)
    pnl = _pnl_by_currency(run)
    assert pnl
    for currency, total in pnl.items():
        assert run.summary["stats_pnls"][currency]["PnL (total)"] == pytest.approx(float(total), abs=1e-6)


def _closed_leg_pnl(opening: list[dict], closing: list[dict]) -> Decimal:
    """Realized PnL of a long leg opened by `opening` fills and closed by the first units of `closing` fills."""
    qty = sum((f["last_qty"] for f in opening), Decimal(0))
    pnl = -sum((f["last_qty"] * f["last_px"] + f["commission"] for f in opening), Decimal(0))
    left = qty
    for f in sorted(closing, key=lambda f: f["ts_event_ns"]):
        part = min(left, f["last_qty"])
        pnl += part * f["last_px"] - f["commission"] * part / f["last_qty"]
        left -= part
    assert left == 0, "the closing fills do not cover the leg"
    return pnl


def test_netting_snapshots_are_marked_and_joinable(extracted):
    eng, run = extracted("netting_margin")
    positions = run.positions.to_pylist()
    snapshots = [p for p in positions if p["is_snapshot"]]
    assert len(snapshots) == 2 and len(positions) == 3
    base = "BTCUSDT.BINANCE-Scripted-000"
    for snap in snapshots:
        assert re.fullmatch(re.escape(base) + r"-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", snap["position_id"])
        assert snap["side"] == "FLAT" and snap["quantity"] == 0 and snap["closing_order_id"]
    # Each leg's fills are found through its opening and closing orders.
    fills_by_order = defaultdict(list)
    for f in run.fills.to_pylist():
        fills_by_order[f["client_order_id"]].append(f)
    for snap in snapshots:
        assert fills_by_order[snap["opening_order_id"]] and fills_by_order[snap["closing_order_id"]]
        assert all(f["position_id"] == base for f in fills_by_order[snap["opening_order_id"]])
    (live,) = [p for p in positions if not p["is_snapshot"]]
    assert live["position_id"] == base and live["side"] == "LONG" and live["quantity"] == Decimal("1.5")
    assert live["closing_order_id"] is None and live["ts_closed"] is None and live["avg_px_close"] is None


def test_partial_fills_and_order_types(extracted):
    _, run = extracted("netting_margin")
    orders = run.orders.to_pylist()
    fills = run.fills.to_pylist()
    per_order = defaultdict(list)
    for f in fills:
        per_order[f["client_order_id"]].append(f)
    kinds = {(o["order_type"], o["status"], o["time_in_force"]) for o in orders}
    assert {("MARKET", "FILLED", "GTC"), ("LIMIT", "FILLED", "GTC"), ("LIMIT", "CANCELED", "GTC"),
            ("LIMIT", "CANCELED", "IOC"), ("STOP_MARKET", "FILLED", "GTC")} <= kinds
    assert any(o["order_type"] == "STOP_LIMIT" and o["trigger_price"] is not None and o["price"] is not None
               for o in orders)
    split = [o for o in orders if len(per_order[o["client_order_id"]]) > 1]
    assert {o["order_type"] for o in split} >= {"MARKET", "LIMIT"}  # market and limit orders filled in parts
    for o in orders:
        parts = per_order[o["client_order_id"]]
        assert sum((f["last_qty"] for f in parts), Decimal(0)) == o["filled_qty"]
        if parts:  # the order's average price is the fills' volume-weighted price (to 9 decimals)
            vwap = sum(f["last_qty"] * f["last_px"] for f in parts) / o["filled_qty"]
            assert abs(o["avg_px"] - vwap) <= Decimal("1e-8")
        # Commission is 0.1% of the notional, rounded by Nautilus to the currency's 8 decimals.
        for f in parts:
            assert abs(f["commission"] - f["last_qty"] * f["last_px"] * Decimal("0.001")) <= Decimal("1e-8")


def test_single_order_flip(extracted):
    """Documented behaviour: one order takes a NETTING position through zero (long 2, then SELL 5: short 3).

    Both tested releases keep one live row under the position id: the leg reopened
    by the flipping order (its opening_order_id), while the fills of the earlier
    long leg carry the same position_id. They differ on the closed long leg:
    - 1.221 loses it: no row holds it, so its realized PnL is in Nautilus's
      PnL (total) but in no positions row (the sum of realized_pnl falls short);
    - 1.231 keeps it as a snapshot ('<position_id>-<uuid>', opened by the first
      order, closed by the flipping one), so realized PnL adds up to PnL (total).
    """
    eng, run = extracted("netting_flip")
    positions = run.positions.to_pylist()
    orders = sorted(run.orders.to_pylist(), key=lambda o: o["ts_init_ns"])
    (live,) = [p for p in positions if not p["is_snapshot"]]
    assert live["opening_order_id"] == orders[1]["client_order_id"]
    assert live["closing_order_id"] == orders[2]["client_order_id"]
    assert live["peak_qty"] == 3  # the short leg only
    first = [f for f in run.fills.to_pylist() if f["client_order_id"] == orders[0]["client_order_id"]]
    assert first and all(f["position_id"] == live["position_id"] for f in first)
    pnl = _pnl_by_currency(run)["USDT"]
    total = run.summary["stats_pnls"]["USDT"]["PnL (total)"]
    snapshots = [p for p in positions if p["is_snapshot"]]
    # The closed long leg, from the fills alone: bought 2, closed by the flipping order's first 2 units (its fills in
    # time order), with the opening commission and the closing fills' commission pro rata.
    leg_pnl = _closed_leg_pnl(first, [f for f in run.fills.to_pylist() if f["client_order_id"] == orders[1]["client_order_id"]])
    assert abs(leg_pnl) > 1  # a whole leg's PnL, not a rounding difference
    # Both releases: PnL (total) is the live row's realized PnL plus the closed leg's.
    assert total == pytest.approx(float(live["realized_pnl"] + leg_pnl), abs=1e-6)
    if FLIP_KEEPS_CLOSED_LEG:
        (leg,) = snapshots
        assert leg["position_id"].startswith(live["position_id"] + "-")
        assert (leg["opening_order_id"], leg["closing_order_id"]) == (orders[0]["client_order_id"], orders[1]["client_order_id"])
        assert leg["peak_qty"] == 2 and leg["side"] == "FLAT"
        assert abs(leg["realized_pnl"] - leg_pnl) <= Decimal("1e-8")  # the snapshot holds the leg's own PnL
        assert total == pytest.approx(float(pnl), abs=1e-6)
        assert run.summary["counts"]["position_snapshots"] == 1
    else:
        assert snapshots == [] and len(positions) == 1
        assert pnl == live["realized_pnl"]  # the leg's PnL is in no row: exactly what the sum falls short by
        assert total != pytest.approx(float(pnl), abs=1e-6)
        assert run.summary["counts"]["position_snapshots"] == 0
    assert run.summary["equity_source"] == "account_states"


def test_cash_account_equity_in_quote_currency(extracted):
    """A CASH account's BTC is valued in USDT: one equity figure, and balance + unrealized = equity."""
    eng, run = extracted("hedging_cash")
    assert run.summary["equity_source"] == "equity_recorder"
    eq = run.equity_curve.to_pylist()
    assert {r["currency"] for r in eq} == {"USDT", "ETH"}  # ETH is held but not traded: no price, own row
    usdt = [r for r in eq if r["currency"] == "USDT"]
    assert len(usdt) == 60  # one per bar (the sample at stop shares the last bar's time)
    assert all(r["equity"] == r["balance"] + r["unrealized_pnl"] for r in eq)
    assert any(r["unrealized_pnl"] != 0 for r in usdt)
    # At the last bar: USDT + BTC * close, as the account and the last bar say.
    account = eng.cache.account_for_venue(eng.list_venues()[0])
    from nautilus_trader.model.currencies import BTC as BTC_CCY, USDT

    last_close = eng.cache.bar(eng.cache.bar_types()[0]).close.as_decimal()
    expected = account.balance_total(USDT).as_decimal() + (account.balance_total(BTC_CCY).as_decimal() * last_close).quantize(Decimal("1e-8"))
    assert usdt[-1]["equity"] == expected


def test_margin_equity_balance_is_account_balance(extracted):
    eng, run = extracted("netting_margin")
    from nautilus_trader.model.currencies import USDT

    eq = [r for r in run.equity_curve.to_pylist() if r["currency"] == "USDT"]
    account = eng.cache.account_for_venue(eng.list_venues()[0])
    assert eq[-1]["balance"] == account.balance_total(USDT).as_decimal()
    # The open 1.5 BTC long is marked at the last close.
    pos = [p for p in eng.cache.positions_open()][0]
    last_close = eng.cache.bar(eng.cache.bar_types()[0]).close
    assert eq[-1]["unrealized_pnl"] == pos.unrealized_pnl(last_close).as_decimal()
    ts = [r["ts"] for r in eq]
    assert ts == sorted(ts) and len(ts) == len(set(ts))
    # Sampled after every account change: a MARGIN balance moves (commission, realized PnL) exactly at fill times.
    changes = {b["ts"] for a, b in zip(eq, eq[1:]) if b["balance"] != a["balance"]}
    assert changes == {f["ts_event"] for f in run.fills.to_pylist()}


def test_two_instruments_one_venue(extracted):
    _, run = extracted("two_instruments")
    assert {f["instrument_id"] for f in run.fills.to_pylist()} == {BTC, ETH}
    assert run.summary["instrument_ids"] == [BTC, ETH] and run.summary["venues"] == ["BINANCE"]
    assert {p["instrument_id"] for p in run.positions.to_pylist()} == {BTC, ETH}


def test_zero_trades(extracted, tmp_path):
    _, run = extracted("no_trades")
    assert run.orders.num_rows == run.fills.num_rows == run.positions.num_rows == 0
    assert run.equity_curve.num_rows > 0
    assert run.summary["total_orders"] == 0 and run.summary["stats_returns"]["Sharpe Ratio (252 days)"] is None


def test_summary_names_and_identity(extracted):
    eng, run = extracted("netting_margin")
    s = run.summary
    result = eng.get_result()
    for key in ("trader_id", "run_config_id", "iterations", "total_orders", "total_positions", "elapsed_time"):
        assert s[key] == getattr(result, key), key
    # One name per meaning: run_id is the lake's (the path's), NautilusTrader's run UUID is nautilus_run_id.
    assert s["run_id"] == run.run_id and s["nautilus_run_id"] == result.run_id != run.run_id
    assert s["strategy_ids"] == ["Scripted-000"] and s["venues"] == ["BINANCE"]
    assert s["backtest_start"] == "2024-01-01T00:01:00+00:00" and s["backtest_start_ns"] == result.backtest_start
    assert s["nautilus_trader_version"] == __import__("nautilus_trader").__version__
    assert "Win Rate" in s["stats_pnls"]["USDT"] and "Sharpe Ratio (252 days)" in s["stats_returns"]
    assert s["counts"]["position_snapshots"] == 2
    assert re.fullmatch(r"\d{8}T\d{6}Z-Scripted-000-[0-9a-f]{8}", run.run_id)
    assert run.config["strategies"][0]["path"] == "lake.nautilus.backtest.strategies:Scripted"


# ---------------------------------------------------------------- exact number conversion


def test_raw_conversion_is_exact_and_refuses_extra_decimals():
    from nautilus_trader.model.objects import FIXED_PRECISION, Money, Price, Quantity

    assert FIXED_PRECISION == 16  # this build is high-precision (int128 raw values)
    assert raw_to_units(Price.from_str("42123.61").raw) == 42123_610000000
    assert raw_to_units(Money.from_str("-0.000000001 USDT").raw if False else Quantity.from_str("0.000000001").raw) == 1
    assert raw_to_units(Money.from_str("-525.00000000 USDT").raw) == -525_000000000
    with pytest.raises(ExtractionError, match="more than 9 decimals"):
        raw_to_units(Price.from_str("1.0000000001").raw, "fills.last_px row 3")
    # A value beyond int64 units still converts exactly (the slow path).
    big = Quantity.from_str("123456789012.123456789")
    arr = units_array([raw_to_units(big.raw), None, -5])
    assert arr.to_pylist() == [Decimal("123456789012.123456789"), None, Decimal("-5E-9")]


def test_inexact_value_names_table_column_row_and_id():
    from lake.nautilus.units import raw_units_array
    from nautilus_trader.model.objects import Price

    ok, bad = Price.from_str("1.5").raw, Price.from_str("2.0000000001").raw
    with pytest.raises(ExtractionError, match=r"fills\.last_px row 1 \(T-2\): 2\.0000000001 needs more than 9 decimals"):
        raw_units_array([ok, bad], "fills", "last_px", ["T-1", "T-2"])


def test_float_average_prices_round_half_even():
    assert float_to_units(42777.369999999995) == 42777_370000000
    assert float_to_units(0.1) == 100000000
    # Ties on the repr's 10th decimal go to the even 9th digit; anything past a 5 rounds up.
    assert float_to_units(0.1234567895) == 123456790 and float_to_units(0.1234567885) == 123456788
    assert float_to_units(-0.1234567895) == -123456790 and float_to_units(0.12345678851) == 123456789
    assert float_to_units(1e20) == 10**29 and float_to_units(1e-10) == 0
    with pytest.raises(ExtractionError):
        float_to_units(float("nan"))


def test_equity_table_sorted_and_checked():
    t = equity_table({(2, "USDT"): (10, 5), (1, "USDT"): (3, -1)})
    assert [r["equity"] for r in t.to_pylist()] == [Decimal("2E-9"), Decimal("1.5E-8")]
    assert [r["peak_equity"] for r in t.to_pylist()] == [Decimal("2E-9"), Decimal("1.5E-8")]


def test_equity_recorder_on_quotes_samples_each_interval():
    """Quote-driven runs: one sample per interval (here a minute of 1-second quotes), not per quote."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    from lake.nautilus.backtest import market_data as md
    from lake.nautilus import EquityRecorder, EquityRecorderConfig

    eng = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    eng.add_venue(Venue("BINANCE"), oms_type=OmsType.NETTING, account_type=AccountType.CASH, base_currency=None,
                  starting_balances=[Money.from_str("1000 USDT"), Money.from_str("1 BTC")])
    eng.add_instrument(md.instrument("BTCUSDT"))
    quotes = md.quotes("BTCUSDT", 600, seed=2)
    eng.add_data(quotes)
    eng.add_actor(EquityRecorder(EquityRecorderConfig(quote_instrument_ids=(BTC,), interval_secs=60)))
    eng.run()
    run = from_nautilus(eng)
    eq = run.equity_curve.to_pylist()
    assert 10 <= len(eq) <= 12 and {r["currency"] for r in eq} == {"USDT"}
    # 1 BTC valued at the quote mid, in USDT: equity moves with the market although nothing traded.
    last = quotes[-1]
    mid = (last.bid_price.as_decimal() + last.ask_price.as_decimal()) / 2
    assert eq[-1]["equity"] == Decimal("1000") + mid.quantize(Decimal("1e-8"))
    assert len({r["equity"] for r in eq}) > 5


# ---------------------------------------------------------------- the engine's log file


def test_log_file_found_whatever_suffix_nautilus_gives_it(tmp_path):
    """1.221 writes a JSON log as '<log_file_name>.json', 1.231 as '.jsonl'; a dot in the name loses its last part."""
    from lake.errors import LakeError
    from lake.nautilus.documents import find_log_file

    (tmp_path / "run-1.jsonl").write_text('{"message": "1.231"}\n')
    assert find_log_file(tmp_path / "run-1") == tmp_path / "run-1.jsonl"  # the configured log_file_name
    assert find_log_file(tmp_path / "run-1.json") == tmp_path / "run-1.jsonl"  # the name 1.221 would have used
    (tmp_path / "run.v2.json").write_text('{"message": "1.221"}\n')
    assert find_log_file(tmp_path / "run.v2.x") == tmp_path / "run.v2.json"
    assert find_log_file(tmp_path / "run.v2.json") == tmp_path / "run.v2.json"  # an existing file is taken as is
    with pytest.raises(LakeError, match=r"log file not found in .*: looked for other-run and other-run\.json, "
                                        r"other-run\.jsonl, other-run\.log; the folder holds \['run-1\.jsonl'"):
        find_log_file(tmp_path / "other-run")
    with pytest.raises(LakeError, match="the folder does not exist"):
        find_log_file(tmp_path / "missing" / "run-1")


def test_log_lookup_prefers_the_newest_file_and_reads_its_exact_bytes(tmp_path):
    """Both suffixes present (a reused log folder): the file the logger just wrote wins; its bytes are kept as they are."""
    import os

    from lake.nautilus.documents import find_log_file, read_log

    older, newer = tmp_path / "run-3.json", tmp_path / "run-3.jsonl"
    older.write_bytes(b'{"message": "old"}\n')
    newer.write_bytes(b'{"message": "caf\xc3\xa9 \xff not UTF-8"}\n')
    os.utime(older, ns=(1_000_000_000, 1_000_000_000))
    os.utime(newer, ns=(2_000_000_000, 2_000_000_000))
    assert find_log_file(tmp_path / "run-3") == newer
    assert read_log(tmp_path / "run-3") == b'{"message": "caf\xc3\xa9 \xff not UTF-8"}\n'  # no decoding, no U+FFFD
    os.utime(older, ns=(3_000_000_000, 3_000_000_000))
    assert find_log_file(tmp_path / "run-3") == older and read_log(tmp_path / "run-3") == b'{"message": "old"}\n'
    assert read_log(None) is None


def test_the_installed_nautilus_log_file_is_found_and_stored_whole(tmp_path):
    """A real engine logging to a file (in its own process: Nautilus sets up logging once per process).

    The suffix is the installed release's (1.221: .json, 1.231: .jsonl); from_nautilus, given the configured
    name without it, returns that file's bytes, and write_run stores them as the run's log.
    """
    import json
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import json, os, sys
        from pathlib import Path
        from lake import layout, write_run
        from lake.nautilus import from_nautilus
        from lake.nautilus.backtest.runner import BacktestSpec, build_engine

        folder = Path(sys.argv[1])
        engine = build_engine(BacktestSpec(bars=100), log_dir=str(folder / "logs"), log_name="run-x")
        engine.run()
        run = from_nautilus(engine, run_id="run-x", log_path=folder / "logs" / "run-x")
        write_run(run, folder / "lake")
        (name,) = os.listdir(folder / "logs")
        print(json.dumps({
            "name": name,
            "read": run.log == (folder / "logs" / name).read_bytes(),
            "stored": (folder / "lake" / layout.log_key("run-x")).read_bytes() == run.log,
        }))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["name"] == ("run-x.jsonl" if NAUTILUS_VERSION >= (1, 231) else "run-x.json")
    assert out["read"] and out["stored"]
