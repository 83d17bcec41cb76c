"""A query costs the runs it names: the engine opens only their files, and answers exactly as over the whole lake."""

from __future__ import annotations

from pathlib import Path

import pytest

import lake
from lake import layout
from lake.catalog.engine import open_engine, query_lake, run_query
from lake.catalog.prune import runs_named
from lake.catalog.translate import QueryError, load_query, parse_header, shipped_queries
from lake.synthetic import synthetic_run
from tests.sql_lake import build_lake

NAMED = {"run_ids": ["alpha", "gamma", "nope"], "run_a": "alpha", "run_b": "0042"}


@pytest.mark.parametrize(
    "sql, runs",
    [
        ("SELECT 1", set()),
        ("SELECT COUNT(*) FROM execution.fills WHERE run_id = 'x'", {"x"}),
        ("SELECT * FROM execution.fills WHERE 'x' = run_id AND commission > 0", {"x"}),
        ("SELECT * FROM execution.fills AS f WHERE f.run_id IN ('x', 'y')", {"x", "y"}),
        ("SELECT * FROM execution.fills WHERE run_id = 'x' OR run_id = 'y'", {"x", "y"}),
        ("SELECT * FROM execution.fills WHERE run_id = 'x' AND run_id = 'y'", set()),
        ("WITH a AS (SELECT * FROM execution.fills WHERE run_id = 'x') SELECT * FROM a", {"x"}),
        (
            "SELECT * FROM execution.fills f JOIN execution.runs r USING (run_id) WHERE f.run_id = 'x' AND r.run_id = 'x'",
            {"x"},
        ),
        # may read any run: the whole lake is opened
        ("SELECT * FROM execution.fills", None),
        ("SELECT * FROM execution.fills WHERE run_id = 'x' OR commission > 0", None),
        ("SELECT * FROM execution.fills WHERE UPPER(run_id) = 'X'", None),
        ("SELECT * FROM execution.fills WHERE NOT run_id = 'x'", None),
        ("SELECT * FROM execution.fills WHERE run_id LIKE 'x%'", None),
        ("SELECT * FROM (SELECT * FROM execution.fills) WHERE run_id = 'x'", None),
        ("SELECT * FROM execution.fills WHERE run_id IN (SELECT run_id FROM execution.runs WHERE run_id = 'x')", None),
        ("SELECT * FROM execution.fills f JOIN execution.runs r USING (run_id) WHERE f.run_id = 'x'", None),
        ("SELECT * FROM execution.fills f, execution.runs r WHERE run_id = 'x'", None),  # whose run_id?
        ("SELECT * FROM execution.fills WHERE run_id = 'x' UNION ALL SELECT * FROM execution.fills", None),
        ("SELECT * FROM execution.fills WHERE run_id = CAST(1 AS INT64)", None),
    ],
)
def test_the_runs_a_query_names(sql, runs):
    assert runs_named(parse_header(sql)) == (None if runs is None else frozenset(runs))


def _params(query) -> dict:
    """The runs of NAMED for the query's run parameters; a value for any other required one."""
    params = {k: v for k, v in NAMED.items() if k in query.params}
    return {**params, **{k: "x" for k, p in query.params.items() if p.required and k not in params}}


def test_shipped_queries_that_take_runs_open_only_those():
    for name in shipped_queries():
        query = load_query(name)
        named = [v for k, p in NAMED.items() if k in query.params for v in ([p] if isinstance(p, str) else p)]
        if not named:  # a query over a group of runs (an experiment) reads every runs row to find them
            assert runs_named(query, _params(query)) is None, name
            continue
        assert runs_named(query, _params(query)) == frozenset(named), name
        if "run_ids" in query.params:
            assert runs_named(query, {**_params(query), "run_ids": []}) is None, name  # empty: every run


@pytest.fixture(scope="module")
def sql_lake(tmp_path_factory):
    return build_lake(tmp_path_factory.mktemp("prune-lake"))  # alpha, 0042 committed; gamma not


def test_pruned_answers_equal_the_whole_lake_answers_and_hide_uncommitted_runs(sql_lake):
    whole = open_engine(sql_lake)
    try:
        for name in shipped_queries():
            query = load_query(name)
            params = _params(query)
            pruned = query_lake(sql_lake, query, params)
            assert pruned.equals(run_query(whole, query, params)), name
            assert pruned.num_rows > 0 or not runs_named(query, params), name
            assert "gamma" not in pruned.to_pandas().to_string(), name
    finally:
        whole.close()
    for view in ("orders", "fills", "positions", "equity_curve", "runs"):
        sql = f"SELECT DISTINCT run_id FROM execution.{view} WHERE run_id IN ('gamma', 'alpha')"
        assert query_lake(sql_lake, sql).column("run_id").to_pylist() == ["alpha"], view


def test_open_engine_with_runs_opens_only_those_committed(sql_lake):
    con = open_engine(sql_lake, runs=["0042", "gamma", "../alpha", "nope"])
    try:
        assert con.sql("SELECT DISTINCT run_id FROM execution.lake_runs").fetchall() == [("0042",)]
        files = {Path(f).parent.name for (f,) in con.sql("SELECT DISTINCT _FILE_NAME FROM execution.lake_fills").fetchall()}
        assert files == {"run_id=0042"}
    finally:
        con.close()
    con = open_engine(sql_lake, runs=[])
    try:
        assert con.sql("SELECT COUNT(*) FROM execution.fills").fetchall() == [(0,)]
        assert [c for c, *_ in con.sql("DESCRIBE execution.runs").fetchall()][-1] == "run_id"  # bound to the contract
    finally:
        con.close()


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """Runs x, y, z; y's committed fills file and w's runs row (the commit) replaced by bytes that are no Parquet."""
    dest = tmp_path_factory.mktemp("damaged")
    for seed, run_id in enumerate(("x", "y", "z", "w")):
        lake.write_run(synthetic_run(run_id, 50 + seed, seed), dest)
    (dest / layout.lake_key("y", "fills")).write_bytes(b"not parquet at all" * 10)
    (dest / layout.commit_key("w")).write_bytes(b"garbage")
    return dest


def test_a_damaged_file_of_another_run_does_not_disturb_a_question_about_run_x(damaged):
    one = query_lake(damaged, "SELECT COUNT(*) AS n FROM execution.fills WHERE run_id = 'x'")
    assert one.to_pylist() == [{"n": 50}]
    board = query_lake(damaged, "leaderboard", {"run_ids": ["x", "z"]})
    assert sorted(set(board.column("run_id").to_pylist())) == ["x", "z"]
    assert query_lake(damaged, "SELECT 1 AS one").to_pylist() == [{"one": 1}]


def test_the_whole_lake_query_names_the_damaged_file(damaged):
    with pytest.raises(QueryError, match=r"run_id=w/part-00000\.parquet"):
        query_lake(damaged, "leaderboard")
    (damaged / layout.commit_key("w")).unlink()  # w uncommitted now: only y's fills file is damaged
    with pytest.raises(QueryError, match=r"lake/fills/run_id=y/part-00000\.parquet"):
        query_lake(damaged, "leaderboard")
