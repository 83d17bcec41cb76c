"""Bring a caller's table (pandas or pyarrow) to the contract's exact Arrow schema.

Conversion never loses information silently: a decimal that needs more than 9
decimals, a naive timestamp, a NaN where a number is required or a column of
the wrong type becomes a Failure naming table, column and rows. Value checks
(keys, ranges, domains) are Pandera's job, in validate.py.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

from lake.errors import Failure
from schemas.contract import DECIMAL_SCALE, Column, Kind, Table

MAX_EXAMPLES = 3
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def to_arrow(table: Table, data, failures: list[Failure]) -> pa.Table | None:
    """The input as a pyarrow Table, converting pandas column by column so errors name the column."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        arrays, names = [], []
        ok = True
        for position, name in enumerate(data.columns):
            try:
                series = data.iloc[:, position]  # by position: a repeated name is reported by conform()
                # Float NaN stays NaN (not null), so a NaN price is reported as such.
                arrays.append(pa.array(series, from_pandas=series.dtype.kind != "f"))
                names.append(str(name))
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                failures.append(Failure(table.name, str(name), "dtype", f"cannot convert to Arrow: {exc}"))
                ok = False
        return pa.Table.from_arrays(arrays, names=names) if ok else None
    failures.append(
        Failure(table.name, None, "type", f"expected a pandas DataFrame or pyarrow Table, got {type(data).__name__}")
    )
    return None


def conform(table: Table, data, failures: list[Failure]) -> pa.Table | None:
    """The data with exactly table.arrow_schema, or None after appending failures."""
    before = len(failures)
    arrow = to_arrow(table, data, failures)
    if arrow is None:
        return None
    present = set(arrow.column_names)
    if len(present) != arrow.num_columns:
        dup = sorted({n for n in arrow.column_names if arrow.column_names.count(n) > 1})
        failures.append(Failure(table.name, dup[0], "duplicate_column", f"columns appear more than once: {dup}"))
        return None
    derived = {c.ns_name for c in table.columns if c.exact_ns} | {c.name for c in table.columns if c.derive}
    for name in table.column_names:
        if name not in present and name not in derived:
            failures.append(Failure(table.name, name, "missing_column", "required column is missing"))
    for name in arrow.column_names:
        if name not in table.column_names:
            failures.append(Failure(table.name, name, "extra_column", "column is not in the contract"))
    if len(failures) > before:
        return None

    out: dict[str, pa.Array] = {}
    for col in table.columns:
        if col.derive and col.name not in present:
            continue  # computed below, once the columns it reads are converted
        values = _combine(arrow.column(col.name))
        converted = _convert(table, col, values, failures)
        if converted is None:
            continue
        if col.exact_ns:
            micros, nanos = converted
            out[col.name] = micros
            out[col.ns_name] = _companion_ns(table, col, arrow, nanos, failures)
        else:
            out[col.name] = converted
    if len(failures) > before:
        return None
    for col in table.columns:
        if col.derive:
            _derive(table, col, out, failures)
    if len(failures) > before:
        return None
    return pa.Table.from_arrays([out[n] for n in table.column_names], schema=table.arrow_schema)


def _derive(table: Table, col: Column, out: dict[str, pa.Array], failures: list[Failure]) -> None:
    """Compute a derived column, or check the supplied one against the computation."""
    inputs = pa.table({name: arr for name, arr in out.items() if name != col.name})
    computed = col.derive(inputs)
    if col.name not in out:
        out[col.name] = computed
        return
    differs = pc.fill_null(pc.not_equal(out[col.name], computed), True)
    differs = pc.and_(differs, pc.invert(pc.and_(pc.is_null(out[col.name]), pc.is_null(computed))))
    if pc.any(differs).as_py():
        _fail(table, col, "matches_derivation", "differs from the value computed from the other columns",
              out[col.name], differs, failures)


def _combine(chunked: pa.ChunkedArray) -> pa.Array:
    arr = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _fail(table: Table, col: Column, check: str, message: str, arr: pa.Array, mask: pa.Array, failures: list[Failure]):
    """Record a failure with the rows where mask is true (a few shown, all counted)."""
    idx = pc.indices_nonzero(pc.fill_null(mask, False))
    rows = [(int(i), arr[int(i)].as_py()) for i in idx[:MAX_EXAMPLES].to_pylist()]
    failures.append(Failure(table.name, col.name, check, message, rows, len(idx)))


