"""`lake bq-smoke` without BigQuery: its conversation with the real client, and its comparison logic.

`lake bq-smoke` can only prove anything against real BigQuery (docs/sql.md). Here:
- the smoke lake itself: every edge value it promises is in it (a numeric-looking run_id, nulls in
  every nullable column, nanoseconds, products that need rounding, an uncommitted run);
- its BigQuery conversation, against the local recorder of the real client's REST calls that the
  register contract test uses (tests/support/fake_bigquery.py): the dataset, the ten DDL jobs over
  the scratch prefix, one query job per shipped query carrying the shipped text with only the
  dataset changed and typed parameters, and the clean-up (dataset and every scratch object). The
  recorder answers the query jobs by running the same query on DuckDB over the same files, so the
  rows travel through the real client's decoding;
- its comparison: a difference planted in BigQuery's answer fails that query, and only that one;
  compare_answers on two DuckDB answers with planted differences.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal as D

import pyarrow as pa
import pytest

from lake import layout
from lake.catalog import bigquery as bq
from lake.catalog import smoke
from lake.catalog.engine import open_engine, run_query
from lake.catalog.translate import parse_header, shipped_queries
from lake.cli import main
from lake.stores import open_store
from schemas import TABLES
from tests.support.fake_bigquery import PREFIX, PROJECT, client_for, fake_bigquery  # noqa: F401 (fixture)

DATASET = "execution_smoke"
_REF = re.compile(r"`" + re.escape(PROJECT) + r"\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)`")
_LEGACY = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}


def duckdb_stand_in(lake_root: str, plant=None):
    """An answer for the recorder: the job's SQL run on DuckDB over the same files (optionally altered)."""

    engine: list = []  # opened on the first job (after the smoke runs are written), then reused

    def answer(sql: str, parameters: dict):
        datasets = {m.group(1) for m in _REF.finditer(sql)}
        assert datasets == {DATASET}, datasets
        text = _REF.sub(lambda m: f"execution.{m.group(2)}", sql)
        query = parse_header(text, "bigquery-job")
        values = {name: value for name, (_type, value) in parameters.items()}
        if not engine:
            engine.append(open_engine(lake_root))
        table = run_query(engine[0], query, values)
        fields = [{"name": f.name, "type": _LEGACY.get(t, t)} for f, t in zip(table.schema, map(smoke.bigquery_type, table.schema.types))]
        rows = [tuple(r[c] for c in table.column_names) for r in table.to_pylist()]
        if plant is not None:
            rows = plant(query, table.column_names, rows)
        return fields, rows

    return answer


@pytest.fixture
def scratch(gcs):
    return smoke.scratch_root(f"{gcs.url}/team")


def _objects(lake_root: str) -> list[str]:
    return sorted(open_store(lake_root).list(""))


# --- the smoke lake -----------------------------------------------------------------------------


def test_the_smoke_lake_has_every_edge_value_it_promises(tmp_path):
    smoke.write_smoke_lake(tmp_path)
    con = open_engine(tmp_path)
    try:
        committed = sorted(r[0] for r in con.execute("SELECT run_id FROM execution.runs").fetchall())
        assert committed == sorted([smoke.DUST, smoke.NUMERIC_ID, smoke.EMPTY])  # not the uncommitted one
        assert (tmp_path / layout.lake_key(smoke.UNCOMMITTED, "fills")).is_file()  # whose files are there
        # nulls in every nullable column (runs.data_file and runs.table_versions through the empty run's
        # commit, a runs row of contract version 1 that lacks both columns)
        legacy = con.execute(
            "SELECT schema_version, data_file, table_versions FROM execution.runs WHERE run_id = ?", [smoke.EMPTY]
        ).fetchall()
        assert legacy == [(1, None, None)]
        for name, table in TABLES.items():
            for col in table.physical_columns:
                if col.nullable:
                    nulls = con.execute(f"SELECT COUNT(*) FROM execution.{name} WHERE {col.name} IS NULL").fetchone()[0]
                    assert nulls > 0, f"{name}.{col.name} has no null in the smoke lake"
        # timestamps with nanoseconds that a microsecond TIMESTAMP cannot hold
        ns = con.execute("SELECT COUNT(*) FROM execution.fills WHERE ts_event_ns % 1000 <> 0").fetchone()[0]
        assert ns > 0
        # products that need more than 9 decimals
        fills = con.execute("SELECT CAST(last_qty AS VARCHAR), CAST(last_px AS VARCHAR) FROM execution.fills").fetchall()
        assert any(D(q) * D(p) != (D(q) * D(p)).quantize(D("1e-9")) for q, p in fills)
    finally:
        con.close()


