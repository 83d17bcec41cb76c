"""A bad-input case for every check the contract declares, built from the contract itself.

`contract_checks(table)` lists every check a table of schemas/ declares, named as a failure names it
(`orders.client_order_id [unique]`, `orders [ts_last_ge_ts_init]`): per column unique, > 0, >= 0, domain,
not null, exact nanoseconds and derivation; per table the multi-column uniqueness, every row check (also
those across tables) and exactly_one_row. `case_for(check)` breaks one row of a consistent run so that
exactly this check must fail: generated from the kind of check (a duplicated key, a zero, a value outside
the domain, a null, a blank id, a dangling reference, ...), or, for a row check of its own logic, taken from
ROW_CHECK_CASES. A check with neither raises NoCase, so a check added to the contract without a way to
break it fails the tests that walk the contract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

import pyarrow as pa

from lake.synthetic import synthetic_run
from schemas import RUN_TABLES, TABLES, RowCheck, Table

Tables = dict[str, pa.Table]


@dataclass(frozen=True)
class Check:
    """One check of the contract, as a Failure names it."""

    table: str
    column: str | None
    name: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{where} [{self.name}]"


@dataclass(frozen=True)
class Case:
    """A way to break exactly `check`: `mutate(tables)` returns the run's tables with one table's row broken;
    the failure must name `row` (the row of `check.table`)."""

    check: Check
    mutate: Callable[[Tables], Tables]
    row: int
    reported: Check | None = None  # how write_run reports it, when not as `check`

    @property
    def writer_check(self) -> Check:
        return self.reported or self.check


class NoCase(LookupError):
    """The contract declares a check this module cannot break."""


def contract_checks(table: Table) -> list[Check]:
    """Every check `table` declares, in contract order."""
    checks = []
    for col in table.columns:
        if not col.nullable:
            checks.append(Check(table.name, col.name, "not_nullable"))
        if col.unique:
            checks.append(Check(table.name, col.name, "unique"))
        if col.positive:
            checks.append(Check(table.name, col.name, "greater_than(0)"))
        if col.non_negative:
            checks.append(Check(table.name, col.name, "greater_than_or_equal_to(0)"))
        if col.domain is not None:
            checks.append(Check(table.name, col.name, f"isin({list(col.domain)})"))
        if col.exact_ns:
            checks.append(Check(table.name, col.ns_name, "ns_matches_timestamp"))
        if col.derive is not None:
            checks.append(Check(table.name, col.name, "matches_derivation"))
    if table.unique_together:
        checks.append(Check(table.name, None, "multiple_fields_uniqueness"))
    checks += [Check(table.name, rc.column, rc.name) for rc in table.row_checks]
    if table.exactly_one_row:
        checks.append(Check(table.name, None, "exactly_one_row"))
    return checks


def all_checks() -> list[Check]:
    return [check for table in TABLES.values() for check in contract_checks(table)]


# -- the run the cases break ----------------------------------------------------------------------


def base_tables() -> Tables:
    """A consistent run's four tables as a caller gives them (nanosecond times, no derived columns)."""
    return dict(synthetic_run("cases", 40, seed=5).tables())


def base_summary() -> dict:
    return synthetic_run("cases", 40, seed=5).summary


def cell(table: pa.Table, column: str, row: int):
    return table.column(column)[row].as_py()


def set_cell(table: pa.Table, column: str, row: int, value) -> pa.Table:
    """The table with one value replaced (the column keeps its type)."""
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))


def first_row(table: pa.Table, column: str, where: Callable[[object], bool] = lambda v: v is not None) -> int:
    for i, value in enumerate(table.column(column).to_pylist()):
        if where(value):
            return i
    raise NoCase(f"no row of {column} to break")


def _changed(tables: Tables, name: str, table: pa.Table) -> Tables:
    return {**tables, name: table}


# -- cases built from the kind of check ------------------------------------------------------------


