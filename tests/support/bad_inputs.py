"""Bad runs and what their error must say: shared by write_run's tests and check_run's agreement test.

TABLE_CASES break one table each, DOCUMENT_CASES the summary, config or log;
BAD_RUNS is every case as `make(run_id) -> Run` with the texts the error must
contain, so a test can feed the same bad run to write_run and to check_run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import lake
from lake.synthetic import synthetic_run


def pandas_tables():
    """A consistent run's four tables as pandas frames (fresh each call), and its summary."""
    run = synthetic_run("bad", 40, seed=5)
    return {name: table.to_pandas() for name, table in run.tables().items()}, run.summary


def set_cell(frame, column, row, value):
    frame[column] = frame[column].astype(object)
    frame.at[row, column] = value


def _case(table, mutate, *expected):
    return pytest.param(table, mutate, expected, id=f"{table}:{expected[0]}")


def _float_with_nan(f):
    f["last_px"] = f["last_px"].astype(float)
    f.loc[2, "last_px"] = np.nan


def _naive(f):
    f["ts_event"] = f["ts_event"].dt.tz_localize(None)


def _ns_disagrees(f):
    f["ts_event_ns"] = f["ts_event"].astype("int64") + 5_000


def _closed_before_opened(f):
    f["ts_closed"] = f["ts_closed"].astype(object)
    closed = f.index[f["ts_closed"].notna()][0]
    f.at[closed, "ts_closed"] = f.at[closed, "ts_opened"] - pd.Timedelta(seconds=1)


def _dup_equity(f):
    f.loc[1, "ts"] = f.loc[0, "ts"]


def _time_at(column, row, when):
    """Put one Python datetime (any year 1..9999) into a timestamp column, as an object column."""

    def mutate(f):
        values = [t.floor("us").to_pydatetime() for t in f[column]]
        values[row] = when
        f[column] = pd.Series(values, dtype=object)

    return mutate


def _seconds_at(column, row, seconds):
    """A timestamp[s, UTC] column (pandas datetime64[s, UTC]) with one value of `seconds` since the epoch."""

    def mutate(f):
        values = f[column].astype("datetime64[s, UTC]").astype("int64").to_numpy().copy()
        values[row] = seconds
        f[column] = pd.Series(values).astype("datetime64[s]").dt.tz_localize("UTC")

    return mutate


def _fill_more_than_filled_qty(f):
    set_cell(f, "last_qty", 0, f.at[0, "last_qty"] + Decimal("0.000000001"))


def _fill_less_than_filled_qty(f):
    set_cell(f, "last_qty", 0, f.at[0, "last_qty"] - Decimal("0.000000001"))


def _huge(column):
    """Every value of a money column at 9e28: each fits NUMERIC(38, 9), the run's total does not."""
    return lambda f: f.__setitem__(column, [Decimal("9e28")] * len(f))


class _BrokenMapping(Mapping):
    """A caller's mapping that cannot be read."""

    def __getitem__(self, key):
        raise RuntimeError("boom")

    def __iter__(self):
        return iter(["a"])

    def __len__(self):
        return 1


_UTC = dt.timezone.utc


