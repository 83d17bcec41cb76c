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
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from lake.errors import SerializationError
from schemas import Table

PARQUET_COMPRESSION = "zstd"  # BigQuery, DuckDB and pandas all read it; ~2x smaller than snappy here
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


def read_parquet_bytes(data: bytes) -> pa.Table:
    """The table in Parquet bytes, read so that no Arrow thread ever holds a Python object.

    apache/arrow#34314 still bites with pyarrow 26: a process that read Parquet
    from Python bytes and then exited died with "terminate called without an
    active exception" in 1-5% of runs (use_threads=False as often as not): an
    Arrow thread drops the last reference to the Python buffer while Python is
    finalizing. Copying the bytes into Arrow-owned memory first (one memcpy)
    removes the cause: 0 aborts in 580 runs.

    What pyarrow would read past is checked too: the leading magic bytes, the pages' checksums (when
    written with them) and text that is not UTF-8.
    """
    if data[:4] != b"PAR1":
        raise pa.ArrowInvalid(f"the file does not start with PAR1 but {bytes(data[:4])!r}")
    sink = pa.BufferOutputStream()
    sink.write(data)
    try:  # ParquetFile, not pq.read_table: the same table at half the cost (no dataset set up per file)
        file = pq.ParquetFile(pa.BufferReader(sink.getvalue()), page_checksum_verification=True)
        table = file.read(use_threads=False)
    except UnicodeDecodeError as exc:  # a column name
        raise pa.ArrowInvalid(f"a column name is not valid UTF-8 ({exc})") from None
    _check_utf8(table)
    return table


def _check_utf8(table: pa.Table) -> None:
    """pa.ArrowInvalid for text that is not UTF-8 (values or metadata): a damaged file, refused as unreadable.

    polars, which every contract check goes through, aborts with a panic on such text instead of raising.
    """
    for name, column in zip(table.column_names, table.columns):
        try:
            column.validate(full=True)  # string values included
        except pa.ArrowInvalid as exc:
            raise pa.ArrowInvalid(f"column {name}: {exc}") from None
    for meta in (table.schema.metadata, *(f.metadata for f in table.schema)):
        for item in (meta or {}).items():
            try:
                [part.decode("utf-8") for part in item]
            except UnicodeDecodeError as exc:
                raise pa.ArrowInvalid(f"metadata {item[0][:40]!r} is not valid UTF-8 ({exc})") from None


def parquet_bytes(data: pa.Table, table: Table, run_id: str) -> bytes:
    """Parquet of a contract table; run_id and schema_version ride in the key-value metadata."""
    metadata = {
        b"run_id": run_id.encode(),
        b"table": table.name.encode(),
        b"schema_version": str(table.version).encode(),
    }
    sink = pa.BufferOutputStream()
    # Page checksums: the runs row is the one file no manifest lists, so its pages carry their own CRC32,
    # which `lake validate` checks (read_parquet_bytes). No min/max statistics in the runs row: a one-row
    # file gains nothing from them, and a damaged one would mislead a reader's pruning unnoticed.
    pq.write_table(data.replace_schema_metadata(metadata), sink, compression=PARQUET_COMPRESSION, write_page_checksum=True,
                   write_statistics=table.name != "runs")
    return sink.getvalue().to_pybytes()


# Deeper nesting than this is refused (a document that contains itself is reported as such).
MAX_DEPTH = 100


def to_jsonable(value: Any, path: str = "$", secrets: set[str] | None = None, errors: list[str] | None = None) -> Any:
    """Plain JSON values (dict, list, str, int, float, bool, None) of any structure.

    Decimal as string (exact), datetimes as ISO 8601, numpy/pandas scalars, NaN/inf as null. Objects are
    walked by their fields: dataclasses, msgspec Structs (NautilusTrader configs), pydantic models, attrs
    classes, any Mapping or Sequence, and objects with `to_dict()`/`dict()` returning a mapping; so what
    is redacted afterwards is exactly what is written. A pydantic SecretStr/SecretBytes (anything with
    `get_secret_value()`) becomes '***' and its value is added to `secrets`.

    A value that cannot be written (an unknown object, bytes, text with a lone surrogate, a structure that
    contains itself, nesting deeper than MAX_DEPTH) raises SerializationError '<path>: <problem>'; with
    `errors`, each such problem is appended there instead (the value becomes null, a bad key is left out)
    and the walk goes on, so every problem is found in one pass.
    """
    return _plain(value, path, [], secrets, errors)


def _plain(value: Any, path: str, stack: list[int], secrets: set[str] | None, errors: list[str] | None) -> Any:
    try:
        return _convert(value, path, stack, secrets, errors)
    except SerializationError as exc:
        if errors is None:
            raise
        errors.append(str(exc))
        return None