def _generic(check: Check, table: Table, tables: Tables) -> Case | None:
    data = tables[table.name]
    name, column = check.name, check.column
    if column is not None and column in data.column_names:
        col = table.column(column)
        if name == "not_nullable":
            return _set(check, 2, None)
        if name == "unique":
            return Case(check, lambda ts: _changed(ts, table.name, set_cell(ts[table.name], column, 1,
                                                                              cell(ts[table.name], column, 0))), 1)
        if name == "greater_than(0)":  # in a row that has a value (row 0 when none has: e.g. no stop orders)
            return _set(check, _some_row(data, column), Decimal(0))
        if name == "greater_than_or_equal_to(0)":
            return _set(check, _some_row(data, column), -1 if col.kind.name == "INT64" else Decimal("-1"))
        if name.startswith("isin("):
            return _set(check, 0, "NOT-IN-THE-DOMAIN")
    if name == "not_nullable" and column is not None and table.column(column).derive is not None:
        # A derived column supplied with a null: the writer finds it differs from its derivation.
        def mutate(ts: Tables) -> Tables:
            supplied = _with_derived(table, column, ts[table.name], None)
            return _changed(ts, table.name, set_cell(supplied, column, 2, None))

        return Case(check, mutate, 2, Check(table.name, column, "matches_derivation"))
    if name == "ns_matches_timestamp":  # the companion supplied, 5 us away from its timestamp in row 3
        stamp = column[: -len("_ns")]

        def mutate(ts: Tables) -> Tables:
            t = ts[table.name]
            ns = t.column(stamp).cast(pa.int64()).to_pylist()
            ns[3] += 5_000
            return _changed(ts, table.name, t.append_column(column, pa.array(ns, pa.int64())))

        return Case(check, mutate, 3)
    if name == "matches_derivation":  # supplied, equal to the derivation but in row 3
        return Case(check, lambda ts: _changed(ts, table.name, _with_derived(table, column, ts[table.name], 3)), 3)
    if name == "multiple_fields_uniqueness":
        def mutate(ts: Tables) -> Tables:
            t = ts[table.name]
            for c in table.unique_together:
                t = set_cell(t, c, 1, cell(t, c, 0))
            return _changed(ts, table.name, t)

        return Case(check, mutate, 1)
    row_check = next((rc for rc in table.row_checks if rc.name == name), None)
    if row_check is not None:
        own = row_check.columns[0]
        if name == f"{own}_not_blank" and len(row_check.columns) == 1:
            return _set(check, first_row(data, own), " \t", column=own)
        if _is_reference(row_check):
            return _set(check, first_row(data, own), "X-404", column=own)
    return None


def _some_row(table: pa.Table, column: str) -> int:
    try:
        return first_row(table, column)
    except NoCase:
        return 0


def _is_reference(rc: RowCheck) -> bool:
    """A check made by schemas.contract.references: a column of this table that must be a key of another."""
    return rc.expr.__qualname__.startswith("references.") and len(rc.columns) == 2 and "." in rc.columns[1]


def _set(check: Check, row: int, value, column: str | None = None) -> Case:
    column = column or check.column
    return Case(check, lambda ts: _changed(ts, check.table, set_cell(ts[check.table], column, row, value)), row)


def _with_derived(table: Table, column: str, data: pa.Table, row: int | None) -> pa.Table:
    """`data` with the derived column supplied: the running peak of equity per currency in time order,
    computed here independently, and off by one in `row` (if not None)."""
    if column != "peak_equity":
        raise NoCase(f"no independent computation of {table.name}.{column}")
    rows = data.to_pylist()
    peak: dict[str, Decimal] = {}
    values = [None] * len(rows)
    for i in sorted(range(len(rows)), key=lambda i: rows[i]["ts"]):
        currency = rows[i]["currency"]
        peak[currency] = max(peak.get(currency, rows[i]["equity"]), rows[i]["equity"])
        values[i] = peak[currency]
    if row is not None:
        values[row] += 1
    return data.append_column(column, pa.array(values, pa.decimal128(38, 9)))


