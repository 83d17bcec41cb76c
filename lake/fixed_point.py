"""Exact fixed point: integers counting 1e-9 ("units") <-> decimal128(38, 9) Arrow arrays.

Prices, quantities and money are carried as integer units so that no float (and
no Decimal object per value) ever touches them; an Arrow decimal128 array is
then built straight from those integers. The scale is the contract's
(schemas.contract.DECIMAL_SCALE), defined there once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from lake.errors import LakeError
from schemas.contract import DECIMAL_PRECISION, DECIMAL_SCALE

DECIMALS = DECIMAL_SCALE  # digits after the point: 9
UNITS_PER_ONE = 10**DECIMALS  # units in 1.0
MAX_UNITS = 10**DECIMAL_PRECISION - 1  # the largest magnitude decimal128(38, 9) holds, in units
DECIMAL = pa.decimal128(DECIMAL_PRECISION, DECIMALS)

# Time is counted the same way, in integer nanoseconds (UNIX epoch), and stored to the microsecond.
NS_PER_SECOND = 10**9
NS_PER_US = 1_000


class FixedPointError(LakeError, ValueError):
    """A value that decimal128(38, 9) cannot hold."""


def units_array(units: np.ndarray | Sequence[int | None], valid: np.ndarray | None = None) -> pa.Array:
    """decimal128(38, 9) from integer units of 1e-9, exactly.

    units: an integer NumPy array (vectorised callers), or a sequence of Python ints
    with None for null (values beyond int64 take a slower exact path).
    valid: an optional boolean mask, False = null.
    """
    n = len(units)
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    if isinstance(units, np.ndarray):
        if units.dtype.kind not in "iu":
            raise TypeError(f"units must be integers, got a {units.dtype} array")
        if units.dtype.kind == "u" and n and units.max() > np.iinfo(np.int64).max:
            return units_array(units.tolist(), valid)  # would wrap as int64: the exact path
        data = _two_words(units.astype(np.int64, copy=False))
    else:
        if None in units:
            nulls = np.fromiter((u is None for u in units), dtype=bool, count=n)
            mask = nulls if mask is None else mask | nulls
            units = [0 if u is None else u for u in units]
        try:
            data = _two_words(np.array(units, dtype=np.int64))
        except OverflowError:  # beyond int64: each value's own 16 bytes
            if any(abs(u) > MAX_UNITS for u in units):
                raise FixedPointError(f"a value exceeds decimal128({DECIMAL_PRECISION}, {DECIMALS})") from None
            data = b"".join(u.to_bytes(16, "little", signed=True) for u in units)
    validity = None
    null_count = 0
    if mask is not None and mask.any():
        null_count = int(mask.sum())
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little").tobytes())
    return pa.Array.from_buffers(DECIMAL, n, [validity, pa.py_buffer(data)], null_count=null_count)


def _two_words(low: np.ndarray) -> bytes:
    """int64 values as decimal128 values: a little-endian 128-bit two's complement integer is the
    value as the low word and its sign extension (0 or -1) as the high word."""
    words = np.empty((len(low), 2), dtype=np.int64)
    words[:, 0] = low
    words[:, 1] = low >> 63
    return words.tobytes()
