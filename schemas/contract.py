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

    @property
    def ns_name(self) -> str:
        return f"{self.name}_ns"


@dataclass(frozen=True)
class RowCheck:
    """A check across columns of one row; `expr` builds a polars boolean expression."""

    name: str
    columns: tuple[str, ...]
    expr: Callable  # () -> polars.Expr, true where the row is valid
    description: str


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
