"""`lake validate` holds the runs row to what it summarizes.

The runs row is the commit, written after the manifest, so the manifest cannot list it. Validate rebuilds every
column the writer derived (from summary.json, the four lake tables and the manifest's created_at) and names each
column that differs; a runs row whose text is not UTF-8 is reported as unreadable, never a crash.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, localcontext
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.checksum import crc32c_b64
from lake.synthetic import synthetic_run
from lake.verify import verify_destination
from lake.write.encode import parquet_bytes, read_parquet_bytes
from lake.write.runs_row import WRITER_VERSION
from schemas import RUN_TABLES, RUNS

RUN = "row-1"
COMMIT = layout.commit_key(RUN)
NOT_REBUILT = {"experiment", "tags_json", "params_json", "data_file", "table_versions", "writer_version"}
REBUILT = [c.name for c in RUNS.physical_columns if c.name not in NOT_REBUILT]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("row")
    base = synthetic_run(RUN, 30, 5)
    lake.write_run(lake.Run(RUN, base.summary, *base.tables().values(), experiment="grid", tags={"desk": "a"}), dest)
    assert verify_destination(dest).ok
    return dest


def other(value, field: pa.Field):
    """A value of the column's type that differs from value."""
    kind = field.type
    if pa.types.is_integer(kind):
        return (value or 0) + 1
    if pa.types.is_decimal(kind):
        return (value or Decimal(0)) + Decimal("0.000000001")
    if pa.types.is_floating(kind):
        return (value or 0.0) * 1.5 + 0.25
    if pa.types.is_timestamp(kind):
        return (value or dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)) + dt.timedelta(microseconds=1)
    return (value or "") + "x"


def problems_with(dest: Path, key: str, data: bytes) -> list[str]:
    path = dest / key
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        (run,) = verify_destination(dest, RUN).runs
        return run.problems
    finally:
        path.write_bytes(original)


def row_with(dest: Path, **values) -> bytes:
    row = read_parquet_bytes((dest / COMMIT).read_bytes())
    for name, value in values.items():
        i = row.schema.get_field_index(name)
        row = row.set_column(i, row.schema.field(i), pa.array([value], row.schema.field(i).type))
    return parquet_bytes(row, RUNS, RUN)


def test_the_rebuilt_columns_are_every_column_but_those_named():
    assert set(REBUILT) | NOT_REBUILT == set(RUNS.column_names) - {"run_id"}
    assert {"order_count", "fill_count", "realized_pnl", "summary_json", "created_at", "equity_sharpe"} <= set(REBUILT)


@pytest.mark.parametrize("name", REBUILT)
def test_a_changed_value_of_any_rebuilt_column_is_named(written, name):
    row = read_parquet_bytes((written / COMMIT).read_bytes())
    value = row.column(name)[0].as_py()
    problems = problems_with(written, COMMIT, row_with(written, **{name: other(value, row.schema.field(name))}))
    assert problems, f"a changed {name} went unnoticed"
    if name == "schema_version":
        assert problems == [f"{COMMIT}: schema_version is {value + 1}, but the file is written under runs contract version {value}"]
    else:
        assert len(problems) == 1 and problems[0].startswith(f"{COMMIT}: {name} is "), problems
        assert f"it is {value!r}"[:60] in problems[0]


def test_the_row_s_created_at_is_the_manifest_s(written):
    key = layout.manifest_key(RUN)
    manifest = json.loads((written / key).read_text())
    created = dt.datetime.fromisoformat(manifest["created_at"])
    manifest["created_at"] = (created + dt.timedelta(seconds=1)).isoformat()
    problems = problems_with(written, key, json.dumps(manifest).encode())
    assert len(problems) == 1 and problems[0].startswith(f"{COMMIT}: created_at is "), problems