def test_every_shipped_query_has_smoke_cases():
    assert {name for _label, query, _p in smoke.smoke_cases() for name in [query.name]} == set(shipped_queries())
    with pytest.MonkeyPatch.context() as mp:
        mp.delitem(smoke.SMOKE_CASES, "holding_time")
        with pytest.raises(smoke.SmokeError, match="holding_time"):
            smoke.smoke_cases()


def test_bigquery_text_changes_only_the_dataset_references():
    for name in shipped_queries():
        query = smoke.load_query(name)
        text = smoke.bigquery_text(query, dataset=DATASET, project=PROJECT)
        assert _REF.sub(lambda m: f"execution.{m.group(2)}", text) == query.text  # nothing else changed
        assert {m.group(1) for m in _REF.finditer(text)} == {DATASET}


def test_bigquery_text_leaves_comments_strings_and_ctes_alone_and_refuses_another_dataset():
    query = smoke.load_query(
        "-- Which fills? execution.fills in a comment stays\n-- Parameters:\n"
        "WITH execution_x AS (SELECT 'execution.fills' AS s, f.run_id FROM execution.fills AS f)\n"
        "SELECT s, run_id FROM execution_x JOIN execution.runs AS r USING (run_id) -- execution.orders\n"
    )
    assert smoke.bigquery_text(query, dataset=DATASET, project=PROJECT) == (
        "-- Which fills? execution.fills in a comment stays\n-- Parameters:\n"
        f"WITH execution_x AS (SELECT 'execution.fills' AS s, f.run_id FROM `{PROJECT}.{DATASET}.fills` AS f)\n"
        f"SELECT s, run_id FROM execution_x JOIN `{PROJECT}.{DATASET}.runs` AS r USING (run_id) -- execution.orders\n"
    )
    with pytest.raises(smoke.SmokeError, match=f"table other.fills is not in {PROJECT}.{DATASET}"):
        smoke.bigquery_text(smoke.load_query("-- q\n-- Parameters:\nSELECT * FROM other.fills"), dataset=DATASET, project=PROJECT)


# --- the conversation ---------------------------------------------------------------------------


def test_contract_bq_smoke_conversation_passes_and_cleans_up(fake_bigquery, scratch):
    fake_bigquery.answer = duckdb_stand_in(scratch)
    client = client_for(fake_bigquery)
    lines: list[str] = []
    report = smoke.run_smoke(client, lake_root=scratch, dataset=DATASET, location="EU", echo=lines.append)
    calls = fake_bigquery.take_calls()
    assert report.ok, smoke.format_report(report)

    # The dataset was absent: looked up by bq-smoke and by register, then created in the location.
    assert [(c["method"], c["path"]) for c in calls[:3]] == [
        ("GET", f"{PREFIX}/projects/{PROJECT}/datasets/{DATASET}"),
        ("GET", f"{PREFIX}/projects/{PROJECT}/datasets/{DATASET}"),
        ("POST", f"{PREFIX}/projects/{PROJECT}/datasets"),
    ]
    assert calls[2]["body"]["location"] == "EU"

    jobs = [c["body"] for c in calls if c["method"] == "POST" and c["path"].endswith("/jobs")]
    ddl_jobs, query_jobs = jobs[:10], jobs[10:]
    # The ten DDL statements of `lake register`, over the scratch prefix, in the scratch dataset.
    expected = bq.statements(dataset=DATASET, lake_root=scratch, project=PROJECT)
    assert [j["configuration"]["query"]["query"] for j in ddl_jobs] == [s.sql for s in expected]
    assert f"uris = ['{scratch}/lake/fills/*']" in ddl_jobs[1]["configuration"]["query"]["query"]

    # One query job per case: the shipped text with the dataset replaced, typed parameters, standard SQL.
    cases = smoke.smoke_cases()
    assert len(query_jobs) == len(cases)
    for (label, query, params), job in zip(cases, query_jobs):
        config = job["configuration"]["query"]
        assert config["query"] == smoke.bigquery_text(query, dataset=DATASET, project=PROJECT), label
        assert config["useLegacySql"] is False
        assert job["jobReference"]["jobId"].startswith("lake_bq_smoke_")
        assert job["jobReference"]["location"] == "EU"
        sent = {p["name"]: p for p in config.get("queryParameters", [])}
        assert set(sent) == set(query.params), label
        for name, p in sent.items():
            declared = query.params[name].type
            if declared.startswith("ARRAY<"):
                assert p["parameterType"] == {"type": "ARRAY", "arrayType": {"type": declared[6:-1]}}
                values = [v["value"] for v in p["parameterValue"].get("arrayValues", [])]
                assert values == list(params.get(name, [])), label
            else:
                assert p["parameterType"] == {"type": declared}
                assert p["parameterValue"]["value"] == params.get(name, query.params[name].default), label

    # Clean-up: the dataset with its contents, and every object under the scratch prefix.
    deletes = [c for c in calls if c["method"] == "DELETE"]
    assert [(d["path"], d["query"].get("deleteContents")) for d in deletes] == [
        (f"{PREFIX}/projects/{PROJECT}/datasets/{DATASET}", ["true"])
    ]
    assert fake_bigquery.datasets == {} and fake_bigquery.tables == {}
    assert _objects(scratch) == []
    assert any(line.startswith("deleted dataset") for line in lines)

    table = smoke.format_report(report)
    for label, _query, _params in cases:
        assert re.search(rf"^{re.escape(label)}\s.*\bpass$", table, re.MULTILINE), table
    assert f"{len(cases)} of {len(cases)} passed" in table


