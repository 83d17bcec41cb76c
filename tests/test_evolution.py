"""Contract evolution: the rules, the record of every released version, and readers of older runs.

- The contract follows the rules against schemas/history/ (this is the check `make test` runs), and
  the check refuses each kind of breaking change: a type change, a removal, a rename, a non-nullable
  addition, columns changed without a version bump, a wrong `since`, a column made required.
- table_at / schema_of / pandera_of give older versions' schemas (what `lake validate` checks an old
  run's files against).
- The contract is evolved IN THE TEST (fills v2 and the next runs version, each adding a nullable column), new runs
  are written beside runs of the released contract (one of them with a runs row of version 1), and
  every shipped query runs over all of them on the DuckDB engine: the old runs' new columns are NULL
  and their answers do not change; a query for some runs still opens only their files.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from decimal import Decimal as D

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake.write.plan
import lake.write.runs_row
import schemas
from lake import layout
from lake.catalog import ddl, engine, smoke
from lake.catalog.engine import open_engine, run_query
from lake.catalog.translate import QueryError, shipped_queries
from lake.run import Run
from lake.stores import LocalStore
from lake.write import write_run
from lake.write.encode import PARQUET_CONTENT_TYPE, parquet_bytes
from schemas import evolution
from schemas.contract import Column, Kind
from tests.sql_lake import alpha, run_0042

# --- the rules, against the checked-in record ---------------------------------------------------


def test_the_contract_follows_the_evolution_rules_and_every_version_is_recorded():
    assert evolution.check() == [], f"fix the contract, or record a legal change with `{evolution.REGENERATE}`"


def test_the_record_holds_every_released_version():
    runs = evolution.load_history("runs")
    assert [v.version for v in runs] == [1, 2, 3]
    assert set(runs[1].names) - set(runs[0].names) == {"data_file", "table_versions"}
    assert set(runs[2].names) - set(runs[1].names) == {
        "experiment", "tags_json", "params_json", "position_returns_sharpe", "equity_sharpe", "max_drawdown", "max_drawdown_pct"}
    for name, table in schemas.TABLES.items():
        assert evolution.load_history(name)[-1] == evolution.current_record(table)


def _with(table, *, version=None, columns=None):
    return dataclasses.replace(table, version=version or table.version, columns=tuple(columns if columns is not None else table.columns))


def _replace_column(table, column, **changes):
    return [dataclasses.replace(c, **changes) if c.name == column else c for c in table.columns]


FILLS = schemas.FILLS
HISTORY = evolution.load_history("fills")
NEW = Column("fee_tier", Kind.STRING, "Venue fee tier of the fill.", nullable=True, since=2)


REFUSED = [
    ("a type change", _with(FILLS, version=2, columns=_replace_column(FILLS, "last_px", kind=Kind.FLOAT64)),
     "type of last_px changed from NUMERIC to FLOAT64"),
    ("a removal", _with(FILLS, version=2, columns=[c for c in FILLS.columns if c.name != "liquidity_side"]),
     "column liquidity_side is removed or renamed"),
    ("a rename", _with(FILLS, version=2, columns=_replace_column(FILLS, "liquidity_side", name="liquidity", since=2, nullable=True)),
     "column liquidity_side is removed or renamed"),
    ("a non-nullable addition", _with(FILLS, version=2, columns=[*FILLS.columns, dataclasses.replace(NEW, nullable=False)]),
     "added column fee_tier is not nullable"),
    ("columns added without a version bump", _with(FILLS, columns=[*FILLS.columns, dataclasses.replace(NEW, since=1)]),
     "but the version was not bumped"),
    ("since left at 1", _with(FILLS, version=2, columns=[*FILLS.columns, dataclasses.replace(NEW, since=1)]),
     "column fee_tier says since=1, but version 2 added it"),
    ("since on an old column", _with(FILLS, version=2, columns=[*_replace_column(FILLS, "trade_id", since=2), NEW]),
     "column trade_id says since=2, but version 1 added it"),
    ("a column made required", _with(FILLS, version=2, columns=[*_replace_column(FILLS, "position_id", nullable=False), NEW]),
     "position_id went from nullable to required"),
    ("an addition in the middle", _with(FILLS, version=2, columns=[NEW, *FILLS.columns]),
     "must come after the existing ones"),
    ("a version skipped", _with(FILLS, version=3, columns=[*FILLS.columns, dataclasses.replace(NEW, since=3)]),
     "versions go up by one"),
    ("a bump without a change", _with(FILLS, version=2), "version bumped to 2 without a change"),
]


@pytest.mark.parametrize("what, table, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_the_check_refuses(what, table, message):
    problems = evolution.table_problems(table, HISTORY, require_recorded=False)
    assert any(message in p for p in problems), problems


def test_the_check_allows_a_nullable_addition_and_a_deprecation():
    added = _with(FILLS, version=2, columns=[*FILLS.columns, NEW])
    assert evolution.table_problems(added, HISTORY, require_recorded=False) == []
    assert evolution.table_problems(added, HISTORY) == [
        f"fills: version 2 is not recorded in {evolution.history_path('fills')} (run `{evolution.REGENERATE}`)"
    ]
    deprecated = _with(FILLS, version=2, columns=_replace_column(FILLS, "venue_order_id", nullable=True))
    assert evolution.table_problems(deprecated, HISTORY, require_recorded=False) == []


def test_record_appends_a_legal_version_and_refuses_a_breaking_one(tmp_path):
    shutil.copytree(evolution.HISTORY_DIR, tmp_path, dirs_exist_ok=True)
    before = {p.name: p.read_text() for p in tmp_path.glob("*.json")}
    broken = {**schemas.TABLES, "fills": _with(FILLS, version=2, columns=_replace_column(FILLS, "last_px", kind=Kind.FLOAT64))}
    with pytest.raises(evolution.EvolutionError, match="type of last_px changed"):
        evolution.record(broken, tmp_path)
    assert {p.name: p.read_text() for p in tmp_path.glob("*.json")} == before  # nothing written

    legal = {**schemas.TABLES, "fills": _with(FILLS, version=2, columns=[*FILLS.columns, NEW])}
    assert evolution.record(legal, tmp_path) == ["fills"]
    assert [v.version for v in evolution.load_history("fills", tmp_path)] == [1, 2]
    assert evolution.check(legal, tmp_path) == []
    assert evolution.record(legal, tmp_path) == []  # idempotent
    # the released contract against a record that already has fills v2: "older than the recorded"
    assert any("older than the recorded v2" in p for p in evolution.check(schemas.TABLES, tmp_path))


def test_a_missing_record_starts_from_since(tmp_path):
    assert evolution.record(schemas.TABLES, tmp_path) == sorted(schemas.TABLES)
    for name in schemas.TABLES:
        assert evolution.load_history(name, tmp_path) == evolution.load_history(name)


# --- older versions' schemas, for readers and `lake validate` -----------------------------------


def test_schema_of_older_versions():
    v1, v2 = evolution.schema_of("runs", 1), evolution.schema_of("runs", 2)
    added = {2: {"data_file", "table_versions"}, 3: {c.name for c in schemas.RUNS.columns if c.since == 3}}
    assert "data_file" not in v1.names and "table_versions" not in v1.names
    assert v1.names == [n for n in schemas.RUNS.arrow_schema.names if n not in added[2] | added[3]]
    assert v2.names == [n for n in schemas.RUNS.arrow_schema.names if n not in added[3]]
    assert evolution.schema_of("runs", 3).equals(schemas.RUNS.arrow_schema)
    assert evolution.schema_of("fills", 1).equals(schemas.FILLS.arrow_schema)
    with pytest.raises(evolution.EvolutionError, match="runs has no contract version 7"):
        evolution.schema_of("runs", 7)
    assert evolution.table_of_file("runs", {b"schema_version": b"1"}).version == 1
    assert evolution.table_of_file("runs", {b"schema_version": b"2"}).version == 2
    assert evolution.table_of_file("runs", {b"schema_version": b"3"}) is schemas.RUNS
    assert evolution.table_of_file("runs", {}) is schemas.RUNS


def test_pandera_of_an_older_version_validates_that_versions_files(tmp_path):
    store = LocalStore(tmp_path)
    write_run(run_0042(), tmp_path)
    smoke.write_legacy_commit(store, "0042")
    row = pq.read_table(tmp_path / layout.commit_key("0042"))
    assert evolution.file_version(row.schema.metadata) == 1
    import polars as pl

    frame = pl.from_arrow(row)
    evolution.pandera_of("runs", 1).validate(frame)  # passes under the version it was written with
    with pytest.raises(Exception):
        evolution.pandera_of("runs", 2).validate(frame)  # the current contract wants the v2 columns


# --- evolving the contract in the test ----------------------------------------------------------

FEE_TIER = Column("fee_tier", Kind.STRING, "Venue fee tier of the fill (added in the test).", nullable=True, since=2)
RUNS_NEXT = schemas.RUNS.version + 1  # the runs version this test releases
HOST = Column("host", Kind.STRING, "Machine the backtest ran on (added in the test).", nullable=True, since=RUNS_NEXT)


def evolve(monkeypatch, tmp_path):
    """Release fills v2 (+ fee_tier) and the next runs version (+ host) as a contract change would, for this test only."""
    fills2 = _with(schemas.FILLS, version=2, columns=[*schemas.FILLS.columns, FEE_TIER])
    runs3 = _with(schemas.RUNS, version=RUNS_NEXT, columns=[*schemas.RUNS.columns, HOST])
    monkeypatch.setitem(schemas.TABLES, "fills", fills2)
    monkeypatch.setitem(schemas.RUN_TABLES, "fills", fills2)
    monkeypatch.setitem(schemas.TABLES, "runs", runs3)
    for module in (lake.write.plan, lake.write.runs_row):
        monkeypatch.setattr(module, "RUNS", runs3)
    # The release regenerates sql/ (lake sql generate); the engine reads the views from there.
    sql_dir = tmp_path / "sql"
    ddl.write_generated_files(sql_dir)
    monkeypatch.setattr(engine, "SQL_DIR", sql_dir)
    # ... and records the versions (make contract-history): the evolution is one the rules allow.
    history = tmp_path / "history"
    shutil.copytree(evolution.HISTORY_DIR, history)
    assert evolution.record(schemas.TABLES, history) == ["fills", "runs"]
    assert evolution.check(schemas.TABLES, history) == []
    monkeypatch.setattr(evolution, "HISTORY_DIR", history)
    return fills2, runs3


def new_run() -> Run:
    base = alpha()
    fills = base.fills.copy()
    fills["fee_tier"] = ["VIP1", None, "VIP1", "VIP2", None, "VIP1", "VIP2"]
    return dataclasses.replace(base, run_id="new-v2", fills=fills)


CASES = {
    "leaderboard": {},
    "run_vs_run": {"run_a": "alpha", "run_b": "new-v2"},
    "slippage_commission": {},
    "equity_daily": {},
    "holding_time": {},
    "sweep": {"experiment": "evo"},
    "param_effect": {"experiment": "evo", "param": "S-1.fast"},
}
OLD_CASES = {  # about the two old runs only (0042's runs row, of version 1, belongs to no experiment)
    "run_vs_run": {"run_a": "alpha", "run_b": "0042"},
    "sweep": CASES["sweep"],
    "param_effect": CASES["param_effect"],
}


def old_alpha() -> Run:
    return dataclasses.replace(alpha(), experiment="evo", params={"S-1.fast": 5})


def answers(con) -> dict[str, list[dict]]:
    """Every shipped query about the two old runs only."""
    out = {}
    for name in shipped_queries():
        params = OLD_CASES.get(name, {"run_ids": ["alpha", "0042"]})
        out[name] = run_query(con, name, params).to_pylist()
        assert out[name], name
    return out


def test_old_runs_read_under_an_evolved_contract_through_every_shipped_query(tmp_path, monkeypatch):
    assert set(CASES) == set(shipped_queries())
    dest = tmp_path / "lake"
    write_run(old_alpha(), dest)
    write_run(run_0042(), dest)
    smoke.write_legacy_commit(LocalStore(dest), "0042")  # a runs row of contract version 1
    con = open_engine(dest)
    before = answers(con)
    con.close()

    evolve(monkeypatch, tmp_path)
    write_run(new_run(), dest)
    con = open_engine(dest)
    try:
        # The new columns: NULL in the old runs' rows, values in the new run's.
        fee = con.execute("SELECT run_id, fee_tier FROM execution.fills ORDER BY run_id, trade_id").fetchall()
        assert {r for r, f in fee if f is not None} == {"new-v2"}
        assert [f for r, f in fee if r == "new-v2"] == ["VIP1", None, "VIP1", "VIP2", None, "VIP1", "VIP2"]
        assert all(f is None for r, f in fee if r != "new-v2") and {r for r, _ in fee} == {"alpha", "0042", "new-v2"}
        runs = con.execute("SELECT run_id, schema_version, host, table_versions FROM execution.runs ORDER BY run_id").fetchall()
        assert runs == [
            ("0042", 1, None, None),
            ("alpha", RUNS_NEXT - 1, None, json.dumps({"equity_curve": 1, "fills": 1, "orders": 1, "positions": 1}, sort_keys=True)),
            ("new-v2", RUNS_NEXT, None, json.dumps({"equity_curve": 1, "fills": 2, "orders": 1, "positions": 1}, sort_keys=True)),
        ]
        # the columns runs v3 added: NULL in the version-1 row, read in the others
        added = con.execute("SELECT run_id, experiment, params_json FROM execution.runs ORDER BY run_id").fetchall()
        assert added == [("0042", None, None), ("alpha", "evo", '{"S-1.fast": 5}'), ("new-v2", None, None)]
        # lake_fills is bound to the current contract: its columns, then run_id and _FILE_NAME.
        columns = [r[0] for r in con.execute("DESCRIBE execution.lake_fills").fetchall()]
        assert columns == [*schemas.TABLES["fills"].column_names, "run_id", "_FILE_NAME"]

        # Every shipped query runs over old and new runs alike; the old runs' answers did not change.
        after = answers(con)
        assert after == before
        for name in shipped_queries():
            assert run_query(con, name, CASES[name]).num_rows > 0, name
        board = {r["run_id"] for r in run_query(con, "leaderboard").to_pylist()}
        assert board == {"alpha", "0042", "new-v2"}
        vs = run_query(con, "run_vs_run", {"run_a": "alpha", "run_b": "new-v2"}).to_pylist()
        assert all(r["net_pnl_diff"] == D(0) for r in vs)  # the same trades
    finally:
        con.close()


def _corrupt(dest, run_id: str, table: str) -> None:
    path = dest / layout.lake_key(run_id, table)
    path.write_bytes(b"PAR1 this is not a parquet file PAR1")


def test_a_query_for_some_runs_opens_only_their_files_across_versions(tmp_path, monkeypatch):
    dest = tmp_path / "lake"
    write_run(alpha(), dest)
    write_run(run_0042(), dest)
    smoke.write_legacy_commit(LocalStore(dest), "0042")
    evolve(monkeypatch, tmp_path)
    write_run(new_run(), dest)
    _corrupt(dest, "0042", "fills")  # a committed data file of the version-1 group

    con = open_engine(dest)  # opening reads no run's data file
    try:
        for run_id in ("alpha", "new-v2"):
            n = con.execute("SELECT COUNT(*) FROM execution.fills WHERE run_id = ?", [run_id]).fetchall()[0][0]
            assert n == 7
            assert {r["run_id"] for r in run_query(con, "leaderboard", {"run_ids": [run_id]}).to_pylist()} == {run_id}
            assert run_query(con, "slippage_commission", {"run_ids": [run_id]}).num_rows > 0
        with pytest.raises(Exception, match="part-00000.parquet"):
            con.execute("SELECT COUNT(*) FROM execution.fills WHERE run_id = '0042'").fetchall()
    finally:
        con.close()

    write_run(dataclasses.replace(new_run(), run_id="new-v2b"), dest)
    _corrupt(dest, "new-v2", "fills")  # and one of the current version's group
    con = open_engine(dest)
    try:
        assert con.execute("SELECT COUNT(*) FROM execution.fills WHERE run_id = 'alpha'").fetchall()[0][0] == 7
        assert con.execute("SELECT COUNT(*) FROM execution.fills WHERE run_id = 'new-v2b'").fetchall()[0][0] == 7
        assert run_query(con, "run_vs_run", {"run_a": "alpha", "run_b": "new-v2b"}).num_rows > 0
        with pytest.raises(Exception):
            con.execute("SELECT COUNT(*) FROM execution.fills WHERE run_id = 'new-v2'").fetchall()
    finally:
        con.close()


def test_a_run_written_by_a_newer_contract_is_read_under_this_one(tmp_path):
    """Forward compatibility: a reader one release behind reads a newer run's files (without the new columns)."""
    dest = tmp_path / "lake"
    write_run(alpha(), dest)
    with pytest.MonkeyPatch.context() as mp:
        evolve(mp, tmp_path)
        write_run(new_run(), dest)
    con = open_engine(dest)  # the released contract again: fills v1, runs v2
    try:
        assert "fee_tier" not in [r[0] for r in con.execute("DESCRIBE execution.fills").fetchall()]
        assert con.execute("SELECT COUNT(*) FROM execution.fills WHERE run_id = 'new-v2'").fetchall()[0][0] == 7
        assert {r["run_id"] for r in run_query(con, "leaderboard").to_pylist()} == {"alpha", "new-v2"}
    finally:
        con.close()


def test_a_version_never_released_is_an_error_naming_the_run(tmp_path):
    dest = tmp_path / "lake"
    write_run(alpha(), dest)
    key = layout.commit_key("alpha")
    row = pq.read_table(dest / key)
    i = row.schema.get_field_index("table_versions")
    row = row.set_column(i, row.schema.field(i), pa.array([json.dumps({"fills": 0})]))
    LocalStore(dest).put([key], parquet_bytes(row, schemas.RUNS, "alpha"), PARQUET_CONTENT_TYPE, overwrite=True)
    with pytest.raises(QueryError, match=r"run alpha: its fills file says contract version 0, which was never released"):
        open_engine(dest)


def test_lake_validate_checks_an_old_run_against_the_version_it_was_written_with(tmp_path):
    from lake.verify import verify_destination

    write_run(run_0042(), tmp_path)
    smoke.write_legacy_commit(LocalStore(tmp_path), "0042")  # a runs row of contract version 1
    assert verify_destination(tmp_path, "0042").ok
