"""lake.fixed_point: integer units of 1e-9 -> decimal128(38, 9), exactly, from NumPy arrays and Python lists."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from lake.fixed_point import DECIMAL, MAX_UNITS, UNITS_PER_ONE, FixedPointError, units_array


def test_numpy_units_with_mask_are_exact():
    units = np.array([1, -1, 123 * UNITS_PER_ONE + 456, np.iinfo(np.int64).min, np.iinfo(np.int64).max])
    arr = units_array(units, valid=np.array([True, True, True, True, False]))
    assert arr.type == DECIMAL and arr.null_count == 1
    assert arr.to_pylist() == [Decimal("1E-9"), Decimal("-1E-9"), Decimal("123.000000456"),
                               Decimal(-(2**63)).scaleb(-9), None]
    assert units_array(np.arange(3, dtype=np.int32)).to_pylist() == [Decimal(0).scaleb(-9), Decimal("1E-9"), Decimal("2E-9")]
    with pytest.raises(TypeError):
        units_array(np.array([0.5]))


def test_list_units_nulls_and_beyond_int64():
    assert units_array([]).equals(pa.array([], DECIMAL))
    assert units_array([None, 5]).to_pylist() == [None, Decimal("5E-9")]
    big = 10**30 + 1
    assert units_array([big, -big, None]).to_pylist() == [Decimal(f"{big}E-9"), Decimal(f"-{big}E-9"), None]
    assert units_array([MAX_UNITS, -MAX_UNITS]).to_pylist() == [Decimal(f"{MAX_UNITS}E-9"), Decimal(f"-{MAX_UNITS}E-9")]
    with pytest.raises(FixedPointError, match="exceeds decimal128"):
        units_array([MAX_UNITS + 1])


def test_unsigned_units_beyond_int64_do_not_wrap():
    top = np.iinfo(np.int64).max
    units = np.array([top + 1, 2**64 - 1, 7], dtype=np.uint64)
    assert units_array(units).to_pylist() == [Decimal(top + 1).scaleb(-9), Decimal(2**64 - 1).scaleb(-9), Decimal("7E-9")]
    masked = units_array(units, valid=np.array([True, False, True]))
    assert masked.to_pylist() == [Decimal(top + 1).scaleb(-9), None, Decimal("7E-9")]
    assert units_array(np.array([top], dtype=np.uint64)).to_pylist() == [Decimal(top).scaleb(-9)]  # the fast path
