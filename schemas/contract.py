"""The data contract's building blocks: a column, a table, and what each derives.

Every table module in this package declares one `Table`. The pyarrow schema, the
Pandera schema and the BigQuery column list are all derived from it here, so the
contract is written exactly once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import pyarrow as pa

DECIMAL_PRECISION = 38
DECIMAL_SCALE = 9
WIDE_DECIMAL = pa.decimal256(76, DECIMAL_SCALE)  # holds any sum of decimal128(38, 9) values exactly


class Kind(enum.Enum):
    """Logical column types: only those BigQuery reads natively from Parquet."""

    STRING = "STRING"
    DECIMAL = "NUMERIC"  # decimal128(38, 9)
    TIMESTAMP = "TIMESTAMP"  # timestamp[us, UTC]
    INT64 = "INT64"
    FLOAT64 = "FLOAT64"
    BOOL = "BOOL"

    @property
    def arrow(self) -> pa.DataType:
        return _ARROW_TYPES[self]

    @property
    def bigquery(self) -> str:
        return self.value


_ARROW_TYPES = {
    Kind.STRING: pa.string(),
    Kind.DECIMAL: pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.INT64: pa.int64(),
    Kind.FLOAT64: pa.float64(),
    Kind.BOOL: pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    """One column of a table.

    `exact_ns` on a timestamp adds a companion INT64 column `{name}_ns` holding
    NautilusTrader's exact UNIX nanoseconds, because BigQuery timestamps stop at
    microseconds. The companion is derived from the timestamp when not supplied.

    `derive` computes the column from the table's other columns (an Arrow table in
    contract types) when the caller does not supply it; supplied, it must agree.
    """

    name: str
    kind: Kind
    description: str
    nullable: bool = False
    unique: bool = False
    positive: bool = False  # > 0
    non_negative: bool = False  # >= 0
    domain: tuple[str, ...] | None = None
    exact_ns: bool = False
    derive: Callable[[pa.Table], pa.Array] | None = None
    since: int = 1  # the table's contract version that added the column (added columns are nullable)

    @property
    def ns_name(self) -> str:
        return f"{self.name}_ns"


@dataclass(frozen=True)
class RowCheck:
    """A check of each row of a table; `expr` builds a polars boolean expression, true where the row is valid.

    A check that also reads other tables of the run names them in `reads` (its `columns` then include
    their qualified names, e.g. `orders.instrument_id`). Its `expr(table, tables)` takes this table and
    the run's tables (pyarrow, in contract types) and returns one boolean per row of this table (true or
    null: valid); it runs once every table is conformed (lake/write/checks.py), not in the table's
    Pandera schema. A failure is reported under `column`.
    """

    name: str
    columns: tuple[str, ...]
    expr: Callable  # () -> polars.Expr; with `reads`: (pa.Table, dict[str, pa.Table]) -> boolean array
    description: str
    reads: tuple[str, ...] = ()

    @property
    def column(self) -> str | None:
        """The column a failure is reported under: the first of this table's, for a check of one column
        or across tables; None (the row as a whole) for a check comparing columns of one row."""
        own = [c for c in self.columns if "." not in c]
        return own[0] if own and (self.reads or len(self.columns) == 1) else None


def not_blank(*columns: str) -> tuple[RowCheck, ...]:
    """Identifiers may be null where the column allows it, but never empty or only whitespace."""

    def expr(column: str) -> Callable:
        import polars as pl

        return lambda: pl.col(column).str.contains(r"\S")

    return tuple(RowCheck(f"{c}_not_blank", (c,), expr(c), f"{c} must not be empty or only whitespace") for c in columns)


def references(name: str, column: str, parent: str, parent_column: str, description: str) -> RowCheck:
    """A check that every non-null `column` is a `parent_column` of table `parent` of the same run."""

    def expr(table: pa.Table, tables: dict[str, pa.Table]) -> pa.Array:
        import polars as pl

        values = pl.from_arrow(table.column(column)).alias(column)
        keys = pl.from_arrow(tables[parent].column(parent_column)).drop_nulls()
        # Fast path on 64-bit hashes (a dangling reference slips through only if its hash collides with
        # an existing key's: odds ~1e-13 per million rows); the exact comparison only when it fails.
        if values.drop_nulls().hash(seed=0).is_in(keys.hash(seed=0).implode()).all():
            return pa.nulls(len(values), pa.bool_())  # null: valid
        return (values.is_in(keys.implode()) | values.is_null()).to_arrow()

    return RowCheck(name, (column, f"{parent}.{parent_column}"), expr, description, reads=(parent,))


def exact_sums(keys: pa.ChunkedArray, amounts: pa.ChunkedArray) -> pa.Table:
    """The sum of `amounts` (decimals) per distinct key: columns `key` and `amount_sum` (null where every
    amount of the key is null), summed in WIDE_DECIMAL, so exact and never overflowing."""
    wide = pa.table({"key": keys, "amount": amounts.cast(WIDE_DECIMAL)})
    return wide.group_by("key").aggregate([("amount", "sum")])


@dataclass(frozen=True)
class Table:
    name: str
    version: int
    description: str
    columns: tuple[Column, ...]
    row_checks: tuple[RowCheck, ...] = ()
    unique_together: tuple[str, ...] = ()
    exactly_one_row: bool = False

    @cached_property
    def physical_columns(self) -> tuple[Column, ...]:
        """Columns as stored: each exact_ns timestamp is followed by its INT64 companion."""
        out: list[Column] = []
        for col in self.columns:
            out.append(col)
            if col.exact_ns:
                out.append(
                    Column(
                        col.ns_name,
                        Kind.INT64,
                        f"{col.name} as exact UNIX nanoseconds (the timestamp column holds microseconds).",
                        nullable=col.nullable,
                        since=col.since,  # added with its timestamp
                    )
                )
        return tuple(out)

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.physical_columns)

    def column(self, name: str) -> Column:
        for col in self.physical_columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field(c.name, c.kind.arrow, nullable=c.nullable, metadata={"description": c.description})
                for c in self.physical_columns
            ]
        )

    def bigquery_columns(self) -> list[dict[str, str]]:
        """Column list as BigQuery wants it: name, type, mode and description."""
        return [
            {
                "name": c.name,
                "type": c.kind.bigquery,
                "mode": "NULLABLE" if c.nullable else "REQUIRED",
                "description": c.description,
            }
            for c in self.physical_columns
        ]