def _convert(table: Table, col: Column, arr: pa.Array, failures: list[Failure]):
    if pa.types.is_null(arr.type):  # all null (e.g. an empty optional column): type it as the contract says
        arr = pa.nulls(len(arr), pa.timestamp("ns", tz="UTC") if col.kind is Kind.TIMESTAMP else col.kind.arrow)
    t = arr.type
    if col.kind is Kind.STRING:
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return arr.cast(pa.string())
        return _wrong_type(table, col, t, "string", failures)
    if col.kind is Kind.DECIMAL:
        return _decimals(table, col, arr, failures)
    if col.kind is Kind.TIMESTAMP:
        return _timestamps(table, col, arr, failures)
    if col.kind is Kind.INT64:
        if pa.types.is_integer(t):
            try:
                return arr.cast(pa.int64())
            except pa.ArrowInvalid:
                mask = pc.greater(arr, pa.scalar(2**63 - 1, t))
                return _fail(table, col, "int64_range", "value does not fit in int64", arr, mask, failures)
        return _wrong_type(table, col, t, "integer", failures)
    if col.kind is Kind.FLOAT64:
        if pa.types.is_floating(t) or pa.types.is_integer(t):
            return arr.cast(pa.float64())
        return _wrong_type(table, col, t, "float", failures)
    if col.kind is Kind.BOOL:
        if pa.types.is_boolean(t):
            return arr
        return _wrong_type(table, col, t, "bool", failures)
    raise AssertionError(col.kind)


def _wrong_type(table: Table, col: Column, t: pa.DataType, expected: str, failures: list[Failure]) -> None:
    failures.append(Failure(table.name, col.name, "dtype", f"expected {expected}, got {t}"))


def _decimals(table: Table, col: Column, arr: pa.Array, failures: list[Failure]) -> pa.Array | None:
    t = arr.type
    target = col.kind.arrow
    if pa.types.is_floating(t):
        bad = pc.or_(pc.is_nan(arr), pc.is_inf(arr))
        if pc.any(bad).as_py():
            nan_mask = pc.is_nan(arr)
            if not col.nullable or pc.any(pc.is_inf(arr)).as_py():
                check = "not_nan" if pc.any(nan_mask).as_py() else "finite"
                return _fail(table, col, check, "NaN or infinite value where a number is required", arr, bad, failures)
            arr = pc.if_else(nan_mask, pa.scalar(None, t), arr)  # optional column: NaN means absent
        # The shortest round-trip text of a float is the value its author meant;
        # parsing it as a decimal keeps that value exactly or fails.
        arr = pc.cast(arr, pa.string())
    elif pa.types.is_integer(t) or pa.types.is_decimal(t):
        pass
    else:
        return _wrong_type(table, col, t, "decimal (Decimal, decimal128, int or float)", failures)
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        mask = pa.array([not _fits(v) for v in arr.to_pylist()])
        return _fail(
            table, col, "max_9_decimals",
            f"value needs more than {DECIMAL_SCALE} decimals or 29 integer digits (it would be rounded)",
            arr, mask, failures,
        )


def _fits(value) -> bool:
    if value is None:
        return True
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return False
    if not d.is_finite():
        return False
    exponent = d.normalize().as_tuple().exponent
    return exponent >= -DECIMAL_SCALE and abs(d) < Decimal(10) ** (38 - DECIMAL_SCALE)


def _timestamps(table: Table, col: Column, arr: pa.Array, failures: list[Failure]):
    """Timestamps to timestamp[us, UTC]; with exact_ns also the exact nanoseconds (int64)."""
    t = arr.type
    if not pa.types.is_timestamp(t):
        return _wrong_type(table, col, t, "timezone-aware timestamp", failures)
    if t.tz is None and arr.null_count < len(arr):  # an all-null column carries no zone to get wrong
        failures.append(Failure(table.name, col.name, "tz_aware", "naive timestamp: give timezone-aware (UTC) times"))
        return None
    # Arrow timestamps are UTC instants whatever their display zone: relabelling is exact.
    utc = arr.cast(pa.timestamp(t.unit, tz="UTC")) if t.tz is not None else pa.nulls(len(arr), pa.timestamp(t.unit, tz="UTC"))
    nanos = pc.multiply_checked(utc.cast(pa.int64()), _NS_PER_UNIT[t.unit])
    micros = _floor_div(nanos, 1000).cast(pa.timestamp("us", tz="UTC"))
    return (micros, nanos) if col.exact_ns else micros


def _floor_div(values: pa.Array, divisor: int) -> pa.Array:
    quotient = pc.divide(values, divisor)  # integer division truncates toward zero
    negative_inexact = pc.and_(pc.less(values, 0), pc.not_equal(pc.multiply(quotient, divisor), values))
    return pc.if_else(negative_inexact, pc.subtract(quotient, 1), quotient)


def _companion_ns(table: Table, col: Column, arrow: pa.Table, derived_ns: pa.Array, failures: list[Failure]) -> pa.Array:
    """The `{name}_ns` column: supplied (then it must agree with the timestamp) or derived from it."""
    if col.ns_name not in arrow.column_names:
        return derived_ns
    ns_col = Column(col.ns_name, Kind.INT64, "", nullable=col.nullable)
    given = _convert(table, ns_col, _combine(arrow.column(col.ns_name)), failures)
    if given is None:
        return derived_ns
    # The timestamp may carry only microseconds; the supplied ns must fall in the same microsecond.
    disagree = pc.fill_null(pc.not_equal(_floor_div(given, 1000), _floor_div(derived_ns, 1000)), False)
    disagree = pc.or_(disagree, pc.xor(pc.is_null(given), pc.is_null(derived_ns)))
    if pc.any(disagree).as_py():
        _fail(table, ns_col, "ns_matches_timestamp", f"disagrees with {col.name}", given, disagree, failures)
    return given