def test_contract_a_difference_planted_in_bigquerys_answer_fails_that_query_only(fake_bigquery, scratch):
    def plant(query, columns, rows):
        if query.params.keys() != {"run_ids"} or "turnover" not in columns:
            return rows
        i = columns.index("turnover")  # one rounding step off, as an uncast product would be
        return [row[:i] + (row[i] + D("0.000000001"),) + row[i + 1 :] if row[i] else row for row in rows]

    fake_bigquery.answer = duckdb_stand_in(scratch, plant)
    report = smoke.run_smoke(client_for(fake_bigquery), lake_root=scratch, dataset=DATASET, location="EU")
    assert not report.ok
    failed = {c.label for c in report.comparisons if not c.ok}
    assert failed == {label for label, q, _ in smoke.smoke_cases() if q.name == "leaderboard"}
    problems = [p for c in report.comparisons for p in c.problems]
    assert any(re.match(r"row \d+ turnover: BigQuery Decimal\('8\.07759398", p) for p in problems), problems
    assert "BigQuery and DuckDB disagree" in smoke.format_report(report)
    assert _objects(scratch) == [] and fake_bigquery.datasets == {}  # cleaned up all the same


def test_contract_a_failed_bigquery_job_is_a_failure_and_everything_is_still_cleaned_up(fake_bigquery, scratch):
    stand_in = duckdb_stand_in(scratch)

    def answer(sql, parameters):
        if "holding" in sql.split("\n", 1)[0].lower():
            raise ValueError("Syntax error: Unexpected keyword")
        return stand_in(sql, parameters)

    fake_bigquery.answer = answer
    report = smoke.run_smoke(client_for(fake_bigquery), lake_root=scratch, dataset=DATASET, location="EU")
    bad = [c for c in report.comparisons if not c.ok]
    assert [c.label for c in bad] == ["holding_time"]
    assert "BigQuery:" in bad[0].problems[0] and "Unexpected keyword" in bad[0].problems[0]
    assert _objects(scratch) == [] and fake_bigquery.datasets == {}


def test_contract_keep_leaves_everything_in_place(fake_bigquery, scratch):
    fake_bigquery.answer = duckdb_stand_in(scratch)
    report = smoke.run_smoke(client_for(fake_bigquery), lake_root=scratch, dataset=DATASET, location="EU", keep=True)
    assert report.ok
    assert [c for c in fake_bigquery.take_calls() if c["method"] == "DELETE"] == []
    assert DATASET in fake_bigquery.datasets and len(fake_bigquery.tables) == 10
    assert layout.commit_key(smoke.DUST) in _objects(scratch)
    assert report.cleanup == [f"kept {PROJECT}.{DATASET} and {scratch} (--keep)"]


