"""The BigLake form of the external tables (sql/ddl/biglake/, `lake register --connection`), read back.

Like the plain form (tests/test_sql_files.py), each statement is read back into its parts by the parser
of BigQuery's documented grammar and by Google's own GoogleSQL parser (ZetaSQL, when installed), and the
parts are compared with the contract: the same columns and options as the plain form, plus
`WITH CONNECTION`, `max_staleness = INTERVAL ...` and `metadata_cache_mode = 'MANUAL'` (the syntax of
BigQuery's "Create Cloud Storage BigLake tables" page; docs/sql.md#bigquery-at-scale).
"""

from __future__ import annotations

import dataclasses

import pytest

from lake.catalog import bigquery as bq
from lake.catalog import ddl
from lake.catalog.ddl import CONNECTION_PLACEHOLDER, BigLake
from schemas import TABLES
from sql import SQL_DIR
from tests.support.bigquery_ddl import contract_problems, googlesql_available, googlesql_external_table, googlesql_parse, read_external_table

PLACEHOLDER_ROOT = f"gs://{ddl.BUCKET_PLACEHOLDER}"
CHECKED_IN = BigLake(CONNECTION_PLACEHOLDER)
needs_googlesql = pytest.mark.skipif(not googlesql_available(), reason="zetasql (GoogleSQL's parser) is not installed")


def _biglake_text(table: str) -> str:
    return (SQL_DIR / "ddl" / "biglake" / f"{table}.sql").read_text()


def _registered(table: str, biglake: BigLake) -> bq.Statement:
    stmts = bq.statements(dataset="scratch_ds", lake_root="gs://b-1/pre/fix", project="my-proj-1", biglake=biglake)
    return next(s for s in stmts if s.name == f"lake_{table}")


@pytest.mark.parametrize("table", list(TABLES))
def test_checked_in_biglake_ddl_has_the_contracts_structure(table):
    parts = read_external_table(_biglake_text(table))
    assert parts.connection == CONNECTION_PLACEHOLDER
    assert parts.options["max_staleness"] == "INTERVAL 1 DAY" and parts.options["metadata_cache_mode"] == "MANUAL"
    problems = contract_problems(parts, TABLES[table], lake_root=PLACEHOLDER_ROOT, name=[ddl.DATASET, f"lake_{table}"], biglake=CHECKED_IN)
    assert problems == []


@pytest.mark.parametrize("table", list(TABLES))
def test_registered_biglake_ddl_has_the_contracts_structure(table):
    biglake = bq.biglake_form("my-proj-1.eu.lake-conn", "4h")
    stmt = _registered(table, biglake)
    parts = read_external_table(stmt.sql)
    problems = contract_problems(
        parts, TABLES[table], lake_root="gs://b-1/pre/fix", name=["my-proj-1", "scratch_ds", f"lake_{table}"],
        labels={bq.FINGERPRINT_LABEL: stmt.fingerprint}, biglake=biglake,
    )  # fmt: skip
    assert problems == []
    assert parts.connection == "my-proj-1.eu.lake-conn" and parts.options["max_staleness"] == "INTERVAL 4 HOUR"


@pytest.mark.parametrize("table", list(TABLES))
def test_the_two_forms_differ_only_in_the_connection_and_the_cache(table):
    plain = (SQL_DIR / "ddl" / f"{table}.sql").read_text()
    biglake = _biglake_text(table)
    sql = lambda text: [line for line in text.splitlines() if not line.startswith("--")]  # noqa: E731
    extra = [line for line in sql(biglake) if line not in sql(plain)]
    assert [line.split(" = ")[0].strip() for line in extra] == ["WITH CONNECTION `{connection}`", "max_staleness", "metadata_cache_mode", "description"]
    assert [line for line in sql(plain) if line not in sql(biglake)] == [next(line for line in sql(plain) if "description = '" in line and line.startswith("  description"))]
    # Changing the form changes the fingerprint, so `lake register` replaces the tables when the form changes.
    assert _registered(table, CHECKED_IN).fingerprint != next(
        s for s in bq.statements(dataset="scratch_ds", lake_root="gs://b-1/pre/fix", project="my-proj-1") if s.name == f"lake_{table}"
    ).fingerprint