def _convert(value: Any, path: str, stack: list[int], secrets: set[str] | None, errors: list[str] | None) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return value if type(value) is str else str.__str__(value)
    if isinstance(value, int):
        _check_int(value, path)
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if type(value).__name__ in ("NaTType", "NAType"):  # pandas' missing values (NaT is a datetime subclass)
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, PurePath):
        return _convert(str(value), path, stack, secrets, errors)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise SerializationError(f"{path}: value of type {type(value).__name__} cannot be written as JSON (decode it to str)")
    if callable(getattr(value, "get_secret_value", None)):  # pydantic SecretStr / SecretBytes
        if secrets is not None:
            secret = value.get_secret_value()
            if isinstance(secret, bytes):
                secret = secret.decode("utf-8", "replace")
            if isinstance(secret, str):
                secrets.add(secret)
        return "***"
    if id(value) in stack:
        raise SerializationError(f"{path}: contains itself (a circular reference)")
    if len(stack) >= MAX_DEPTH:
        raise SerializationError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    try:
        fields = _fields(value)
        is_mapping = isinstance(fields, Mapping)
        if is_mapping:
            fields = list(fields.items())
        elif fields is not _UNSET:
            fields = list(fields)
    except Exception as exc:  # a caller's object whose fields cannot be read (a property that raises, ...)
        raise SerializationError(f"{path}: reading {type(value).__name__} failed ({type(exc).__name__}: {exc})") from None
    if fields is _UNSET:
        converted = _foreign_scalar(value)
        if converted is _UNSET:
            raise SerializationError(f"{path}: value of type {type(value).__name__} cannot be written as JSON")
        return _convert(converted, path, stack, secrets, errors)
    stack.append(id(value))
    try:
        if is_mapping:
            out = {}
            for k, v in fields:
                try:
                    key = _key(k, path)
                    if key in out:
                        raise SerializationError(f"{path}: two keys are both written as {key!r}")
                except SerializationError as exc:
                    if errors is None:
                        raise
                    errors.append(str(exc))
                    continue
                out[key] = _plain(v, f"{path}.{key}", stack, secrets, errors)
            return out
        return [_plain(v, f"{path}[{i}]", stack, secrets, errors) for i, v in enumerate(fields)]
    finally:
        stack.pop()


def _check_text(text: str, path: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SerializationError(
            f"{path}: text is not valid Unicode (a lone surrogate {text[exc.start]!r} at index {exc.start})"
        ) from None


def _check_int(value: int, path: str) -> None:
    try:
        str(value)
    except ValueError:  # beyond Python's int-to-text limit (4300 digits)
        raise SerializationError(f"{path}: integer of {value.bit_length()} bits is too large to write as JSON") from None


def _fields(value: Any) -> Any:
    """A structure's contents as a Mapping or a list, or _UNSET for a scalar (or an unknown object)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, str)):
        return value
    cls = type(value)
    if isinstance(value, type):
        return _UNSET
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(cls, "__struct_fields__"):  # msgspec.Struct (every NautilusConfig)
        return {name: getattr(value, name) for name in cls.__struct_fields__}
    if hasattr(cls, "__attrs_attrs__"):  # attrs classes
        return {a.name: getattr(value, a.name) for a in cls.__attrs_attrs__}
    if callable(getattr(value, "model_dump", None)):  # pydantic v2
        return _mapping(value.model_dump)
    module = cls.__module__.split(".")[0]
    if module in ("numpy", "pandas", "nautilus_trader"):
        if module == "numpy" and hasattr(value, "tolist"):
            return _UNSET  # scalars and arrays: _foreign_scalar
        if module != "pandas" or not hasattr(value, "to_dict"):
            return _UNSET
    for method in ("to_dict", "dict"):  # pandas Series, pydantic v1, many config classes
        if callable(getattr(value, method, None)):
            mapping = _mapping(getattr(value, method))
            if mapping is not _UNSET:
                return mapping
    return _UNSET


def _mapping(method: Callable[[], Any]) -> Any:
    try:
        result = method()
    except Exception:  # not a no-argument conversion after all (e.g. a static to_dict(obj))
        return _UNSET
    return result if isinstance(result, Mapping) else _UNSET


_UNSET = object()


def _foreign_scalar(value: Any) -> Any:
    """numpy, pandas and NautilusTrader values as plain Python values."""
    module = type(value).__module__.split(".")[0]
    if module == "nautilus_trader":
        if hasattr(value, "as_decimal") and not hasattr(value, "currency"):
            return value.as_decimal()  # Price, Quantity: a number
        return str(value)  # Money as '100.50 USDT' (Money.from_str reads it back), identifiers, enums
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
        try:
            _check_text(key, path)
        except SerializationError:
            raise SerializationError(f"{path}: key {ascii(key)} is not valid Unicode (a lone surrogate)") from None
        return key if type(key) is str else str.__str__(key)
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