# (table, mutate(frame) in place, texts the error names)
TABLE_CASES = [
    _case("fills", lambda f: f.drop(columns=["last_px"], inplace=True), "fills.last_px [missing_column]"),
    _case("orders", lambda f: f.__setitem__("foo", 1), "orders.foo [extra_column]"),
    _case("fills", lambda f: f.__setitem__("last_qty", "1.5"), "fills.last_qty [dtype]", "expected decimal"),
    _case("orders", lambda f: f.__setitem__("client_order_id", range(len(f))), "orders.client_order_id [dtype]", "expected string"),
    _case("fills", lambda f: f.__setitem__("ts_event", 1_700_000_000), "fills.ts_event [dtype]", "timestamp"),
    _case("fills", lambda f: set_cell(f, "trade_id", 3, None), "fills.trade_id [not_nullable]"),
    _case("fills", lambda f: set_cell(f, "trade_id", 4, f.at[1, "trade_id"]), "fills.trade_id [unique]", "'T-2'"),
    _case("orders", lambda f: set_cell(f, "quantity", 2, Decimal(0)), "orders.quantity [greater_than(0)]", "row 2"),
    _case("fills", lambda f: set_cell(f, "last_qty", 0, Decimal("-1")), "fills.last_qty [greater_than(0)]", "row 0"),
    _case("fills", _float_with_nan, "fills.last_px [not_nan]", "row 2"),
    _case("fills", lambda f: set_cell(f, "last_px", 1, Decimal("1.0000000001")), "fills.last_px [max_9_decimals]", "row 1"),
    _case("fills", lambda f: f.__setitem__("commission", 0.1 + 0.2), "fills.commission [max_9_decimals]"),
    _case("fills", _naive, "fills.ts_event [tz_aware]", "naive"),
    _case("orders", lambda f: set_cell(f, "order_side", 0, "HOLD"), "orders.order_side [isin(", "'HOLD'"),
    _case("fills", lambda f: set_cell(f, "liquidity_side", 5, "maker"), "fills.liquidity_side [isin(", "row 5"),
    _case("orders", lambda f: set_cell(f, "status", 0, "DONE"), "orders.status [isin("),
    _case("positions", _closed_before_opened, "positions [ts_closed_ge_ts_opened]"),
    _case("fills", lambda f: set_cell(f, "client_order_id", 0, "O-404"), "fills.client_order_id [references_orders]", "O-404"),
    _case("fills", lambda f: set_cell(f, "position_id", 0, "P-404"), "fills.position_id [references_positions]", "P-404"),
    _case("orders", lambda f: set_cell(f, "filled_qty", 0, f.at[0, "quantity"] + 1), "orders [filled_qty_le_quantity]"),
    _case("equity_curve", lambda f: set_cell(f, "equity", 0, f.at[0, "equity"] + 1), "equity_curve [equity_eq_balance_plus_unrealized]"),
    _case("equity_curve", _dup_equity, "equity_curve [multiple_fields_uniqueness]", "row 1"),
    _case("equity_curve", lambda f: f.__setitem__("peak_equity", f["equity"]), "equity_curve.peak_equity [matches_derivation]"),
    _case("fills", _ns_disagrees, "fills.ts_event_ns [ns_matches_timestamp]"),
    _case("positions", lambda f: set_cell(f, "avg_px_open", 0, Decimal("NaN")), "positions.avg_px_open [not_nullable]", "row 0"),
    _case("orders", lambda f: f.__setitem__("quantity", f["quantity"].astype(float) * 1e30), "orders.quantity [max_9_decimals]"),
    # times beyond what the column can hold (event times: int64 nanoseconds of their `_ns` companion)
    _case("fills", _time_at("ts_event", 1, dt.datetime(2300, 1, 1, tzinfo=_UTC)), "fills.ts_event [timestamp_range]",
          "2262-04-11T23:47:16.854775807Z", "ts_event_ns", "row 1: '2300-01-01"),
    _case("fills", _time_at("ts_event", 2, dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=_UTC)),
          "fills.ts_event [timestamp_range]", "row 2: '9999-12-31"),
    _case("orders", _time_at("ts_init", 0, dt.datetime(1, 1, 1, tzinfo=_UTC)), "orders.ts_init [timestamp_range]",
          "1677-09-21T00:12:43.145224192Z", "row 0: '0001-01-01"),
    _case("positions", _time_at("ts_opened", 0, dt.datetime(1677, 9, 21, 0, 12, 43, 145224, tzinfo=_UTC)),
          "positions.ts_opened [timestamp_range]", "row 0"),
    _case("orders", _seconds_at("ts_last", 3, 10**17), "orders.ts_last [timestamp_range]",
          "row 3: '100000000000000000 s since 1970-01-01"),
    _case("equity_curve", _seconds_at("ts", 4, 10**17), "equity_curve.ts [timestamp_range]",
          "BigQuery's TIMESTAMP range 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z", "row 4"),
    # empty or whitespace-only ids
    _case("orders", lambda f: set_cell(f, "client_order_id", 0, ""), "orders.client_order_id [client_order_id_not_blank]", "row 0"),
    _case("fills", lambda f: set_cell(f, "trade_id", 3, "  \t"), "fills.trade_id [trade_id_not_blank]", "row 3"),
    _case("fills", lambda f: set_cell(f, "instrument_id", 2, "\u3000"), "fills.instrument_id [instrument_id_not_blank]"),
    _case("positions", lambda f: set_cell(f, "closing_order_id", 1, " "), "positions.closing_order_id [closing_order_id_not_blank]"),
    _case("equity_curve", lambda f: set_cell(f, "currency", 0, ""), "equity_curve.currency [currency_not_blank]"),
    _case("orders", lambda f: set_cell(f, "strategy_id", 5, "\n"), "orders.strategy_id [strategy_id_not_blank]", "row 5"),
    # across tables: what NautilusTrader never produces
    _case("positions", lambda f: set_cell(f, "opening_order_id", 1, "O-404"),
          "positions.opening_order_id [opening_order_in_orders]", "row 1: 'O-404'"),
    _case("positions", lambda f: set_cell(f, "closing_order_id", 0, "O-405"),
          "positions.closing_order_id [closing_order_in_orders]", "row 0: 'O-405'"),
    _case("fills", lambda f: set_cell(f, "instrument_id", 4, "ETHUSDT.BINANCE"),
          "fills.instrument_id [instrument_matches_order]", "row 4", "'client_order_id': 'O-5'"),
    _case("fills", _fill_more_than_filled_qty, "orders.filled_qty [filled_qty_equals_fills]", "row 0", "'O-1'"),
    _case("fills", _fill_less_than_filled_qty, "orders.filled_qty [filled_qty_equals_fills]", "row 0"),
    _case("orders", lambda f: set_cell(f, "filled_qty", 1, Decimal("0.1")), "orders.filled_qty [filled_qty_equals_fills]", "row 1"),
    # totals beyond the runs row's NUMERIC(38, 9): summed exactly, never wrapped
    _case("positions", _huge("realized_pnl"), "positions.realized_pnl [total_fits_numeric]", "720000000000000000000000000000"),
    _case("fills", _huge("commission"), "fills.commission [total_fits_numeric]"),
    # a fill moved to another order: the run's total is unchanged; the order it joined is named (the order left
    # without fills is not checked: an order with no fills at all may claim a filled_qty)
    _case("fills", lambda f: set_cell(f, "client_order_id", 0, "O-2"), "orders.filled_qty [filled_qty_equals_fills]",
          "(1 row, e.g. row 1: {'filled_qty'"),
]

