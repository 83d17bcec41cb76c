"""Check a run's tables against the contract: conform, Pandera, then cross-table references.

All problems of all tables are collected into one ValidationError, so a caller
fixes everything in one pass.
"""

from __future__ import annotations

import json
from concurrent.futures import Executor, Future

import pandera.errors
import polars as pl
import pyarrow as pa

from lake.write.conform import MAX_EXAMPLES, conform
from lake.errors import Failure
from lake.run import Run
from schemas import RUN_TABLES, Table
from schemas.pandera_schema import pandera_schema


def pandera_failures(table: Table, data: pa.Table) -> list[Failure]:
    """Failures of the table's Pandera schema (polars backend) on contract-shaped data."""
    try:
        pandera_schema(table).validate(pl.from_arrow(data), lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return _from_failure_cases(table, exc.failure_cases)
    except pandera.errors.SchemaError as exc:  # raised eagerly for some schema-level problems
        return [Failure(table.name, getattr(exc, "column_name", None), "schema", str(exc))]
    return []


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


def reference_failures(tables: dict[str, pa.Table]) -> list[Failure]:
    """Fills must reference orders and positions of the same run."""
    checks = [
        ("fills", "client_order_id", "orders", "client_order_id"),
        ("fills", "position_id", "positions", "position_id"),
    ]
    failures = []
    for child, column, parent, parent_column in checks:
        if child not in tables or parent not in tables:
            continue
        values = pl.from_arrow(tables[child].select([column])).to_series().drop_nulls()
        keys = pl.from_arrow(tables[parent].select([parent_column])).to_series().drop_nulls()
        # Fast path on 64-bit hashes (a dangling reference slips through only if its hash
        # collides with an existing key's: odds ~1e-13 per million rows); exact path on failure.
        if values.hash(seed=0).is_in(keys.hash(seed=0).implode()).all():
            continue
        child_rows = pl.from_arrow(tables[child].select([column])).with_row_index("row")
        missing = child_rows.filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(keys.implode()))
        rows = list(missing.head(MAX_EXAMPLES).iter_rows())
        failures.append(
            Failure(child, column, f"references_{parent}", f"not found in {parent}.{parent_column}", rows, missing.height)
        )
    return failures


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
    if len(tables) == len(RUN_TABLES):
        futures.append(pool.submit(reference_failures, tables))
    return futures
