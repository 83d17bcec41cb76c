"""Nautilus numbers and times as contract values: integer units of 1e-9, exact nanoseconds.

Prices, quantities and money are fixed-point values in Nautilus: their raw
integers (FIXED_PRECISION decimals) are rescaled to units without any float, and
a value that needs more than 9 decimals raises. Average prices (orders.avg_px,
positions.avg_px_open/avg_px_close) are binary floats inside Nautilus itself;
they become the float's shortest decimal form rounded half-even to 9 decimals.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_EVEN, Context, Decimal

import pyarrow as pa

from nautilus_trader.model.objects import FIXED_PRECISION

from lake.errors import LakeError
from lake.fixed_point import DECIMALS, NS_PER_US, units_array
from schemas import Kind

_UNIT = Decimal(1).scaleb(-DECIMALS)
_WIDE = Context(prec=80)  # room for any float's digits at 9 decimals
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class ExtractionError(LakeError, ValueError):
    """A NautilusTrader value that cannot be stored exactly (e.g. more than 9 decimals)."""


def _raw_divisor() -> int:
    if FIXED_PRECISION < DECIMALS:
        raise ExtractionError(f"nautilus_trader fixed precision {FIXED_PRECISION} is below {DECIMALS}")
    return 10 ** (FIXED_PRECISION - DECIMALS)


RAW_PER_UNIT = _raw_divisor()  # raw integers per 1e-9 unit: 10**7 in high-precision builds


def raw_to_units(raw: int, where: str = "value") -> int:
    """A Nautilus fixed-point raw integer (FIXED_PRECISION decimals) as an integer of 1e-9 units."""
    units, rest = divmod(raw, RAW_PER_UNIT)
    if rest:
        value = Decimal(raw).scaleb(-FIXED_PRECISION).normalize()
        raise ExtractionError(f"{where}: {value} needs more than {DECIMALS} decimals; it cannot be stored exactly")
    return units


def raw_units_array(raws: list[int | None], table: str, column: str, ids: list) -> pa.Array:
    """decimal128(38, 9) from a column of raw integers; an inexact value raises naming table, column, row and id."""
    d = RAW_PER_UNIT
    # One vector-friendly pass; only a failing column is walked again to name its row.
    if None in raws:
        units = [None if r is None else r // d for r in raws]
        inexact = any(r % d for r in raws if r is not None)
    else:
        units = [r // d for r in raws]
        inexact = any(r % d for r in raws)
    if inexact:
        for i, r in enumerate(raws):
            if r is not None and r % d:
                raw_to_units(r, f"{table}.{column} row {i} ({ids[i]})")  # raises, naming the row
    return units_array(units)


def float_to_units(value: float, where: str = "value") -> int:
    """A Nautilus float (average prices) as 1e-9 units: its shortest repr, rounded half-even.

    Done on the repr's digits (no Decimal) unless the repr has an exponent.
    """
    text = repr(value)
    negative = text.startswith("-")
    whole, dot, frac = text.lstrip("-").partition(".")
    if not (dot and whole.isdigit() and frac.isdigit()):
        if not math.isfinite(value):
            raise ExtractionError(f"{where}: {value!r} is not a finite number")
        units = Decimal(text).quantize(_UNIT, rounding=ROUND_HALF_EVEN, context=_WIDE).scaleb(DECIMALS, context=_WIDE)
        return int(units)
    units = int(whole + frac[:DECIMALS].ljust(DECIMALS, "0"))
    rest = frac[DECIMALS:]
    if rest:
        first = rest[0]
        if first > "5" or (first == "5" and (rest[1:].strip("0") or units % 2)):
            units += 1
    return -units if negative else units


def decimal_to_units(value: Decimal, where: str = "value") -> int:
    units = value.scaleb(DECIMALS)
    if units != units.to_integral_value():
        raise ExtractionError(f"{where}: {value} needs more than {DECIMALS} decimals; it cannot be stored exactly")
    return int(units)


def ns_arrays(ns: list[int | None]) -> tuple[pa.Array, pa.Array]:
    """(timestamp[us, UTC], int64 exact ns) from UNIX nanoseconds; None = null."""
    exact = pa.array(ns, type=pa.int64())
    if exact.null_count == 0:
        micros = pa.array(exact.to_numpy() // NS_PER_US)
    else:
        micros = pa.array([None if v is None else v // NS_PER_US for v in ns], type=pa.int64())
    return micros.cast(Kind.TIMESTAMP.arrow), exact


def ns_to_datetime(ns: int | None) -> dt.datetime | None:
    if ns is None:
        return None
    return _EPOCH + dt.timedelta(microseconds=int(ns) // NS_PER_US)


def ns_to_iso(ns: int | None) -> str | None:
    value = ns_to_datetime(ns)
    return value.isoformat() if value is not None else None