def problems_with_vouched(dest: Path, key: str, data: bytes) -> list[str]:
    """validate's problems with the object at key rewritten as `data` and its manifest entry updated to match."""
    manifest_key = layout.manifest_key(RUN)
    manifest = json.loads((dest / manifest_key).read_text())
    manifest["objects"][key].update(size=len(data), crc32c=crc32c_b64(data))
    original = (dest / key).read_bytes()
    (dest / key).unlink()  # a lake file is a hard link to its spec file: change this name only
    (dest / key).write_bytes(data)
    try:
        return problems_with(dest, manifest_key, json.dumps(manifest).encode())
    finally:
        (dest / key).unlink()
        (dest / key).write_bytes(original)


def problems_with_summary(dest: Path, data: bytes) -> list[str]:
    return problems_with_vouched(dest, layout.summary_key(RUN), data)


def test_a_summary_changed_with_its_manifest_entry_is_found_in_the_row(written):
    """The runs row no longer summarizes summary.json: each column that differs is named, long values cut at 80."""
    summary = json.loads((written / layout.summary_key(RUN)).read_text())
    before = json.dumps(summary, sort_keys=True, ensure_ascii=False)
    summary["trader_id"] = "OTHER-001"
    after = json.dumps(summary, sort_keys=True, ensure_ascii=False)
    assert problems_with_summary(written, json.dumps(summary).encode()) == [
        f"{COMMIT}: trader_id is 'BACKTESTER-001'; rebuilt from the run's summary.json, tables and manifest it is 'OTHER-001'",
        f"{COMMIT}: summary_json is {repr(before)[:77]}...; rebuilt from the run's summary.json, tables and manifest it "
        f"is {repr(after)[:77]}...",
    ]


def test_a_summary_the_row_cannot_be_built_from_is_named(written):
    summary = json.loads((written / layout.summary_key(RUN)).read_text())
    key = layout.summary_key(RUN)
    assert problems_with_summary(written, b"[1, 2]") == [f"{key}: expected a JSON object, got list"]
    (problem,) = problems_with_summary(written, json.dumps({**summary, "trader_id": 7}).encode())
    assert problem.startswith(f"{key}: summary.trader_id") and "expected a non-blank string, got int 7" in problem, problem


def test_a_runs_file_of_zero_or_two_rows_is_named_by_the_contract_not_a_crash(written):
    row = read_parquet_bytes((written / COMMIT).read_bytes())
    for rows in (row.slice(0, 0), pa.concat_tables([row, row])):
        problems = problems_with(written, COMMIT, parquet_bytes(rows, RUNS, RUN))
        assert [p.split(" (")[0] for p in problems] == [f"{COMMIT}: runs [exactly_one_row]"], problems


def test_equity_statistics_are_rebuilt_only_in_rows_of_this_writer_version(written):
    row = read_parquet_bytes((written / COMMIT).read_bytes())
    sharpe = row.column("equity_sharpe")[0].as_py()
    changed = other(sharpe, row.schema.field("equity_sharpe"))
    assert problems_with(written, COMMIT, row_with(written, writer_version="0.0.1", equity_sharpe=changed)) == []
    (problem,) = problems_with(written, COMMIT, row_with(written, writer_version=WRITER_VERSION, equity_sharpe=changed))
    assert problem.startswith(f"{COMMIT}: equity_sharpe is {changed!r}")


@pytest.mark.parametrize("text", [b"\x18\ttrader_id", b"BACKTESTER-001"])
def test_a_runs_row_whose_text_is_not_utf8_is_unreadable_not_a_crash(written, text):
    """A column name in the footer's schema; a value in a data page (written uncompressed here, so the byte is
    there to damage)."""
    row = read_parquet_bytes((written / COMMIT).read_bytes())
    sink = pa.BufferOutputStream()
    pq.write_table(row, sink, compression="none")
    data = bytearray(sink.getvalue().to_pybytes())
    data[data.index(text) + len(text) - 3] = 0xC5  # a lead byte followed by an ASCII byte: not UTF-8
    (problem,) = problems_with(written, COMMIT, bytes(data))
    assert problem.startswith(f"{COMMIT}: not readable as Parquet (") and "UTF" in problem, problem
    if text.startswith(b"BACK"):
        assert "column trader_id" in problem, problem


