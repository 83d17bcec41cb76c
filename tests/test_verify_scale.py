"""lake validate at scale: one run without listing the lake, whole lakes in parallel, the same reports.

- `contract_checks_pass` (one polars query per table) stands in for the Pandera schema on clean tables:
  it must cover every check the Pandera schema has and agree with it, table by table, on every bad input
  the suite knows and on a mutation of every column of every table; when it says "something is wrong",
  Pandera's own report is the one shown.
- Reports do not depend on how runs are checked: in threads or in worker processes, the text is the same.
- `--run` lists only the run's own folders (the backend validates the run it just wrote, whatever the
  lake holds), and `--run-id` still works.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
import lake.verify as verify
from lake import layout
from lake.cli import main
from lake.stores.local import LocalStore
from lake.write import checks
from lake.write.checks import conform_run, pandera_failures
from lake.write.encode import read_parquet_bytes
from schemas import TABLES
from schemas.contract import Kind
from schemas.evolution import table_at, versions
from schemas.pandera_schema import pandera_schema
from tests.support.bad_inputs import TABLE_CASES, table_case_run


def _pandera_clean(table, data: pa.Table) -> bool:
    return pandera_failures(table, data) == []


# -- the fast pass covers exactly the Pandera schema's checks --------------------------------------------------


def _pandera_checks(table) -> set[str]:
    schema = pandera_schema(table)
    names = {f"*:{c.name}" for c in schema.checks}
    for name, column in schema.columns.items():
        names |= {f"{name}:{c.name}" for c in column.checks}
        if not column.nullable:
            names.add(f"{name}:not_nullable")
    return names


@pytest.mark.parametrize("name, version", [(n, v) for n in TABLES for v in versions(n)], ids=lambda x: str(x))
def test_the_fast_pass_covers_every_check_of_the_pandera_schema(name, version):
    table = table_at(name, version)
    fast = {str(e.meta.output_name()) for e in checks.contract_check_exprs(table)}
    assert fast == _pandera_checks(table)
    assert list(table.unique_together) == list(pandera_schema(table).unique or [])  # checked apart, as Pandera does


# -- ... and agrees with it ------------------------------------------------------------------------------------


@pytest.mark.parametrize("table, mutate, expected", [c.values for c in TABLE_CASES], ids=[c.id for c in TABLE_CASES])
def test_the_fast_pass_agrees_with_pandera_on_every_bad_input(table, mutate, expected):
    tables, _ = conform_run(table_case_run(table, mutate))
    for name, data in tables.items():  # the tables that reach the Pandera checks
        assert checks.contract_checks_pass(TABLES[name], data) == _pandera_clean(TABLES[name], data), name


def _mutations(field: pa.Field, column: pa.ChunkedArray) -> list[tuple[str, list]]:
    values = column.to_pylist()
    out = [("null in row 0", [None, *values[1:]])]
    if len(values) > 1:
        out.append(("row 1 = row 0", [values[0], values[0], *values[2:]]))
    kind = {pa.string(): Kind.STRING, pa.int64(): Kind.INT64, pa.float64(): Kind.FLOAT64}.get(field.type)
    if pa.types.is_decimal(field.type):
        out += [(f"{v} in row 0", [Decimal(v), *values[1:]]) for v in ("0", "-1")]
    elif kind is Kind.STRING:
        out += [(f"{v!r} in row 0", [v, *values[1:]]) for v in ("", " ", "NOT-IN-ANY-DOMAIN")]
    elif kind is Kind.FLOAT64:
        out += [(f"{v} in row 0", [v, *values[1:]]) for v in (float("nan"), -1.0, 0.0)]
    elif kind is Kind.INT64:
        out += [(f"{v} in row 0", [v, *values[1:]]) for v in (0, -1)]
    elif pa.types.is_timestamp(field.type):
        out.append(("epoch in row 0", [dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), *values[1:]]))
    return [(what, v) for what, v in out if v != values]


def test_the_fast_pass_agrees_with_pandera_on_a_mutation_of_every_column(tmp_path, small_run):
    lake.write_run(small_run("m", n_fills=12), tmp_path)
    disagreements, failing = [], 0
    for name, table in TABLES.items():
        data = pq.read_table(tmp_path / layout.lake_key("m", name, _data_file(tmp_path, "m")))
        assert checks.contract_checks_pass(table, data) and _pandera_clean(table, data), name
        for i, field in enumerate(data.schema):
            for what, values in _mutations(field, data.column(i)):
                mutated = data.set_column(i, field, pa.array(values, type=field.type))
                pandera = _pandera_clean(table, mutated)
                failing += not pandera
                if checks.contract_checks_pass(table, mutated) != pandera:
                    disagreements.append(f"{name}.{field.name}: {what} (Pandera clean: {pandera})")
    assert disagreements == []
    assert failing > 100  # the mutations do break things: the agreement is not "both always pass"


def _data_file(dest, run_id: str) -> str:
    return pq.read_table(dest / layout.commit_key(run_id)).to_pylist()[0].get("data_file") or layout.PART_FILE


def test_a_problem_found_by_the_fast_pass_is_reported_in_pandera_s_words(tmp_path, small_run):
    lake.write_run(small_run("p"), tmp_path)
    key = layout.lake_key("p", "fills", _data_file(tmp_path, "p"))
    data = pq.read_table(tmp_path / key)
    ids = data.column("trade_id").to_pylist()
    bad = data.set_column(0, data.schema.field(0), pa.array([ids[0], ids[0], *ids[2:]]))
    (tmp_path / key).unlink()
    pq.write_table(bad, tmp_path / key)
    found = verify.verify_destination(tmp_path).runs[0].problems
    expected = [f"{key}: {f}" for f in pandera_failures(TABLES["fills"], bad)]
    assert expected and all(p in found for p in expected)


def test_an_unreadable_file_is_reported_in_the_writer_s_reader_s_words(tmp_path, small_run):
    lake.write_run(small_run("u"), tmp_path)
    key = layout.lake_key("u", "orders", _data_file(tmp_path, "u"))
    (tmp_path / key).unlink()
    (tmp_path / key).write_bytes(b"PAR1 this is not Parquet PAR1")
    with pytest.raises(pa.ArrowInvalid) as exc:
        read_parquet_bytes(b"PAR1 this is not Parquet PAR1")
    assert f"{key}: not readable as Parquet ({exc.value})" in verify.verify_destination(tmp_path).runs[0].problems


# -- the same report in threads and in worker processes --------------------------------------------------------


def _damaged_lake(dest, small_run, n: int = 10) -> None:
    for i in range(n):
        lake.write_run(small_run(f"r{i:02d}", seed=i, n_fills=8), dest)
    (dest / layout.lake_key("r03", "positions", _data_file(dest, "r03"))).write_bytes(b"garbage")
    (dest / layout.manifest_key("r05")).write_text('"x"')
    (dest / layout.commit_key("r07")).unlink()  # uncommitted
    fills = dest / layout.lake_key("r08", "fills", _data_file(dest, "r08"))
    fills.with_name("part-00001.parquet").write_bytes(fills.read_bytes())  # a stray copy


def test_worker_processes_give_the_same_report_as_threads(tmp_path, small_run, monkeypatch):
    _damaged_lake(tmp_path, small_run)
    in_threads = verify.verify_destination(tmp_path, workers=1)
    monkeypatch.setattr(verify, "PROCESS_MIN_RUNS", 2)
    monkeypatch.setattr(verify, "_CHUNK", 2)
    used = []
    real = verify._in_processes
    monkeypatch.setattr(verify, "_in_processes", lambda *a: (used.append(a[2]), (yield from real(*a)))[1])
    seen = []
    in_processes = verify.verify_destination(tmp_path, workers=2, progress=seen.append)
    assert used == [2]  # really in two worker processes
    assert str(in_processes) == str(in_threads)
    assert [r.run_id for r in in_processes.runs] == seen == [f"r{i:02d}" for i in range(10) if i != 7]
    assert [r.run_id for r in in_processes.runs if not r.ok] == ["r03", "r05", "r08"]
    assert in_processes.uncommitted.keys() == {"r07"}


# -- one run: its own folders only -----------------------------------------------------------------------------


def test_one_run_lists_only_its_own_folders(tmp_path, small_run, monkeypatch):
    for name in ("a", "b", "c"):
        lake.write_run(small_run(name, n_fills=8), tmp_path)
    listed = []
    real_list = LocalStore.list
    monkeypatch.setattr(LocalStore, "list", lambda self, prefix: (listed.append(prefix), real_list(self, prefix))[1])
    report = verify.verify_destination(tmp_path, "b")
    assert report.ok and [r.run_id for r in report.runs] == ["b"]
    assert sorted(listed) == sorted(
        ["backtest_results/b/", "config/b/", "logs/b/", *(f"lake/{t}/run_id=b/" for t in TABLES)]
    )
    # The same checks as a whole-lake validation, for that run.
    whole = verify.verify_destination(tmp_path)
    assert next(r for r in whole.runs if r.run_id == "b") == report.runs[0]


def test_one_run_reports_what_a_whole_lake_validation_reports_for_it(tmp_path, small_run):
    _damaged_lake(tmp_path, small_run, n=9)
    whole = verify.verify_destination(tmp_path)
    for run in ("r03", "r05", "r08", "r01"):
        assert verify.verify_destination(tmp_path, run).runs == [r for r in whole.runs if r.run_id == run]
    partial = verify.verify_destination(tmp_path, "r07")
    assert partial.runs == [] and partial.uncommitted == {"r07": whole.uncommitted["r07"]}
    assert not partial.strays  # strays are a whole-lake matter


def test_validate_run_and_its_old_spelling(tmp_path, small_run, capsys):
    lake.write_run(small_run("only", n_fills=8), tmp_path)
    for flag in ("--run", "--run-id"):
        assert main(["validate", str(tmp_path), flag, "only"]) == 0
        assert "1 committed run(s), 1 valid" in capsys.readouterr().out
    assert main(["validate", str(tmp_path), "--run", "absent"]) == 1
    assert "no run 'absent' in this destination" in capsys.readouterr().out
    assert main(["validate", str(tmp_path), "--workers", "0"]) == 2


def test_the_progress_bar_is_shown_on_a_terminal_or_when_asked(tmp_path, small_run, capsys):
    for name in ("a", "b"):
        lake.write_run(small_run(name, n_fills=8), tmp_path)
    assert main(["validate", str(tmp_path)]) == 0  # stderr is not a terminal here
    out, err = capsys.readouterr()
    assert "checking runs" not in err and "2 committed run(s)" in out
    assert main(["validate", str(tmp_path), "--progress"]) == 0
    out, err = capsys.readouterr()
    assert "checking runs: 100%" in err and "2/2" in err and "checking runs" not in out
