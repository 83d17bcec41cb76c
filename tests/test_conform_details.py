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