def test_a_runs_row_that_does_not_start_as_parquet_is_unreadable(written):
    data = (written / COMMIT).read_bytes()
    assert problems_with(written, COMMIT, b"Q" + data[1:]) == [
        f"{COMMIT}: not readable as Parquet (the file does not start with PAR1 but b'QAR1')"
    ]


def _as_read(data: bytes, folder: Path):
    """What two plain readers see in the file: pyarrow's types and values (not descriptions), DuckDB's types and
    values; an error as its type."""
    try:
        table = pq.read_table(pa.BufferReader(data))
        by_pyarrow = table.schema.remove_metadata(), table.to_pylist()
    except Exception as exc:  # any failure to read counts: the flip is then visible as an error
        by_pyarrow = type(exc)
    path = folder / "row.parquet"
    path.write_bytes(data)
    try:
        cursor = duckdb.connect().execute("SELECT * FROM read_parquet(?)", [str(path)])
        by_duckdb = [d[:2] for d in cursor.description], cursor.fetchall()
    except Exception as exc:
        by_duckdb = type(exc)
    return by_pyarrow, by_duckdb


def test_single_bit_flips_in_the_runs_row_never_crash_validate_and_none_a_reader_sees_goes_unreported(written, tmp_path):
    """One bit flipped at every 41st byte of the runs row: validate reports it, or pyarrow and DuckDB both read the
    same types and values as before (what is left: an unused or repeated field, or a column description)."""
    data = (written / COMMIT).read_bytes()
    seen = _as_read(data, tmp_path)
    reported = 0
    offsets = range(0, len(data), 41)
    for at in offsets:
        damaged = bytearray(data)
        damaged[at] ^= 1 << (at % 8)
        problems = problems_with(written, COMMIT, bytes(damaged))
        if problems:
            reported += 1
        else:
            assert _as_read(bytes(damaged), tmp_path) == seen, f"a flip at byte {at} of {len(data)} changes what is read"
    assert reported >= 0.6 * len(offsets), f"{reported} of {len(offsets)} reported"  # about 70%


def test_a_footer_only_duckdb_reads_is_checked_by_duckdb(written, tmp_path):
    """A flipped bit in a footer field pyarrow passes over and DuckDB reads: validate names what DuckDB makes of it."""
    data = (written / COMMIT).read_bytes()
    seen = _as_read(data, tmp_path)
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    found = {}
    for at in range(footer, len(data) - 8):
        damaged = bytearray(data)
        damaged[at] ^= 1 << (at % 8)
        by_pyarrow, by_duckdb = _as_read(bytes(damaged), tmp_path)
        if by_pyarrow == seen[0] and by_duckdb != seen[1]:
            kind = "cannot read" if isinstance(by_duckdb, type) else "reads"
            found.setdefault(kind, bytes(damaged))
            if len(found) == 2:
                break
    assert set(found) == {"cannot read", "reads"}
    (problem,) = problems_with(written, COMMIT, found["cannot read"])
    path = tmp_path / "damaged.parquet"
    path.write_bytes(found["cannot read"])
    with pytest.raises(duckdb.Error) as err:
        duckdb.connect().execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    assert problem == f"{COMMIT}: DuckDB cannot read it ({str(err.value).strip().splitlines()[0]})"
    problems = problems_with(written, COMMIT, found["reads"])
    assert problems and all(p.startswith(f"{COMMIT}: DuckDB reads ") for p in problems), problems


def test_a_nan_both_readers_read_is_not_a_difference_between_them(written):
    (problem,) = problems_with(written, COMMIT, row_with(written, win_rate=float("nan")))
    assert problem.startswith(f"{COMMIT}: win_rate is nan; rebuilt"), problem