def test_contract_an_existing_dataset_is_kept_and_only_the_smoke_objects_are_deleted(fake_bigquery, scratch):
    client = client_for(fake_bigquery)
    from google.cloud import bigquery

    existing = bigquery.Dataset(bigquery.DatasetReference(PROJECT, DATASET))
    existing.location = "EU"
    client.create_dataset(existing)
    fake_bigquery.tables[f"{DATASET}.someone_elses"] = {"kind": "bigquery#table", "type": "TABLE", "labels": {}}
    fake_bigquery.answer = duckdb_stand_in(scratch)
    report = smoke.run_smoke(client, lake_root=scratch, dataset=DATASET)
    assert report.ok
    assert DATASET in fake_bigquery.datasets
    assert set(fake_bigquery.tables) == {f"{DATASET}.someone_elses"}
    deletes = [c["path"].rsplit("/", 1)[-1] for c in fake_bigquery.take_calls() if c["method"] == "DELETE"]
    views, tables = deletes[:5], deletes[5:]
    assert sorted(views) == sorted(TABLES) and sorted(tables) == sorted(f"lake_{t}" for t in TABLES)
    assert report.cleanup[0] == f"deleted 10 tables and views from {PROJECT}.{DATASET} (the dataset existed before)"
    assert _objects(scratch) == []


