"""`lake validate`'s check of a runs row against what it summarizes.

The runs row is the run's commit: written last, so the manifest cannot list it. Every column the writer
derived is rebuilt here the way the writer built it, from the objects the manifest does vouch for
(summary.json, the four lake tables, the manifest's created_at), and each column that differs is named.
Not rebuilt: what only the caller gave (experiment, tags_json, params_json) and the row's own bookkeeping
(data_file and table_versions, which the file checks hold to the files; writer_version). The equity
statistics are a formula of the writer, so they are rebuilt only in rows written by this writer version.

The row is also read by a second reader, DuckDB (the local engine's), which parses the Parquet footer on
its own: fields pyarrow passes over can make it fail or read other values.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import tempfile
import threading
from typing import Any, Mapping

import pyarrow as pa

from lake import layout
from lake.errors import Failure, LakeError
from lake.write.equity_stats import equity_stats
from lake.write.manifest import short_repr
from lake.write.runs_row import WRITER_VERSION, build_runs_row, parse_summary, row_failures, run_money

_NOT_REBUILT = ("experiment", "tags_json", "params_json", "data_file", "table_versions", "writer_version", "schema_version")
_WRITER_FORMULAS = ("equity_sharpe", "max_drawdown", "max_drawdown_pct")


def runs_row_differences(
    run_id: str, written: pa.Table, row: pa.Table, summary: object, tables: Mapping[str, pa.Table],
    created_at: dt.datetime,
) -> list[str]:
    """Problems of the runs row (`written` as its file holds it, checked against its contract version;
    `row` with the current columns) against the run's summary.json document (None: not JSON, reported
    already), its lake tables (current columns) and the manifest's created_at."""
    key = layout.commit_key(run_id)
    (have,) = row.to_pylist()
    version = int((written.schema.metadata or {})[b"schema_version"])
    problems = [] if have["schema_version"] == version else [
        f"{key}: schema_version is {have['schema_version']!r}, but the file is written under runs contract version {version}"
    ]
    if summary is None:
        return problems
    if not isinstance(summary, dict):
        return problems + [f"{layout.summary_key(run_id)}: expected a JSON object, got {type(summary).__name__}"]
    failures: list[Failure] = []
    parsed = parse_summary(summary, failures)
    if parsed is None:
        return problems + [f"{layout.summary_key(run_id)}: {f}" for f in failures]
    money = run_money(tables)
    equity = equity_stats(tables["equity_curve"], money.currency)
    too_large = row_failures(money, equity)
    if too_large:
        return problems + [f"{key}: the runs row cannot be rebuilt: {f}" for f in too_large]
    try:  # the columns not rebuilt are left null
        rebuilt = build_runs_row(parsed, tables, created_at, money=money, **equity.columns())
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
        return problems + [f"{key}: the runs row cannot be rebuilt from the run's objects ({type(exc).__name__}: {exc})"]
    want = rebuilt.to_pylist()[0]
    skip = set(_NOT_REBUILT)  # schema_version: checked above
    if have["writer_version"] != WRITER_VERSION:
        skip.update(_WRITER_FORMULAS)
    return problems + [
        f"{key}: {name} is {short_repr(have[name])}; rebuilt from the run's summary.json, tables and manifest it is "
        f"{short_repr(want[name])}"
        for name in written.schema.names
        if name not in skip and name in want and not _same(have[name], want[name])
    ]


def second_reader_differences(run_id: str, data: bytes, written: pa.Table) -> list[str]:
    """Problems of the runs row's bytes as DuckDB reads them, against `written` (the row as pyarrow read it)."""
    import duckdb

    key = layout.commit_key(run_id)
    try:
        with tempfile.NamedTemporaryFile() as file:  # DuckDB reads files, not bytes
            file.write(data)
            file.flush()
            cursor = _duckdb().execute("SELECT * FROM read_parquet(?)", [file.name])
            names, rows = [d[0] for d in cursor.description], cursor.fetchall()
            types = [str(d[1]) for d in cursor.description]
    except OSError as exc:
        raise LakeError(f"{key}: cannot write the temporary copy DuckDB reads ({exc})") from None
    except duckdb.Error as exc:
        return [f"{key}: DuckDB cannot read it ({str(exc).strip().splitlines()[0]})"]
    wanted = _duckdb_types(tuple((f.name, f.type) for f in written.schema))
    expected = written.to_pylist()
    if len(rows) != len(expected):  # the column names both take from the Parquet schema
        return [f"{key}: DuckDB reads {len(rows)} rows, pyarrow {len(expected)}"]
    return [
        f"{key}: DuckDB reads {name} as {got}, pyarrow as {want}"
        for name, got, want in zip(names, types, wanted)
        if got != want
    ] + [
        f"{key}: DuckDB reads {name} as {short_repr(got)}, pyarrow as {short_repr(want)}"
        for row, want_row in zip(rows, expected)
        for name, got, want in zip(names, row, want_row.values())
        if not (got == want or (isinstance(got, float) and isinstance(want, float) and math.isnan(got) and math.isnan(want)))
    ]


@functools.lru_cache(maxsize=None)
def _duckdb_types(fields: tuple[tuple[str, pa.DataType], ...]) -> list[str]:
    """DuckDB's types of an Arrow schema's columns: what it must read from a file of that schema."""
    schema = pa.schema([pa.field(name, kind) for name, kind in fields])
    return [str(t) for t in _duckdb().from_arrow(schema.empty_table()).types]


_local = threading.local()


def _duckdb():
    """One DuckDB connection per thread (validate checks runs in threads)."""
    if getattr(_local, "con", None) is None:
        import duckdb

        _local.con = duckdb.connect(config={"threads": 1})
    return _local.con


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)  # a rebuilt float is never NaN (the writer writes null)