def test_tables_whose_totals_overflow_the_runs_row_are_named(written):
    """Fills rewritten (and their manifest entry with them) so that the commissions sum beyond NUMERIC(38, 9)."""
    key = layout.lake_key(RUN, "fills")
    fills = read_parquet_bytes((written / key).read_bytes())
    i = fills.schema.get_field_index("commission")
    huge = pa.array([Decimal("9" * 28 + ".5")] * fills.num_rows, fills.schema.field(i).type)
    data = parquet_bytes(fills.set_column(i, fills.schema.field(i), huge), RUN_TABLES["fills"], RUN)
    problems = problems_with_vouched(written, key, data)
    with localcontext() as exact:
        exact.prec = 60
        total = Decimal("9" * 28 + ".5") * fills.num_rows
    assert problems == [
        f"{COMMIT}: the runs row cannot be rebuilt: fills.commission [total_fits_numeric]: the run's total "
        f"({total:.9f} USDT) does not fit the runs table's NUMERIC(38, 9)"
    ]


def test_long_values_are_cut_at_80_characters():
    from lake.write.manifest import short_repr

    assert short_repr("x" * 78) == repr("x" * 78)  # 80 characters with the quotes
    assert short_repr("x" * 79) == repr("x" * 79)[:77] + "..."


def test_each_thread_reads_through_its_own_duckdb_connection():
    from concurrent.futures import ThreadPoolExecutor

    from lake.runs_row_check import _duckdb

    mine = _duckdb()
    assert _duckdb() is mine
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(_duckdb).result() is not mine


def test_what_duckdb_reads_is_compared_value_by_value_with_pyarrow(written):
    from lake.runs_row_check import second_reader_differences

    data = (written / COMMIT).read_bytes()
    row = read_parquet_bytes(data)
    assert second_reader_differences(RUN, data, row) == []
    i = row.schema.get_field_index("trader_id")
    other_row = row.set_column(i, row.schema.field(i), pa.array(["OTHER-001"]))
    assert second_reader_differences(RUN, data, other_row) == [
        f"{COMMIT}: DuckDB reads trader_id as 'BACKTESTER-001', pyarrow as 'OTHER-001'"
    ]
    assert second_reader_differences(RUN, data, pa.concat_tables([row, row])) == [f"{COMMIT}: DuckDB reads 1 rows, pyarrow 2"]


def test_no_place_for_duckdb_s_temporary_copy_is_a_lake_error_naming_it(written, tmp_path, monkeypatch):
    import tempfile

    from lake.errors import LakeError

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(LakeError, match=f"{COMMIT}: cannot write the temporary copy DuckDB reads .*gone"):
        verify_destination(written)


def test_an_equity_curve_whose_drawdown_overflows_the_runs_row_is_named(written):
    key = layout.lake_key(RUN, "equity_curve")
    equity = read_parquet_bytes((written / key).read_bytes())
    kind = equity.schema.field("equity").type
    big = Decimal(6) * 10**28  # fits NUMERIC(38, 9); the fall from it to -big (1.2e29) does not
    changed = equity.set_column(equity.schema.get_field_index("peak_equity"), equity.schema.field("peak_equity"),
                                pa.array([big] * equity.num_rows, kind))
    changed = changed.set_column(changed.schema.get_field_index("equity"), changed.schema.field("equity"),
                                 pa.array([-big] * equity.num_rows, kind))
    data = parquet_bytes(changed, RUN_TABLES["equity_curve"], RUN)
    problems = problems_with_vouched(written, key, data)
    assert [p for p in problems if p.startswith(COMMIT)] == [
        f"{COMMIT}: the runs row cannot be rebuilt: equity_curve.equity [total_fits_numeric]: the run's max drawdown "
        f"({2 * big:.9f} USDT) does not fit the runs table's NUMERIC(38, 9)"
    ], problems
