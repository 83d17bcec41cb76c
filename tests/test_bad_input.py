"""Bad input: a clear error naming what is wrong, and not one byte written."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import lake
from lake.errors import InvalidRunIdError, LakeError, SerializationError, ValidationError
from lake.synthetic import synthetic_run
from tests.conftest import files_under


def pandas_tables():
    run = synthetic_run("bad", 40, seed=5)
    return {name: table.to_pandas() for name, table in run.tables().items()}, run.summary


def set_cell(frame, column, row, value):
    frame[column] = frame[column].astype(object)
    frame.at[row, column] = value


def case(table, mutate, *expected):
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


TABLE_CASES = [
    case("fills", lambda f: f.drop(columns=["last_px"], inplace=True), "fills.last_px [missing_column]"),
    case("orders", lambda f: f.__setitem__("foo", 1), "orders.foo [extra_column]"),
    case("fills", lambda f: f.__setitem__("last_qty", "1.5"), "fills.last_qty [dtype]", "expected decimal"),
    case("orders", lambda f: f.__setitem__("client_order_id", range(len(f))), "orders.client_order_id [dtype]", "expected string"),
    case("fills", lambda f: f.__setitem__("ts_event", 1_700_000_000), "fills.ts_event [dtype]", "timestamp"),
    case("fills", lambda f: set_cell(f, "trade_id", 3, None), "fills.trade_id [not_nullable]"),
    case("fills", lambda f: set_cell(f, "trade_id", 4, f.at[1, "trade_id"]), "fills.trade_id [unique]", "'T-2'"),
    case("orders", lambda f: set_cell(f, "quantity", 2, Decimal(0)), "orders.quantity [greater_than(0)]", "row 2"),
    case("fills", lambda f: set_cell(f, "last_qty", 0, Decimal("-1")), "fills.last_qty [greater_than(0)]", "row 0"),
    case("fills", _float_with_nan, "fills.last_px [not_nan]", "row 2"),
    case("fills", lambda f: set_cell(f, "last_px", 1, Decimal("1.0000000001")), "fills.last_px [max_9_decimals]", "row 1"),
    case("fills", lambda f: f.__setitem__("commission", 0.1 + 0.2), "fills.commission [max_9_decimals]"),
    case("fills", _naive, "fills.ts_event [tz_aware]", "naive"),
    case("orders", lambda f: set_cell(f, "order_side", 0, "HOLD"), "orders.order_side [isin(", "'HOLD'"),
    case("fills", lambda f: set_cell(f, "liquidity_side", 5, "maker"), "fills.liquidity_side [isin(", "row 5"),
    case("orders", lambda f: set_cell(f, "status", 0, "DONE"), "orders.status [isin("),
    case("positions", _closed_before_opened, "positions [ts_closed_ge_ts_opened]"),
    case("fills", lambda f: set_cell(f, "client_order_id", 0, "O-404"), "fills.client_order_id [references_orders]", "O-404"),
    case("fills", lambda f: set_cell(f, "position_id", 0, "P-404"), "fills.position_id [references_positions]", "P-404"),
    case("orders", lambda f: set_cell(f, "filled_qty", 0, f.at[0, "quantity"] + 1), "orders [filled_qty_le_quantity]"),
    case("equity_curve", lambda f: set_cell(f, "equity", 0, f.at[0, "equity"] + 1), "equity_curve [equity_eq_balance_plus_unrealized]"),
    case("equity_curve", _dup_equity, "equity_curve"),
    case("equity_curve", lambda f: f.__setitem__("peak_equity", f["equity"]), "equity_curve.peak_equity [matches_derivation]"),
    case("fills", _ns_disagrees, "fills.ts_event_ns [ns_matches_timestamp]"),
    case("positions", lambda f: set_cell(f, "avg_px_open", 0, Decimal("NaN")), "positions.avg_px_open"),
    case("orders", lambda f: f.__setitem__("quantity", f["quantity"].astype(float) * 1e30), "orders.quantity [max_9_decimals]"),
]


@pytest.mark.parametrize("table, mutate, expected", TABLE_CASES)
def test_bad_table_is_rejected_before_a_byte_is_written(tmp_path, table, mutate, expected):
    tables, summary = pandas_tables()
    mutate(tables[table])
    run = lake.Run("bad-run", summary, **tables)
    dest = tmp_path / "dest"
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, dest)
    message = str(err.value)
    for text in expected:
        assert text in message, message
    assert "bad-run" in message
    assert files_under(dest) == []


def test_all_failures_of_all_tables_come_in_one_error(tmp_path):
    tables, summary = pandas_tables()
    set_cell(tables["orders"], "order_side", 0, "HOLD")
    tables["fills"].drop(columns=["commission"], inplace=True)
    set_cell(tables["positions"], "peak_qty", 0, Decimal(0))
    with pytest.raises(ValidationError) as err:
        lake.write_run(lake.Run("many", summary, **tables), tmp_path / "dest")
    assert {(f.table, f.column) for f in err.value.failures} >= {
        ("orders", "order_side"), ("fills", "commission"), ("positions", "peak_qty")
    }
    assert files_under(tmp_path / "dest") == []


def test_a_table_of_the_wrong_kind(tmp_path):
    tables, summary = pandas_tables()
    tables["fills"] = [{"trade_id": "T-1"}]
    with pytest.raises(ValidationError, match=r"fills \[type\].*got list"):
        lake.write_run(lake.Run("kind", summary, **tables), tmp_path / "dest")
    assert files_under(tmp_path / "dest") == []


@pytest.mark.parametrize(
    "run_id",
    ["a/b", "..", ".", "a..b", "has space", "", "x" * 200, "-leading-dash", "run_id=1", "tab\t", "ünï", "a\\b", 42, None],
)
def test_bad_run_ids_are_rejected_before_anything_happens(run_id):
    tables, summary = pandas_tables()
    with pytest.raises(InvalidRunIdError) as err:
        lake.Run(run_id, summary, **tables)
    assert "run_id" in str(err.value)
    assert isinstance(err.value, LakeError)


def test_run_id_limits_are_inclusive():
    tables, summary = pandas_tables()
    for ok in ("a", "A" * 128, "2024-01-01T00.00.00_EMA-cross.v2", "0123"):
        assert lake.Run(ok, summary, **tables).run_id == ok
    with pytest.raises(InvalidRunIdError):
        lake.Run("A" * 129, summary, **tables)


@pytest.mark.parametrize(
    "field, value, where",
    [
        ("summary", {"ok": 1, "bad": object()}, "summary.bad"),
        ("summary", {"nested": {"deeper": [1, {1, 2}, b"bytes"]}}, "summary.nested.deeper[2]"),
        ("config", {"strategy": {"callback": print}}, "config.strategy.callback"),
    ],
)
def test_unserialisable_summary_or_config(tmp_path, field, value, where):
    tables, summary = pandas_tables()
    kwargs = {"summary": summary, **tables}
    kwargs[field] = value
    with pytest.raises(SerializationError) as err:
        lake.write_run(lake.Run("json-bad", **kwargs), tmp_path / "dest")
    assert where in str(err.value)
    assert files_under(tmp_path / "dest") == []


def test_log_of_the_wrong_type(tmp_path):
    tables, summary = pandas_tables()
    with pytest.raises(LakeError, match="log must be str or bytes"):
        lake.write_run(lake.Run("log-bad", summary, **tables, log=12), tmp_path / "dest")
    assert files_under(tmp_path / "dest") == []


def test_a_column_given_twice(tmp_path):
    tables, summary = pandas_tables()
    fills = tables["fills"]
    tables["fills"] = pd.concat([fills, fills[["trade_id"]]], axis=1)
    with pytest.raises(ValidationError, match=r"fills.trade_id \[duplicate_column\]: columns appear more than once: \['trade_id'\]"):
        lake.write_run(lake.Run("dup-col", summary, **tables), tmp_path / "dest")
    assert files_under(tmp_path / "dest") == []
