"""What write_run stores reads back, through independent readers, equal to what went in."""

import datetime as dt
import json
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import lake
from lake import layout
from lake.write import plan_run
from schemas import RUN_TABLES, TABLES
from tests.conftest import files_under


def read(root, key) -> pa.Table:
    return pq.read_table(root / key)


def test_every_table_round_trips_value_for_value(tmp_path, small_run):
    run = small_run("rt-1", seed=3)
    expected = plan_run(run).tables
    lake.write_run(run, tmp_path)
    for name in RUN_TABLES:
        for key in (layout.spec_table_key("rt-1", name), layout.lake_key("rt-1", name)):
            got = read(tmp_path, key)
            assert got.schema.equals(TABLES[name].arrow_schema, check_metadata=False)
            assert got.equals(expected[name]), f"{key} differs from the input"
            assert got.to_pylist() == expected[name].to_pylist()


def test_decimals_and_nanoseconds_are_exact(tmp_path):
    """Values from pandas (Decimal objects, ns timestamps) come back exactly; ns live in *_ns."""
    ts = pd.Timestamp("2024-03-01 12:00:00.123456789", tz="UTC")
    run = _hand_run("exact-1", ts=ts, px=Decimal("65000.123456789"), qty=Decimal("0.000000001"))
    lake.write_run(run, tmp_path)
    fills = read(tmp_path, layout.lake_key("exact-1", "fills")).to_pylist()[0]
    assert fills["last_px"] == Decimal("65000.123456789")
    assert fills["last_qty"] == Decimal("0.000000001")
    assert fills["ts_event"] == dt.datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)
    assert fills["ts_event_ns"] == ts.value == 1709294400123456789
    # DuckDB agrees, independently.
    con = duckdb.connect()
    row = con.execute(
        "SELECT last_px::VARCHAR, ts_event_ns FROM read_parquet(?)", [str(tmp_path / layout.lake_key("exact-1", "fills"))]
    ).fetchone()
    assert row == ("65000.123456789", 1709294400123456789)


def test_duckdb_reads_the_lake_with_run_id_from_the_path(tmp_path, small_run):
    for run_id, seed in (("0123", 1), ("run-b", 2)):  # a numeric-looking run_id must stay text
        lake.write_run(small_run(run_id, seed), tmp_path)
    con = duckdb.connect()
    rows = con.execute(
        "SELECT run_id, typeof(run_id), count(*) FROM read_parquet(?, hive_partitioning = true, "
        "hive_types = {'run_id': 'VARCHAR'}) GROUP BY ALL ORDER BY run_id",
        [str(tmp_path / "lake/fills/*/*.parquet")],
    ).fetchall()
    assert rows == [("0123", "VARCHAR", 60), ("run-b", "VARCHAR", 60)]
    # Without a declared type DuckDB still reads a string from our paths; run_id is never a file column.
    names = pq.read_schema(tmp_path / layout.lake_key("0123", "fills")).names
    assert "run_id" not in names


def test_spec_file_and_lake_partition_are_the_same_bytes_with_metadata(tmp_path, small_run):
    lake.write_run(small_run("same-1"), tmp_path)
    for name, table in RUN_TABLES.items():
        spec = (tmp_path / layout.spec_table_key("same-1", name)).read_bytes()
        part = (tmp_path / layout.lake_key("same-1", name)).read_bytes()
        assert spec == part
        meta = pq.read_schema(tmp_path / layout.lake_key("same-1", name)).metadata
        assert meta[b"run_id"] == b"same-1"
        assert meta[b"schema_version"] == str(table.version).encode()
    runs_meta = pq.read_schema(tmp_path / layout.commit_key("same-1")).metadata
    assert runs_meta[b"run_id"] == b"same-1" and runs_meta[b"table"] == b"runs"


def test_layout_and_report(tmp_path, small_run):
    report = lake.write_run(small_run("lay-1"), tmp_path)
    expected = sorted(layout.run_keys("lay-1"))
    assert [f for f in files_under(tmp_path) if not f.startswith(".tmp/")] == expected
    assert [f for f in files_under(tmp_path / ".tmp") if not f.startswith("locks/")] == []  # no temp file left behind
    by_key = {o.key: o for o in report.objects}
    assert set(by_key) == set(expected) - {layout.manifest_key("lay-1")}
    for key, obj in by_key.items():
        assert obj.size == (tmp_path / key).stat().st_size
        if key.endswith(".parquet"):
            assert obj.rows == pq.read_metadata(tmp_path / key).num_rows
    assert by_key[layout.commit_key("lay-1")].rows == 1


def test_empty_tables_are_written_with_the_full_schema(tmp_path):
    empty = {n: t.arrow_schema.empty_table() for n, t in RUN_TABLES.items()}
    run = lake.Run("no-trades", {"strategy_ids": ["S-1"]}, **empty)
    lake.write_run(run, tmp_path)
    for name, table in RUN_TABLES.items():
        got = read(tmp_path, layout.lake_key("no-trades", name))
        assert got.num_rows == 0 and got.schema.equals(table.arrow_schema, check_metadata=False)
    runs = read(tmp_path, layout.commit_key("no-trades")).to_pylist()[0]
    assert (runs["fill_count"], runs["order_count"], runs["strategy_ids"]) == (0, 0, "S-1")
    assert runs["realized_pnl"] is None and json.loads(runs["realized_pnl_by_currency"]) == {}


