"""Check a run's tables against the contract: conform, Pandera, then cross-table references.

All problems of all tables are collected into one ValidationError, so a caller
fixes everything in one pass.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import Executor, Future

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lake.errors import Failure
from lake.run import Run
from lake.write.conform import MAX_EXAMPLES, conform
from schemas import RUN_TABLES, TABLES, RowCheck, Table
from schemas.contract import Kind
from schemas.pandera_schema import SchemaError, SchemaErrors, pandera_schema  # pandera only through here


def pandera_failures(table: Table, data: pa.Table) -> list[Failure]:
    """Failures of the table's Pandera schema (polars backend) on contract-shaped data.

    A clean table costs one polars query (contract_checks_pass); Pandera itself runs
    only when that query finds something, so every problem is reported in its words.
    """
    if contract_checks_pass(table, data):
        return []
    try:
        pandera_schema(table).validate(pl.from_arrow(data), lazy=True)
    except SchemaErrors as exc:
        return _from_failure_cases(table, exc.failure_cases)
    except SchemaError as exc:  # raised eagerly for some schema-level problems
        return [Failure(table.name, getattr(exc, "column_name", None), "schema", str(exc))]
    return []


def contract_checks_pass(table: Table, data: pa.Table) -> bool:
    """True only if the table's Pandera schema (schemas/pandera_schema.py) would report no failure.

    The same checks, derived from the same contract, as one polars query: Pandera runs each check as
    its own query (about 30 ms a table, whatever its size), which made it most of the cost of
    validating a lake of small runs. False (or any error) means "ask Pandera", whose report is the
    one shown; so a problem is reported exactly as before, and a clean table costs one query.
    Data whose Arrow schema is not the table's (names, order, types) is Pandera's to judge too.
    tests/test_verify_scale.py checks that this covers every check the Pandera schema has, and agrees
    with it on the bad inputs of the test suite.
    """
    if not data.schema.equals(table.arrow_schema, check_metadata=False):
        return False
    try:
        frame = pl.from_arrow(data)
        passed = frame.select(contract_check_exprs(table)).row(0)
        if not all(passed):
            return False
        together = list(table.unique_together)
        return not (together and frame.select(together).is_duplicated().any())
    except Exception:  # noqa: BLE001 - an unexpected error is Pandera's to report
        return False


@functools.lru_cache(maxsize=None)
def contract_check_exprs(table: Table) -> list[pl.Expr]:
    """One boolean per check of the table's Pandera schema (all but unique_together), true where it holds.

    Each is Pandera's own expression with its null handling: a column check and a row check pass on
    null (Pandera's ignore_na), a non-nullable column has no null (and, if float, no NaN).
    """
    exprs: list[pl.Expr] = []
    for col in table.physical_columns:
        c = pl.col(col.name)
        if not col.nullable:
            present = c.is_not_null() & c.is_not_nan() if col.kind is Kind.FLOAT64 else c.is_not_null()
            exprs.append(present.all().alias(f"{col.name}:not_nullable"))
        if col.positive:
            exprs.append(c.gt(0).fill_null(True).all().alias(f"{col.name}:greater_than"))
        if col.non_negative:
            exprs.append(c.ge(0).fill_null(True).all().alias(f"{col.name}:greater_than_or_equal_to"))
        if col.domain is not None:
            exprs.append(c.is_in(list(col.domain)).fill_null(True).all().alias(f"{col.name}:isin"))
        if col.unique:
            exprs.append((c.drop_nulls().n_unique() == c.count()).alias(f"{col.name}:unique"))
    for check in table.row_checks:
        if not check.reads:  # checks across tables are reference_failures', not the Pandera schema's
            exprs.append(check.expr().fill_null(True).all().alias(f"*:{check.name}"))
    if table.exactly_one_row:
        exprs.append((pl.len() == 1).alias("*:exactly_one_row"))
    return exprs or [pl.lit(True).alias("nothing")]


def _from_failure_cases(table: Table, cases: pl.DataFrame) -> list[Failure]:
    row_checks = {c.name: c for c in table.row_checks}
    failures = []
    for (column, check), group in cases.group_by(["column", "check"], maintain_order=True):
        row_check = row_checks.get(check)
        rows = [
            (idx, _row_columns(value, row_check.columns) if row_check else _plain(value))
            for idx, value in group.select("index", "failure_case").head(MAX_EXAMPLES).iter_rows()
        ]
        column = None if column in (None, table.name) else column
        if row_check is not None:
            column = row_check.column
        message = row_check.description if row_check else ""
        failures.append(Failure(table.name, column, str(check), message, rows, group.height))
    return failures


def _row_columns(row_json, columns: tuple[str, ...]):
    """Pandera reports a failing row as JSON of the whole row: keep the columns the check reads."""
    try:
        row = json.loads(row_json)
        return {c: row.get(c) for c in columns}
    except (TypeError, ValueError):
        return _plain(row_json)


def _plain(value):
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)


def cross_table_checks() -> list[tuple[Table, RowCheck]]:
    """The contract's row checks that read other tables of the run (references, agreement, sums)."""
    return [(table, check) for table in TABLES.values() for check in table.row_checks if check.reads]


def reference_failures(tables: dict[str, pa.Table]) -> list[Failure]:
    """Failures of every check across tables (the contract's RowChecks with `reads`) whose tables are all here."""
    return [f for table, check in _runnable(tables) for f in _cross_failures(table, check, tables)]


def _runnable(tables: dict[str, pa.Table]) -> list[tuple[Table, RowCheck]]:
    return [
        (table, check)
        for table, check in cross_table_checks()
        if table.name in tables and all(name in tables for name in check.reads)
    ]


def _cross_failures(table: Table, check: RowCheck, tables: dict[str, pa.Table]) -> list[Failure]:
    data = tables[table.name]
    bad = pc.invert(pc.fill_null(check.expr(data, tables), True))
    count = pc.sum(bad.cast(pa.int64())).as_py() or 0
    if not count:
        return []
    shown = [c for c in check.columns if "." not in c]
    rows = [(int(i), _shown_row(data, shown, int(i))) for i in pc.indices_nonzero(bad)[:MAX_EXAMPLES].to_pylist()]
    return [Failure(table.name, check.column, check.name, check.description, rows, count)]


def _shown_row(data: pa.Table, columns: list[str], row: int):
    values = {c: data.column(c)[row].as_py() for c in columns}
    return values[columns[0]] if len(columns) == 1 else values


def conform_run(run: Run) -> tuple[dict[str, pa.Table], list[Failure]]:
    """The run's tables in contract shape (those that could be), and what stopped the others."""
    failures: list[Failure] = []
    tables = {}
    for name, data in run.tables().items():
        conformed = conform(RUN_TABLES[name], data, failures)
        if conformed is not None:
            tables[name] = conformed
    return tables, failures


def submit_checks(pool: Executor, tables: dict[str, pa.Table]) -> list[Future]:
    """Pandera per table and the cross-table references, as futures of failure lists."""
    futures = [pool.submit(pandera_failures, RUN_TABLES[name], t) for name, t in tables.items()]
    # Each check across tables on its own: they are independent, and the pool keeps both cores busy.
    futures += [pool.submit(_cross_failures, table, check, tables) for table, check in _runnable(tables)]
    return futures
