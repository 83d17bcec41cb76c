"""Validated tables to Parquet bytes; summary and config to JSON bytes.

Encoding is deterministic: the same run gives the same bytes, which is what
lets a rerun recognise the objects it already wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake.errors import SerializationError
from schemas import Table

PARQUET_COMPRESSION = "zstd"  # BigQuery, DuckDB and pandas all read it; ~2x smaller than snappy here
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
def parquet_bytes(data: pa.Table, table: Table, run_id: str) -> bytes:
    """Parquet of a contract table; run_id and schema_version ride in the key-value metadata."""
    metadata = {
        b"run_id": run_id.encode(),
        b"table": table.name.encode(),
        b"schema_version": str(table.version).encode(),
    }
    sink = pa.BufferOutputStream()
    pq.write_table(data.replace_schema_metadata(metadata), sink, compression=PARQUET_COMPRESSION)
    return sink.getvalue().to_pybytes()


def to_jsonable(value: Any, path: str = "$") -> Any:
    """Plain JSON values: Decimal as string (exact), datetimes as ISO 8601, numpy scalars, NaN/inf as null."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {_key(k, path): to_jsonable(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, f"{path}[{i}]") for i, v in enumerate(items)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), path)
    converted = _foreign_scalar(value)
    if converted is not _UNSET:
        return to_jsonable(converted, path)
    raise SerializationError(f"{path}: value of type {type(value).__name__} cannot be written as JSON")


_UNSET = object()


def _foreign_scalar(value: Any) -> Any:
    """numpy, pandas and NautilusTrader values as plain Python values."""
    module = type(value).__module__.split(".")[0]
    if module == "nautilus_trader":
        return value.as_decimal() if hasattr(value, "as_decimal") else str(value)
    if module == "numpy":
        if hasattr(value, "tolist"):
            return value.tolist()  # scalars and arrays alike
    if module == "pandas":
        if type(value).__name__ in ("NaTType", "NAType"):
            return None
        if hasattr(value, "to_pydatetime"):
            return value.to_pydatetime()
        if hasattr(value, "to_pytimedelta"):
            return value.to_pytimedelta()
    return _UNSET


def _key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float, bool, Decimal)) or key is None:
        return str(key)
    if isinstance(key, enum.Enum):
        return key.name
    module = type(key).__module__.split(".")[0]
    if module in ("numpy", "nautilus_trader"):
        return str(key)  # e.g. a Currency or InstrumentId used as a key
    raise SerializationError(f"{path}: key of type {type(key).__name__} cannot be a JSON key")


def json_bytes(value: Any, what: str) -> bytes:
    """Deterministic UTF-8 JSON: keys sorted, two-space indent, trailing newline."""
    try:
        plain = to_jsonable(value, what)
        text = json.dumps(plain, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)
    except SerializationError:
        raise
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{what}: {exc}") from exc
    return (text + "\n").encode("utf-8")