def _loop():
    doc: dict = {"a": 1}
    doc["again"] = {"inner": [doc]}
    return doc


def _deep(depth: int = 5_000):
    doc: dict = {}
    for _ in range(depth):
        doc = {"d": doc}
    return doc


# (field of lake.Run, value, texts the error names); summary and config values replace the whole document.
DOCUMENT_CASES = [
    pytest.param("summary", {"ok": 1, "bad": object()}, ("summary.bad [json]",), id="summary:object"),
    pytest.param("summary", {"nested": {"deeper": [1, {1, 2}, b"bytes"]}}, ("summary.nested.deeper[2] [json]",), id="summary:bytes"),
    pytest.param("summary", {"a": object(), "b": {"c": print}}, ("summary.a [json]", "summary.b.c [json]"), id="summary:every-value"),
    pytest.param("summary", ["not", "a", "dict"], ("summary [type]", "summary must be a dict, got list"), id="summary:list"),
    pytest.param("summary", {"backtest_start": "yesterday"}, ("summary.backtest_start [runs_row]", "yesterday"), id="summary:date"),
    pytest.param("config", {"strategy": {"callback": print}}, ("config.strategy.callback [json]",), id="config:function"),
    pytest.param("config", "fast=10", ("config [type]", "config must be a dict, got str"), id="config:str"),
    pytest.param("log", 12, ("log [type]", "log must be str or bytes"), id="log:int"),
    # text that is not valid Unicode (lone surrogates), structures that contain themselves, absurd depth
    pytest.param("summary", {"note": "x\ud800y"}, ("summary.note [json]", "lone surrogate"), id="summary:surrogate"),
    pytest.param("config", {"a": ["ok", "\udfff"]}, ("config.a[1] [json]", "lone surrogate"), id="config:surrogate"),
    pytest.param("config", {"k\udc80": 1}, ("config [json]", "key 'k\\udc80' is not valid Unicode"), id="config:surrogate-key"),
    pytest.param("log", "bad \udfff log", ("log [utf8]", "lone surrogate", "character 4"), id="log:surrogate"),
    pytest.param("summary", _loop(), ("summary.again.inner[0] [json]", "contains itself"), id="summary:circular"),
    pytest.param("config", _loop(), ("config.again.inner[0] [json]", "contains itself"), id="config:circular"),
    pytest.param("summary", _deep(), ("summary.d.d.d", "nested more than 100 levels deep"), id="summary:5000-deep"),
    pytest.param("config", _deep(), ("config.d.d.d", "nested more than 100 levels deep"), id="config:5000-deep"),
    pytest.param("config", {"big": 10**5000}, ("config.big [json]", "too large"), id="config:huge-int"),
    pytest.param("config", {1: "a", "1": "b"}, ("config [json]", "two keys are both written as '1'"), id="config:key-clash"),
    pytest.param("log", bytearray(b"x"), ("log [type]",), id="log:bytearray"),
    pytest.param("config", {"m": _BrokenMapping()}, ("config.m [json]", "reading _BrokenMapping failed (RuntimeError: boom)"),
                 id="config:unreadable-mapping"),
    pytest.param("summary", {"trader_id": b"TRADER"}, ("summary.trader_id [json]", "decode it to str"), id="summary:bytes-id"),
]


