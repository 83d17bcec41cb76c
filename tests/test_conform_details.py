"""Bringing a caller's table to the contract: each refusal names exactly the rows at fault and says why.

Decimals beyond NUMERIC(38, 9) in either direction, infinite floats, unsigned nanoseconds beyond INT64, a
supplied `_ns` that disagrees with its timestamp, a time zone that cannot say its offset: for each, the
failure's check, message, rows and count, with valid rows of the same column left out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

import lake
from lake.errors import Failure, ValidationError
from lake.write import plan_run
from tests.support.contract_cases import base_summary, base_tables, set_cell


def failures_of(table: str, data: pa.Table) -> list[Failure]:
    tables = base_tables()
    tables[table] = data
    with pytest.raises(ValidationError) as err:
        plan_run(lake.Run("conform", base_summary(), **tables))
    return err.value.failures


def only(failures: list[Failure]) -> Failure:
    assert len(failures) == 1, [str(f) for f in failures]
    return failures[0]


def test_decimals_too_fine_or_too_large_are_named_row_by_row():
    fills = base_tables()["fills"]
    values = [Decimal("65000.5")] * fills.num_rows
    values[2] = Decimal("1.0000000001")  # a tenth decimal
    values[5] = Decimal("1e29")  # 30 integer digits
    values[7] = Decimal("99999999999999999999999999999.999999999")  # the largest that fits
    failure = only(failures_of("fills", fills.set_column(fills.schema.get_field_index("last_px"), "last_px",
                                                         pa.array(values, pa.decimal256(76, 10)))))
    assert (failure.table, failure.column, failure.check, failure.count) == ("fills", "last_px", "max_9_decimals", 2)
    assert [i for i, _ in failure.rows] == [2, 5]
    assert failure.message == "value needs more than 9 decimals or 29 integer digits (it would be rounded)"


def test_an_infinite_float_where_a_number_is_required():
    fills = base_tables()["fills"]
    prices = [65000.5] * fills.num_rows
    prices[3] = float("inf")
    failure = only(failures_of("fills", fills.set_column(fills.schema.get_field_index("last_px"), "last_px",
                                                         pa.array(prices, pa.float64()))))
    assert (failure.column, failure.check, failure.rows, failure.count) == ("last_px", "finite", [(3, float("inf"))], 1)
    assert failure.message == "NaN or infinite value where a number is required"


def test_unsigned_nanoseconds_beyond_int64_are_named():
    fills = base_tables()["fills"]
    ns = fills.column("ts_event").cast(pa.int64()).to_pylist()
    ns[1] = 2**63
    failure = only(failures_of("fills", fills.append_column("ts_event_ns", pa.array(ns, pa.uint64()))))
    assert (failure.column, failure.check, failure.rows, failure.count) == (
        "ts_event_ns", "int64_range", [(1, 2**63)], 1)
    assert failure.message == "value does not fit in int64"


def test_a_supplied_ns_that_disagrees_with_its_timestamp_says_with_which():
    orders = base_tables()["orders"]
    ns = orders.column("ts_init").cast(pa.int64()).to_pylist()
    ns[4] += 1_000
    failure = only(failures_of("orders", orders.append_column("ts_init_ns", pa.array(ns, pa.int64()))))
    assert (failure.column, failure.check, failure.message, failure.rows) == (
        "ts_init_ns", "ns_matches_timestamp", "disagrees with ts_init", [(4, ns[4])])


class BrokenZone(dt.tzinfo):
    def utcoffset(self, when):
        raise ValueError("no offset today")


def test_a_time_zone_that_cannot_say_its_offset_is_named():
    import pandas as pd

    fills = base_tables()["fills"].to_pandas()
    times = [t.floor("us").to_pydatetime() for t in fills["ts_event"]]
    times[2] = dt.datetime(2024, 1, 1, tzinfo=BrokenZone())
    fills["ts_event"] = pd.Series(times, dtype=object)
    failure = only(failures_of("fills", fills))
    assert (failure.column, failure.check, failure.message, failure.rows) == (
        "ts_event", "tz_aware", "the time zone cannot give its UTC offset", [(2, "ValueError: no offset today")])


def test_a_naive_column_is_refused_once_not_also_as_out_of_range():
    fills = base_tables()["fills"]
    naive = fills.column("ts_event").cast(pa.timestamp("ns"))
    failure = only(failures_of("fills", fills.set_column(fills.schema.get_field_index("ts_event"), "ts_event", naive)))
    assert (failure.column, failure.check) == ("ts_event", "tz_aware")


def test_set_cell_keeps_the_column_type():
    fills = base_tables()["fills"]
    assert set_cell(fills, "last_qty", 0, Decimal("1")).schema == fills.schema


def _set_column(data: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = data.schema.get_field_index(name)
    return data.set_column(index, name, values)


def test_wrong_kinds_of_values_are_named_with_the_type_expected():
    fills = base_tables()["fills"]
    as_text = fills.append_column("ts_event_ns", pa.array([str(v) for v in fills.column("ts_event").cast(pa.int64()).to_pylist()]))
    assert [str(f) for f in failures_of("fills", as_text)] == ["fills.ts_event_ns [dtype]: expected integer, got string"]
    as_int = _set_column(fills, "ts_event", fills.column("ts_event").cast(pa.int64()))
    assert [str(f) for f in failures_of("fills", as_int)] == ["fills.ts_event [dtype]: expected timezone-aware timestamp, got int64"]


def test_a_column_pandas_cannot_convert_is_named():
    orders = base_tables()["orders"].to_pandas()
    orders["strategy_id"] = orders["strategy_id"].astype(object)
    orders.at[3, "strategy_id"] = object()
    failure = only(failures_of("orders", orders))
    assert (failure.table, failure.column, failure.check) == ("orders", "strategy_id", "dtype")
    assert failure.message.startswith("cannot convert to Arrow: ")


def test_open_positions_as_pandas_leave_ts_closed_empty_whatever_marks_it():
    """An object column of nanosecond pd.Timestamps with NaN or None for open positions: exact to the nanosecond."""
    import pandas as pd

    positions = base_tables()["positions"]
    closed = list(positions.column("ts_closed").to_pandas())  # pd.Timestamp with nanoseconds
    exact_ns = positions.column("ts_closed").cast(pa.int64()).to_pylist()
    for missing in (float("nan"), None):
        frame = positions.to_pandas()
        frame["ts_closed"] = pd.Series([c if i % 2 else missing for i, c in enumerate(closed)], dtype=object)
        tables = base_tables()
        tables["positions"] = frame
        planned = plan_run(lake.Run("conform", base_summary(), **tables)).tables["positions"]
        assert planned.column("ts_closed_ns").to_pylist() == [n if i % 2 else None for i, n in enumerate(exact_ns)], missing
    all_open = _set_column(positions, "ts_closed", pa.nulls(positions.num_rows))
    tables = base_tables()
    tables["positions"] = all_open
    planned = plan_run(lake.Run("conform", base_summary(), **tables)).tables["positions"]
    assert planned.column("ts_closed").null_count == positions.num_rows
    assert planned.column("ts_closed_ns").null_count == positions.num_rows


def test_nan_in_an_optional_float_price_means_no_price():
    orders = base_tables()["orders"]
    prices = [float(p) if p is not None else float("nan") for p in orders.column("price").to_pylist()]
    tables = base_tables()
    tables["orders"] = _set_column(orders, "price", pa.array(prices, pa.float64()))
    planned = plan_run(lake.Run("conform", base_summary(), **tables)).tables["orders"]
    assert planned.column("price").to_pylist() == orders.column("price").to_pylist()