def test_cli_bq_smoke_prints_the_table_and_exits_by_the_result(fake_bigquery, gcs, monkeypatch, capsys):
    fake_bigquery.answer = None
    roots: list[str] = []
    real_root = smoke.scratch_root

    def scratch_root(bucket):
        roots.append(real_root(bucket))
        fake_bigquery.answer = duckdb_stand_in(roots[-1])
        return roots[-1]

    monkeypatch.setattr(smoke, "scratch_root", scratch_root)
    monkeypatch.setattr(bq, "make_client", lambda project, location=None: client_for(fake_bigquery, project))
    assert main(["bq-smoke", "--project", PROJECT, "--bucket", f"{gcs.url}/ci", "--location", "EU"]) == 0
    out = capsys.readouterr().out
    assert roots[0].startswith(f"{gcs.url}/ci/bq-smoke/")
    assert re.search(r"^leaderboard#1\s.*\bpass$", out, re.MULTILINE) and "passed" in out
    assert _objects(roots[0]) == []

    def scratch_root_planted(bucket):
        roots.append(real_root(bucket))
        fake_bigquery.answer = duckdb_stand_in(roots[-1], lambda q, c, rows: rows[:-1] if q.name.startswith("bigquery") and rows and "day" in c else rows)
        return roots[-1]

    monkeypatch.setattr(smoke, "scratch_root", scratch_root_planted)
    assert main(["bq-smoke", "--project", PROJECT, "--bucket", f"{gcs.url}/ci", "--location", "EU"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^equity_daily\s.*\bFAIL$", out, re.MULTILINE), out
    assert "rows in BigQuery" in out
    cases = len(smoke.smoke_cases())
    assert f"{cases - 1} of {cases} passed: BigQuery and DuckDB disagree" in out  # only equity_daily failed


def test_cli_bq_smoke_needs_a_project(monkeypatch, capsys):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    assert main(["bq-smoke"]) == 2
    assert "no project" in capsys.readouterr().err


# --- the comparison -----------------------------------------------------------------------------


def _duckdb_answer(tmp_path, query="leaderboard", params=None) -> smoke.Answer:
    con = open_engine(tmp_path)
    try:
        return smoke.answer_from_arrow(run_query(con, query, params))
    finally:
        con.close()


def _with(answer: smoke.Answer, row: int, column: str, value) -> smoke.Answer:
    i = answer.columns.index(column)
    rows = list(answer.rows)
    rows[row] = rows[row][:i] + (value,) + rows[row][i + 1 :]
    return dataclasses.replace(answer, rows=tuple(rows))


def test_compare_answers_on_two_duckdb_answers_with_planted_differences(tmp_path):
    smoke.write_smoke_lake(tmp_path)
    a = _duckdb_answer(tmp_path)
    b = _duckdb_answer(tmp_path)
    assert smoke.compare_answers("same", "leaderboard", a, b).ok

    dust = next(i for i, r in enumerate(a.rows) if r[a.columns.index("run_id")] == smoke.DUST)
    turnover = a.rows[dust][a.columns.index("turnover")]
    sharpe = a.rows[dust][a.columns.index("sharpe")]
    assert isinstance(turnover, D) and isinstance(sharpe, float)

    def verdict(column, value):
        return smoke.compare_answers("x", "leaderboard", _with(a, dust, column, value), b)

    # NUMERIC: exact, the last decimal counts (and 8.0775939800 equals 8.07759398: a value, not a text)
    assert not verdict("turnover", turnover + D("0.000000001")).ok
    assert verdict("turnover", D(str(turnover) + "0")).ok
    # FLOAT64: 1e-9 relative
    assert verdict("sharpe", sharpe * (1 + 1e-10)).ok
    assert not verdict("sharpe", sharpe * (1 + 1e-8)).ok
    # INT64 and STRING exactly; NULL only equals NULL; a Decimal is no INT64
    assert not verdict("trades", a.rows[dust][a.columns.index("trades")] + 1).ok
    assert not verdict("currency", "usdt").ok
    assert not verdict("max_drawdown", None).ok
    assert not verdict("trades", D(a.rows[dust][a.columns.index("trades")])).ok
    # a planted difference is named: row, column, both values
    problems = verdict("turnover", turnover + D("0.000000001")).problems
    assert problems == [f"row {dust + 1} turnover: BigQuery {turnover + D('0.000000001')!r}, DuckDB {turnover!r}"]

    # TIMESTAMP: to the microsecond
    e = _duckdb_answer(tmp_path, "equity_daily")
    ts = e.rows[0][e.columns.index("last_sample")]
    assert smoke.compare_answers("t", "equity_daily", _with(e, 0, "last_sample", ts.astimezone(dt.timezone(dt.timedelta(hours=9)))), e).ok
    assert not smoke.compare_answers("t", "equity_daily", _with(e, 0, "last_sample", ts + dt.timedelta(microseconds=1)), e).ok

    # types, columns, row counts, order
    assert smoke.compare_answers("t", "q", dataclasses.replace(a, types=("FLOAT64",) + a.types[1:]), b).problems[0].startswith(
        "column rank: BigQuery type FLOAT64, DuckDB type INT64"
    )
    assert "columns differ" in smoke.compare_answers("c", "q", dataclasses.replace(a, columns=a.columns[::-1]), b).problems[0]
    assert smoke.compare_answers("n", "q", dataclasses.replace(a, rows=a.rows[:-1]), b).problems == [
        f"{len(a.rows) - 1} rows in BigQuery, {len(a.rows)} in DuckDB"
    ]
    assert smoke.compare_answers("o", "q", dataclasses.replace(a, rows=a.rows[::-1]), b).problems == [
        "the same rows in a different order"
    ]


def test_duckdb_answers_carry_bigquerys_types_for_every_shipped_query(tmp_path):
    """What bq-smoke compares first: DuckDB's result types are the BigQuery types (no INTEGER, HUGEINT, ...)."""
    smoke.write_smoke_lake(tmp_path)
    con = open_engine(tmp_path)
    try:
        for label, query, params in smoke.smoke_cases():
            answer = smoke.answer_from_arrow(run_query(con, query, params))
            odd = {c: t for c, t in zip(answer.columns, answer.types) if t not in ("NUMERIC", "INT64", "FLOAT64", "STRING", "TIMESTAMP", "DATE", "BOOL")}
            assert odd == {}, label
    finally:
        con.close()


def test_countif_is_int64_on_duckdb_too_plain_and_windowed(tmp_path):
    """BigQuery's COUNTIF is INT64; DuckDB's COUNT_IF a HUGEINT unless the translation casts it (around a window)."""
    smoke.write_smoke_lake(tmp_path)
    text = (
        "-- q\n-- Parameters:\nSELECT f.run_id, COUNTIF(f.last_px > 1) AS n,"
        " MAX(COUNTIF(f.last_px > 1)) OVER (PARTITION BY f.run_id) AS top,"
        " COUNTIF(f.last_px > 1) OVER (PARTITION BY f.run_id) AS windowed"
        " FROM execution.fills AS f GROUP BY f.run_id, f.last_px ORDER BY f.run_id, f.last_px"
    )
    con = open_engine(tmp_path)
    try:
        answer = smoke.answer_from_arrow(run_query(con, smoke.load_query(text)))
    finally:
        con.close()
    assert answer.types == ("STRING", "INT64", "INT64", "INT64")
    assert answer.rows[0] == (smoke.NUMERIC_ID, 1, 1, 3)  # 0042: three prices, one fill each


def test_bigquery_type_of_arrow_types():
    assert smoke.bigquery_type(pa.decimal128(38, 9)) == "NUMERIC"
    assert smoke.bigquery_type(pa.decimal128(38, 0)) == "arrow:decimal128(38, 0)"  # DuckDB's HUGEINT
    assert smoke.bigquery_type(pa.int32()) == "arrow:int32"
    assert smoke.bigquery_type(pa.timestamp("us", tz="UTC")) == "TIMESTAMP"
    assert smoke.bigquery_type(pa.timestamp("us")) == "DATETIME"
