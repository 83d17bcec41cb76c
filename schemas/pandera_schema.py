"""Derive the Pandera schema of a table from its contract.

The polars backend is used: it validates Arrow data nearly zero-copy and runs
checks vectorised; the pandas backend turns decimals into Python objects and is
an order of magnitude slower on a million rows (see bench/write_run.py).
"""

from __future__ import annotations

import functools
import os

# Importing pandera sets PYARROW_IGNORE_TIMEZONE=1 (and SPARK_LOCAL_IP) for the whole process
# (pandera/external_config.py), after which pyarrow drops the UTC offset of every aware datetime it
# converts: in the caller's code too. This module is where the library first imports pandera; the
# variables are put back as they were right after, so `import lake` changes nothing behind the
# caller's back. (The writer converts times explicitly anyway, so it is right either way.)
_PANDERA_ENV = ("PYARROW_IGNORE_TIMEZONE", "SPARK_LOCAL_IP")
_before = {name: os.environ.get(name) for name in _PANDERA_ENV}
try:
    import pandera.polars as pap
    from pandera.errors import SchemaError, SchemaErrors  # noqa: F401  (lake.write.checks imports them from here)
finally:
    for _name, _value in _before.items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value

import polars as pl  # noqa: E402

from schemas.contract import DECIMAL_PRECISION, DECIMAL_SCALE, Kind, Table

_POLARS_TYPES = {
    Kind.STRING: pl.Utf8,
    Kind.DECIMAL: pl.Decimal(DECIMAL_PRECISION, DECIMAL_SCALE),
    Kind.TIMESTAMP: pl.Datetime("us", "UTC"),
    Kind.INT64: pl.Int64,
    Kind.FLOAT64: pl.Float64,
    Kind.BOOL: pl.Boolean,
}


def _row_check(check) -> pap.Check:
    def holds(data: pap.PolarsData) -> pl.LazyFrame:
        # Nulls in optional columns mean "not applicable", so they pass.
        return data.lazyframe.select(check.expr().fill_null(True))

    return pap.Check(holds, name=check.name)


def _unique(column: str) -> pap.Check:
    """Uniqueness with a fast path: one hash count, and row-level detail only on failure.

    Pandera's own `unique=True` marks duplicates row by row (is_duplicated), about
    5x slower on a million strings than counting distinct hashes.
    """

    def holds(data: pap.PolarsData):
        counts = data.lazyframe.select(
            pl.col(column).drop_nulls().n_unique().alias("distinct"), pl.col(column).count().alias("count")
        ).collect().row(0)
        if counts[0] == counts[1]:
            return data.lazyframe.select(pl.lit(True))
        return data.lazyframe.select(~pl.col(column).is_duplicated())

    return pap.Check(holds, name="unique")


@functools.lru_cache(maxsize=None)
def pandera_schema(table: Table) -> pap.DataFrameSchema:
    """The table's Pandera schema, derived from the contract once per table (the row checks that read
    other tables run in lake/write/checks.py instead)."""
    columns = {}
    for col in table.physical_columns:
        checks = []
        if col.positive:
            checks.append(pap.Check.gt(0))
        if col.non_negative:
            checks.append(pap.Check.ge(0))
        if col.domain is not None:
            checks.append(pap.Check.isin(list(col.domain)))
        if col.unique:
            checks.append(_unique(col.name))
        columns[col.name] = pap.Column(
            _POLARS_TYPES[col.kind],
            nullable=col.nullable,
            checks=checks,
            description=col.description,
        )
    frame_checks = [_row_check(c) for c in table.row_checks if not c.reads]  # checks across tables: checks.py
    if table.exactly_one_row:
        frame_checks.append(
            pap.Check(lambda data: data.lazyframe.select(pl.len() == 1), name="exactly_one_row")
        )
    return pap.DataFrameSchema(
        columns,
        checks=frame_checks,
        unique=list(table.unique_together) or None,
        strict=True,
        ordered=True,
        name=table.name,
    )