def test_runs_row_sums_are_exact(tmp_path, small_run):
    run = small_run("sums-1", seed=9, n_orders=67, n_positions=9, n_equity=23)  # every count different
    tables = plan_run(run).tables
    lake.write_run(run, tmp_path)
    row = read(tmp_path, layout.commit_key("sums-1")).to_pylist()[0]
    pnl = sum(tables["positions"].column("realized_pnl").to_pylist())
    commission = sum(tables["fills"].column("commission").to_pylist())
    assert row["realized_pnl"] == pnl and row["commission"] == commission
    assert json.loads(row["realized_pnl_by_currency"]) == {"USDT": str(pnl)}
    assert (row["order_count"], row["fill_count"], row["position_count"], row["equity_point_count"]) == (67, 60, 9, 23)
    assert [tables[t].num_rows for t in ("orders", "fills", "positions", "equity_curve")] == [67, 60, 9, 23]
    assert row["instrument_ids"] == "BTCUSDT.BINANCE,ETHUSDT.BINANCE" and row["venues"] == "BINANCE"
    assert row["sharpe_ratio"] == run.summary["stats_returns"]["Sharpe Ratio (252 days)"]
    assert json.loads(row["summary_json"])["seed"] == 9


def test_summary_and_config_json(tmp_path, small_run):
    base = small_run("json-1")
    summary = {
        "b": Decimal("1.100000000001"),
        "a": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "np": np.float64(1.5),
        "n": np.int64(7),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "nested": {"z": [np.nan, 1], "é": "ü"},
    }
    run = lake.Run("json-1", summary, *base.tables().values(), config={"k": Decimal("2.5")}, log="line\n")
    lake.write_run(run, tmp_path)
    raw = (tmp_path / layout.summary_key("json-1")).read_bytes()
    assert json.loads(raw) == {
        "a": "2024-01-02T03:04:05+00:00",
        "b": "1.100000000001",
        "inf": None,
        "n": 7,
        "nan": None,
        "nested": {"z": [None, 1], "é": "ü"},
        "np": 1.5,
        "run_id": "json-1",  # summary.json's run_id is always the run's
    }
    assert raw.index(b'"a"') < raw.index(b'"b"') < raw.index(b'"inf"')  # keys sorted
    assert "ü".encode() in raw  # UTF-8, not \u escapes
    assert json.loads((tmp_path / layout.config_key("json-1")).read_bytes()) == {"k": "2.5"}
    assert (tmp_path / layout.log_key("json-1")).read_text() == "line\n"


def _hand_run(run_id, *, ts, px, qty) -> lake.Run:
    """A one-order, one-fill, one-position run built from pandas objects."""
    orders = pd.DataFrame(
        {
            "client_order_id": ["O-1"], "venue_order_id": ["V-1"], "strategy_id": ["S-1"],
            "instrument_id": ["BTCUSDT.BINANCE"], "order_side": ["BUY"], "order_type": ["MARKET"],
            "quantity": [qty], "filled_qty": [qty], "price": [None], "trigger_price": [None], "avg_px": [px],
            "status": ["FILLED"], "time_in_force": ["IOC"], "ts_init": [ts], "ts_last": [ts],
        }
    )
    fills = pd.DataFrame(
        {
            "trade_id": ["T-1"], "client_order_id": ["O-1"], "venue_order_id": ["V-1"], "position_id": ["P-1"],
            "strategy_id": ["S-1"], "instrument_id": ["BTCUSDT.BINANCE"], "order_side": ["BUY"],
            "last_qty": [qty], "last_px": [px], "commission": [Decimal("0.01")], "commission_currency": ["USDT"],
            "liquidity_side": ["TAKER"], "ts_event": [ts],
        }
    )
    positions = pd.DataFrame(
        {
            "position_id": ["P-1"], "strategy_id": ["S-1"], "instrument_id": ["BTCUSDT.BINANCE"],
            "opening_order_id": ["O-1"], "closing_order_id": [None], "entry": ["BUY"], "side": ["LONG"],
            "quantity": [qty], "peak_qty": [qty], "avg_px_open": [px], "avg_px_close": [None],
            "realized_pnl": [Decimal("-0.01")], "currency": ["USDT"], "ts_opened": [ts], "ts_closed": [pd.NaT],
            "is_snapshot": [False],
        }
    )
    equity = pd.DataFrame(
        {
            "ts": [ts], "currency": ["USDT"], "balance": [Decimal("1000")], "unrealized_pnl": [Decimal("0")],
            "equity": [Decimal("1000")],
        }
    )
    return lake.Run(run_id, {"trader_id": "T-001"}, orders, fills, positions, equity)



def test_peak_equity_is_the_running_peak_per_currency_in_time_order(tmp_path, small_run):
    """Derived when not supplied: rows in any order, two currencies, exact decimals."""
    base = small_run("peak-1")
    ts = [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(minutes=m) for m in (3, 1, 2, 0, 1, 0, 2)]
    currency = ["USDT", "USDT", "USDT", "USDT", "BTC", "BTC", "BTC"]
    equity = [Decimal(x) for x in ("101.5", "103.000000001", "99", "100", "0.5", "0.7", "0.6")]
    curve = pd.DataFrame(
        {"ts": ts, "currency": currency, "balance": equity, "unrealized_pnl": [Decimal(0)] * 7, "equity": equity}
    )
    run = lake.Run("peak-1", base.summary, base.orders, base.fills, base.positions, curve)
    lake.write_run(run, tmp_path)
    got = read(tmp_path, layout.lake_key("peak-1", "equity_curve")).to_pylist()
    expected = {}
    for cur in ("USDT", "BTC"):
        peak = None
        for t, e in sorted((t, e) for t, c, e in zip(ts, currency, equity) if c == cur):
            peak = e if peak is None else max(peak, e)
            expected[(t, cur)] = peak
    assert {(pd.Timestamp(r["ts"]), r["currency"]): r["peak_equity"] for r in got} == expected
    assert [r["equity"] for r in got] == equity  # rows stay where they were