def table_case_run(table, mutate, run_id: str = "bad-run") -> lake.Run:
    tables, summary = pandas_tables()
    mutate(tables[table])
    return lake.Run(run_id, summary, **tables)


def document_case_run(field, value, run_id: str = "json-bad") -> lake.Run:
    tables, summary = pandas_tables()
    kwargs = {"summary": summary, **tables, field: value}
    return lake.Run(run_id, **kwargs)


def wrong_kind_run(run_id):
    tables, summary = pandas_tables()
    tables["fills"] = [{"trade_id": "T-1"}]
    return lake.Run(run_id, summary, **tables)


def column_twice_run(run_id):
    tables, summary = pandas_tables()
    tables["fills"] = pd.concat([tables["fills"], tables["fills"][["trade_id"]]], axis=1)
    return lake.Run(run_id, summary, **tables)


def many_run(run_id):
    """Bad tables and bad documents at once: all of them come in one report."""
    tables, summary = pandas_tables()
    set_cell(tables["orders"], "order_side", 0, "HOLD")
    tables["fills"].drop(columns=["commission"], inplace=True)
    set_cell(tables["positions"], "peak_qty", 0, Decimal(0))
    return lake.Run(run_id, {**summary, "bad": object()}, **tables, config={"f": print}, log=3.5)


MANY_EXPECTED = ("orders.order_side", "fills.commission", "positions.peak_qty", "summary.bad", "config.f", "log [type]")

# Every bad run: (make(run_id) -> Run, texts the error names).
BAD_RUNS = [
    *(pytest.param(lambda rid, c=c: table_case_run(*c.values[:2], rid), c.values[2], id=c.id) for c in TABLE_CASES),
    *(pytest.param(lambda rid, c=c: document_case_run(*c.values[:2], rid), c.values[2], id=c.id) for c in DOCUMENT_CASES),
    pytest.param(wrong_kind_run, ("fills [type]", "got list"), id="fills:wrong-kind"),
    pytest.param(column_twice_run, ("fills.trade_id [duplicate_column]",), id="fills:column-twice"),
    pytest.param(many_run, MANY_EXPECTED, id="many"),
]
