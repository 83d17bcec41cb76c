"""Bad runs and what their error must say: shared by write_run's tests and check_run's agreement test.

TABLE_CASES break one table each, DOCUMENT_CASES the summary, config or log;
BAD_RUNS is every case as `make(run_id) -> Run` with the texts the error must
contain, so a test can feed the same bad run to write_run and to check_run.
"""

from __future__ import annotations

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
    _case("equity_curve", _dup_equity, "equity_curve"),
    _case("equity_curve", lambda f: f.__setitem__("peak_equity", f["equity"]), "equity_curve.peak_equity [matches_derivation]"),
    _case("fills", _ns_disagrees, "fills.ts_event_ns [ns_matches_timestamp]"),
    _case("positions", lambda f: set_cell(f, "avg_px_open", 0, Decimal("NaN")), "positions.avg_px_open"),
    _case("orders", lambda f: f.__setitem__("quantity", f["quantity"].astype(float) * 1e30), "orders.quantity [max_9_decimals]"),
]

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
]


def table_case_run(table, mutate, run_id: str = "bad-run") -> lake.Run:
    tables, summary = pandas_tables()
    mutate(tables[table])
    return lake.Run(run_id, summary, **tables)


def document_case_run(field, value, run_id: str = "json-bad") -> lake.Run:
    tables, summary = pandas_tables()
    kwargs = {"summary": summary, **tables, field: value}
    return lake.Run(run_id, **kwargs)


def _wrong_kind(run_id):
    tables, summary = pandas_tables()
    tables["fills"] = [{"trade_id": "T-1"}]
    return lake.Run(run_id, summary, **tables)


def _column_twice(run_id):
    tables, summary = pandas_tables()
    tables["fills"] = pd.concat([tables["fills"], tables["fills"][["trade_id"]]], axis=1)
    return lake.Run(run_id, summary, **tables)


def _many(run_id):
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
    pytest.param(_wrong_kind, ("fills [type]", "got list"), id="fills:wrong-kind"),
    pytest.param(_column_twice, ("fills.trade_id [duplicate_column]",), id="fills:column-twice"),
    pytest.param(_many, MANY_EXPECTED, id="many"),
]