# -- cases for row checks of their own logic ----------------------------------------------------------


def _one_tick_more_in_a_fill(ts: Tables) -> Tables:
    return _changed(ts, "fills", set_cell(ts["fills"], "last_qty", 0, cell(ts["fills"], "last_qty", 0) + Decimal("1e-9")))


def _quantity_below_filled(ts: Tables) -> Tables:
    orders = ts["orders"]
    return _changed(ts, "orders", set_cell(orders, "quantity", 0, cell(orders, "filled_qty", 0) - Decimal("1e-9")))


def _avg_px_missing(ts: Tables) -> Tables:
    return _changed(ts, "orders", set_cell(ts["orders"], "avg_px", 0, None))


def _earlier(table: str, column: str, reference: str, row: Callable[[pa.Table], int]) -> Callable[[Tables], Tables]:
    """`column` one microsecond before `reference` in the row."""

    def mutate(ts: Tables) -> Tables:
        t = ts[table]
        i = row(t)
        return _changed(ts, table, set_cell(t, column, i, cell(t, reference, i) - dt.timedelta(microseconds=1)))

    return mutate


def _other_instrument(ts: Tables) -> Tables:
    fills = ts["fills"]
    other = next(i for i in set(fills.column("instrument_id").to_pylist()) if i != cell(fills, "instrument_id", 4))
    return _changed(ts, "fills", set_cell(fills, "instrument_id", 4, other))


def _quantity_above_peak(ts: Tables) -> Tables:
    positions = ts["positions"]
    return _changed(ts, "positions", set_cell(positions, "quantity", 0, cell(positions, "peak_qty", 0) + Decimal("1e-9")))


def _balance_off(ts: Tables) -> Tables:
    equity = ts["equity_curve"]
    return _changed(ts, "equity_curve", set_cell(equity, "balance", 2, cell(equity, "balance", 2) - Decimal("1e-9")))


def _closed_row(t: pa.Table) -> int:
    return first_row(t, "ts_closed")


# (table, check name) -> (mutate, the row of that table the failure names)
ROW_CHECK_CASES: dict[tuple[str, str], tuple[Callable[[Tables], Tables], int]] = {
    ("orders", "filled_qty_equals_fills"): (_one_tick_more_in_a_fill, 0),  # fill 0 is order 0's
    ("orders", "filled_qty_le_quantity"): (_quantity_below_filled, 0),
    ("orders", "avg_px_set_when_filled"): (_avg_px_missing, 0),  # order 0 is filled
    ("orders", "ts_last_ge_ts_init"): (_earlier("orders", "ts_last", "ts_init", lambda t: 5), 5),
    ("fills", "instrument_matches_order"): (_other_instrument, 4),
    ("positions", "ts_closed_ge_ts_opened"): (_earlier("positions", "ts_closed", "ts_opened", _closed_row), 0),
    ("positions", "quantity_le_peak_qty"): (_quantity_above_peak, 0),
    ("equity_curve", "equity_eq_balance_plus_unrealized"): (_balance_off, 2),
}


def case_for(check: Check, tables: Tables | None = None) -> Case:
    """The case that breaks `check` (of one of the four data tables) in the run of base_tables()."""
    tables = tables if tables is not None else base_tables()
    table = RUN_TABLES[check.table]
    if (check.table, check.name) in ROW_CHECK_CASES:
        mutate, row = ROW_CHECK_CASES[(check.table, check.name)]
        return Case(check, mutate, row)
    case = _generic(check, table, tables)
    if case is None:
        raise NoCase(f"no bad-input case for {check}: add one to ROW_CHECK_CASES in tests/support/contract_cases.py")
    return case


def data_table_checks() -> list[Check]:
    return [c for c in all_checks() if c.table in RUN_TABLES]
