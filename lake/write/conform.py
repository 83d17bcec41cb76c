"""Bring a caller's table (pandas or pyarrow) to the contract's exact Arrow schema.

Conversion never loses information silently: a decimal that needs more than 9
decimals, a naive timestamp, a NaN where a number is required or a column of
the wrong type becomes a Failure naming table, column and rows. Value checks
(keys, ranges, domains) are Pandera's job, in checks.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal, InvalidOperation, localcontext

import pyarrow as pa
import pyarrow.compute as pc

from lake.errors import Failure
from schemas.contract import DECIMAL_PRECISION, DECIMAL_SCALE, Column, Kind, Table

MAX_EXAMPLES = 3
_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US = dt.timedelta(microseconds=1)
# Every time the lake writes must fit BigQuery's TIMESTAMP (also Python's datetime range): the tables' here,
# the summary's in runs_row.py. As UTC microseconds since the epoch:
TIMESTAMP_US = (
    (dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH) // _US,
    (dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc) - _EPOCH) // _US,
)
TIMESTAMP_RANGE = "0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z"
# The same as UTC nanoseconds; event times with an exact `_ns` companion must also fit INT64 nanoseconds,
# the narrower of the two:
_BIGQUERY_NS = (TIMESTAMP_US[0] * 1000, TIMESTAMP_US[1] * 1000 + 999)
_INT64_NS = (-(2**63), 2**63 - 1)
_INT64_NS_RANGE = "1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z"


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
                datetimes = _datetime_objects(table, str(name), series, failures) if series.dtype == object else None
                if datetimes is _REFUSED:
                    ok = False
                    continue
                # Float NaN stays NaN (not null), so a NaN price is reported as such.
                arrays.append(datetimes if datetimes is not None else pa.array(series, from_pandas=series.dtype.kind != "f"))
                names.append(str(name))
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                failures.append(Failure(table.name, str(name), "dtype", f"cannot convert to Arrow: {exc}"))
                ok = False
        return pa.Table.from_arrays(arrays, names=names) if ok else None
    failures.append(
        Failure(table.name, None, "type", f"expected a pandas DataFrame or pyarrow Table, got {type(data).__name__}")
    )
    return None


_REFUSED = object()


def _datetime_objects(table: Table, name: str, series, failures: list[Failure]):
    """A pandas object column of datetimes as exact UTC timestamps, converted here rather than by pyarrow.

    pyarrow would take a naive datetime among aware ones for UTC, keep only microseconds of a
    pd.Timestamp, and (with PYARROW_IGNORE_TIMEZONE set, as importing pandera does) drop every UTC
    offset. Returns None when the column is not all datetimes (left to pyarrow), _REFUSED after a
    Failure for naive values mixed with aware ones.
    """
    import pandas as pd

    values = series.tolist()
    present = [(i, v) for i, v in enumerate(values) if v is not None and v is not pd.NaT and not _is_nan(v)]
    if not present or not all(isinstance(v, dt.datetime) for _, v in present):
        return None
    offsets, broken = {}, []
    for i, v in present:
        try:
            offsets[i] = v.utcoffset()
        except Exception as exc:  # a tzinfo of the caller's that cannot say its offset
            broken.append((i, f"{type(exc).__name__}: {exc}"))
    if broken:
        failures.append(Failure(table.name, name, "tz_aware", "the time zone cannot give its UTC offset",
                                broken[:MAX_EXAMPLES], len(broken)))
        return _REFUSED
    naive = [(i, v) for i, v in present if offsets[i] is None]
    if naive:
        if len(naive) == len(present):
            return None  # all naive: refused as such by _timestamps
        rows = [(i, str(v)) for i, v in naive[:MAX_EXAMPLES]]
        failures.append(Failure(table.name, name, "tz_aware", "naive datetimes mixed with timezone-aware ones", rows, len(naive)))
        return _REFUSED
    ns: list[int | None] = [None] * len(values)
    for i, v in present:
        nanos = v.nanosecond if isinstance(v, pd.Timestamp) else 0
        # exact: the offset applied in integer arithmetic (as datetime subtraction would, without its overflow)
        ns[i] = (v.replace(tzinfo=None) - _EPOCH.replace(tzinfo=None) - offsets[i]) // _US * 1000 + nanos
    if all(n is None or _INT64_NS[0] <= n <= _INT64_NS[1] for n in ns):
        return pa.array(ns, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    # Beyond int64 nanoseconds (e.g. year 2300): microseconds, for the range check to report.
    return pa.array([None if n is None else n // 1000 for n in ns], pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _is_nan(value) -> bool:
    return isinstance(value, float) and value != value


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
    with localcontext(Context(prec=2 * DECIMAL_PRECISION)):  # exact for any decimal256 (76 digits); the default 28 rounds
        exponent = d.normalize().as_tuple().exponent
        return exponent >= -DECIMAL_SCALE and abs(d) < Decimal(10) ** (DECIMAL_PRECISION - DECIMAL_SCALE)


def _timestamps(table: Table, col: Column, arr: pa.Array, failures: list[Failure]):
    """Timestamps to timestamp[us, UTC]; with exact_ns also the exact nanoseconds (int64).

    Values outside the range the column can hold are refused by row (see _BIGQUERY_NS): for an event
    time with an `_ns` companion that is the int64 nanosecond range, BigQuery's wider range otherwise.
    """
    t = arr.type
    if not pa.types.is_timestamp(t):
        return _wrong_type(table, col, t, "timezone-aware timestamp", failures)
    if t.tz is None and arr.null_count < len(arr):  # an all-null column carries no zone to get wrong
        failures.append(Failure(table.name, col.name, "tz_aware", "naive timestamp: give timezone-aware (UTC) times"))
        return None
    # Arrow timestamps are UTC instants whatever their display zone: the integers are exact.
    values = arr.cast(pa.int64()) if t.tz is not None else pa.nulls(len(arr), pa.int64())
    per = _NS_PER_UNIT[t.unit]
    lo_ns, hi_ns = _INT64_NS if col.exact_ns else _BIGQUERY_NS
    lo, hi = max(-(-lo_ns // per), _INT64_NS[0]), min(hi_ns // per, _INT64_NS[1])  # in the column's own unit
    outside = pc.or_(pc.less(values, lo), pc.greater(values, hi))
    if pc.any(outside).as_py():
        if col.exact_ns:
            message = (f"outside {_INT64_NS_RANGE}, the range of its exact-nanosecond companion {col.ns_name} "
                       f"(INT64; BigQuery's TIMESTAMP alone would allow {TIMESTAMP_RANGE})")
        else:
            message = f"outside BigQuery's TIMESTAMP range {TIMESTAMP_RANGE}"
        idx = pc.indices_nonzero(pc.fill_null(outside, False))
        rows = [(int(i), _shown_time(values[int(i)].as_py(), t.unit)) for i in idx[:MAX_EXAMPLES].to_pylist()]
        failures.append(Failure(table.name, col.name, "timestamp_range", message, rows, len(idx)))
        return None
    micros = _floor_div(values, 1000) if t.unit == "ns" else pc.multiply(values, per // 1000)
    micros = micros.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    if not col.exact_ns:
        return micros
    return micros, pc.multiply(values, per).cast(pa.int64())


def _shown_time(value: int, unit: str) -> str:
    """An out-of-range time for a report: ISO 8601 when Python can show it, else the raw count."""
    try:
        return (_EPOCH + dt.timedelta(microseconds=value * _NS_PER_UNIT[unit] // 1000)).isoformat()
    except OverflowError:
        return f"{value} {unit} since 1970-01-01 (beyond year 9999)"


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