def _mutations() -> list[tuple[str, str, BigLake | None, str]]:
    fills = _biglake_text("fills")
    plain = (SQL_DIR / "ddl" / "fills.sql").read_text()
    return [
        ("no connection", fills.replace("WITH CONNECTION `{connection}`\n", ""), CHECKED_IN, "WITH CONNECTION None, expected {connection}"),
        ("another connection", fills.replace("`{connection}`", "`p-12345.us.other`"), CHECKED_IN, "WITH CONNECTION p-12345.us.other"),
        ("an automatic cache", fills.replace("'MANUAL'", "'AUTOMATIC'"), CHECKED_IN, "metadata_cache_mode = 'AUTOMATIC', expected 'MANUAL'"),
        ("another staleness", fills.replace("INTERVAL 1 DAY", "INTERVAL 8 HOUR"), CHECKED_IN, "max_staleness = 'INTERVAL 8 HOUR', expected 'INTERVAL 1 DAY'"),
        ("no cache", fills.replace("  max_staleness = INTERVAL 1 DAY,\n", ""), CHECKED_IN, "max_staleness = None"),
        ("the plain form where BigLake is expected", plain, CHECKED_IN, "WITH CONNECTION None"),
        ("BigLake where the plain form is expected", fills, None, "unexpected WITH CONNECTION {connection}"),
        ("a cache on a plain table", plain.replace("format = 'PARQUET',", "format = 'PARQUET',\n  metadata_cache_mode = 'MANUAL',"), None,
         "metadata cache options ['metadata_cache_mode'] on a plain external table"),
    ]  # fmt: skip


@pytest.mark.parametrize("what, text, biglake, message", _mutations(), ids=[m[0] for m in _mutations()])
def test_the_structure_check_catches(what, text, biglake, message):
    parts = read_external_table(text)
    problems = contract_problems(parts, TABLES["fills"], lake_root=PLACEHOLDER_ROOT, name=[ddl.DATASET, "lake_fills"], biglake=biglake)
    assert any(message in p for p in problems), problems


def test_the_reader_reads_only_whole_intervals():
    fills = _biglake_text("fills")
    for bad in ("INTERVAL 1", "INTERVAL 'x' DAY", "INTERVAL 1 WEEK"):
        with pytest.raises(Exception):
            read_external_table(fills.replace("INTERVAL 1 DAY", bad))


def test_biglake_files_are_generated_and_checked_for_drift(tmp_path):
    ddl.write_generated_files(tmp_path)
    assert sorted(p.name for p in (tmp_path / "ddl" / "biglake").glob("*.sql")) == sorted(f"{t}.sql" for t in TABLES)
    assert ddl.drifted_files(tmp_path) == []
    target = tmp_path / "ddl" / "biglake" / "runs.sql"
    target.write_text(target.read_text().replace("'MANUAL'", "'AUTOMATIC'"))
    (tmp_path / "ddl" / "biglake" / "stale.sql").write_text("SELECT 1;\n")
    assert ddl.drifted_files(tmp_path) == ["ddl/biglake/runs.sql", "ddl/biglake/stale.sql"]
    assert ddl.drifted_files(SQL_DIR) == []


@needs_googlesql
@pytest.mark.parametrize("table", list(TABLES))
def test_googlesqls_parser_reads_the_biglake_ddl_as_the_contract_says(table):
    text = _biglake_text(table)
    parts = googlesql_external_table(text)
    problems = contract_problems(parts, TABLES[table], lake_root=PLACEHOLDER_ROOT, name=[ddl.DATASET, f"lake_{table}"], biglake=CHECKED_IN)
    assert problems == []
    assert dataclasses.asdict(parts) == dataclasses.asdict(read_external_table(text))  # both readers agree
    biglake = bq.biglake_form("my-proj-1.eu.lake-conn", "90m")
    stmt = _registered(table, biglake)
    registered = googlesql_external_table(stmt.sql)
    assert registered.connection == "my-proj-1.eu.lake-conn" and registered.options["max_staleness"] == "INTERVAL 90 MINUTE"
    # A backticked `project.dataset.table` is one identifier to GoogleSQL, three parts to the grammar reader.
    joined = lambda parts: {**dataclasses.asdict(parts), "name": ".".join(parts.name)}  # noqa: E731
    assert joined(registered) == joined(read_external_table(stmt.sql))


@needs_googlesql
def test_googlesqls_parser_refuses_a_broken_biglake_statement():
    fills = _biglake_text("fills")
    googlesql_parse(fills)
    for broken in (fills.replace("INTERVAL 1 DAY", "INTERVAL DAY"), fills.replace("WITH CONNECTION", "WITH CONNECTIONS")):
        with pytest.raises(Exception):
            googlesql_parse(broken)


@needs_googlesql
def test_googlesqls_parser_accepts_the_refresh_calls():
    for _table, sql in bq.refresh_statements(project="my-proj-1", prefixes={t: f"gs://b/lake/{t[5:]}" for t in bq.REFRESH_ORDER}, run_ids=["a", "0042"]):
        tree = googlesql_parse(sql)
        assert type(tree).__name__ == "ASTCallStatement"
        assert [n.id_string for n in tree.procedure_name.names] == ["BQ", "REFRESH_EXTERNAL_METADATA_CACHE"]
