"""The checked-in SQL: its structure is the contract's, it matches schemas/, and its types match the Parquet files.

sqlglot cannot model CREATE EXTERNAL TABLE ... WITH PARTITION COLUMNS (it falls back to an opaque
Command), so the DDL is not "parsed" by it: it is read back into its parts by a parser of BigQuery's
documented grammar and, when the `zetasql` package is installed, by Google's own GoogleSQL parser,
and each part is compared with the contract (tests/support/bigquery_ddl.py). Views and queries are
parsed strictly by sqlglot (a fallback to Command is a failure) and by GoogleSQL when available.
"""

from __future__ import annotations

import dataclasses
import re

import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from lake import layout
from lake.catalog import bigquery as bq
from lake.catalog import ddl
from lake.catalog.translate import parameters_used, parse_bigquery, parse_header, shipped_queries
from lake.write import write_run
from schemas import TABLES
from sql import SQL_DIR
from tests.sql_lake import alpha
from tests.support.bigquery_ddl import (
    DDLSyntaxError,
    contract_problems,
    googlesql_available,
    googlesql_external_table,
    googlesql_parse,
    read_external_table,
)

ALL_SQL = sorted(SQL_DIR.glob("*/*.sql"))
SELECT_SQL = [p for p in ALL_SQL if p.parent.name != "ddl"]
PLACEHOLDER_ROOT = f"gs://{ddl.BUCKET_PLACEHOLDER}"
needs_googlesql = pytest.mark.skipif(not googlesql_available(), reason="zetasql (GoogleSQL's parser) is not installed")


def test_the_expected_files_are_there():
    names = {p.relative_to(SQL_DIR).as_posix() for p in ALL_SQL}
    for t in TABLES:
        assert f"ddl/{t}.sql" in names and f"views/{t}.sql" in names
    assert set(shipped_queries()) >= {"leaderboard", "run_vs_run", "slippage_commission", "equity_daily", "holding_time"}


@pytest.mark.parametrize("path", SELECT_SQL, ids=lambda p: p.relative_to(SQL_DIR).as_posix())
def test_every_view_and_query_parses_strictly_as_bigquery(path):
    statements = parse_bigquery(path.read_text(), path.name)  # a fallback to Command is an error
    assert len(statements) == 1
    assert isinstance(statements[0], (exp.Create, exp.Select, exp.Query))


# --- the external tables' DDL, read back and compared with the contract ------------------------


def _ddl_text(table: str) -> str:
    return (SQL_DIR / "ddl" / f"{table}.sql").read_text()


@pytest.mark.parametrize("table", list(TABLES))
def test_checked_in_external_table_ddl_has_the_contracts_structure(table):
    parts = read_external_table(_ddl_text(table))
    assert contract_problems(parts, TABLES[table], lake_root=PLACEHOLDER_ROOT, name=[ddl.DATASET, f"lake_{table}"]) == []


@pytest.mark.parametrize("table", list(TABLES))
def test_registered_external_table_ddl_has_the_contracts_structure(table):
    """What `lake register` sends: project-qualified, over a real bucket and prefix, with its fingerprint label."""
    stmt = next(s for s in bq.statements(dataset="scratch_ds", lake_root="gs://b-1/pre/fix", project="my-proj-1") if s.name == f"lake_{table}")
    parts = read_external_table(stmt.sql)
    problems = contract_problems(
        parts, TABLES[table], lake_root="gs://b-1/pre/fix", name=["my-proj-1", "scratch_ds", f"lake_{table}"],
        labels={bq.FINGERPRINT_LABEL: stmt.fingerprint},
    )  # fmt: skip
    assert problems == []


def _mutations() -> list[tuple[str, str, str]]:
    fills = _ddl_text("fills")
    return [
        ("a column left out", fills.replace("  client_order_id STRING OPTIONS(description = 'Order that was filled (orders.client_order_id).'),\n", ""), "missing ['client_order_id']"),
        ("a type changed", fills.replace("last_px NUMERIC", "last_px FLOAT64"), "type or description of ['last_px FLOAT64']"),
        ("a description changed", fills.replace("Price of this fill.", "Price."), "type or description of ['last_px NUMERIC']"),
        ("NOT NULL", fills.replace("trade_id STRING OPTIONS", "trade_id STRING NOT NULL OPTIONS"), "NOT NULL on external-table columns ['trade_id']"),
        ("the partition column", fills.replace("WITH PARTITION COLUMNS (run_id STRING)\n", ""), "partition columns None"),
        ("an inferred partition type", fills.replace("WITH PARTITION COLUMNS (run_id STRING)", "WITH PARTITION COLUMNS"), "partition columns []"),
        ("the uris", fills.replace("lake/fills/*", "lake/fills/run_id=*/*"), "option uris"),
        ("the hive prefix", fills.replace("hive_partition_uri_prefix = 'gs://{bucket}/lake/fills'", "hive_partition_uri_prefix = 'gs://{bucket}/lake'"), "option hive_partition_uri_prefix"),
        ("the partition filter", fills.replace("require_hive_partition_filter = false", "require_hive_partition_filter = true"), "option require_hive_partition_filter"),
        ("the format", fills.replace("format = 'PARQUET'", "format = 'ORC'"), "option format"),
        ("an extra option", fills.replace("format = 'PARQUET',", "format = 'PARQUET',\n  ignore_unknown_values = true,"), "unexpected options ['ignore_unknown_values']"),
        ("the version in the description", fills.replace("Contract version 1.'", "Contract version 7.'"), "name version 1"),
    ]


@pytest.mark.parametrize("what, text, message", _mutations(), ids=[m[0] for m in _mutations()])
def test_the_structure_check_catches(what, text, message):
    parts = read_external_table(text)
    problems = contract_problems(parts, TABLES["fills"], lake_root=PLACEHOLDER_ROOT, name=[ddl.DATASET, "lake_fills"])
    assert any(message in p for p in problems), problems


def test_the_reader_refuses_what_is_not_the_grammar():
    for bad in ["CREATE TABLE execution.x (a STRING)", "CREATE EXTERNAL TABLE x (a STRING) OPTIONS (format 'PARQUET')",
                "CREATE EXTERNAL TABLE x (a STRING) WITH PARTITIONS (run_id STRING)", "CREATE EXTERNAL TABLE x (a STRING) OPTIONS () garbage"]:  # fmt: skip
        with pytest.raises(DDLSyntaxError):
            read_external_table(bad)


@needs_googlesql
@pytest.mark.parametrize("table", list(TABLES))
def test_googlesqls_parser_reads_the_ddl_as_the_contract_says(table):
    """Google's GoogleSQL parser (ZetaSQL) accepts the statement, and its parse tree has the contract's structure."""
    text = _ddl_text(table)
    parts = googlesql_external_table(text)
    assert contract_problems(parts, TABLES[table], lake_root=PLACEHOLDER_ROOT, name=[ddl.DATASET, f"lake_{table}"]) == []
    assert dataclasses.asdict(parts) == dataclasses.asdict(read_external_table(text))  # both readers agree
    stmt = next(s for s in bq.statements(dataset="execution", lake_root="gs://b-1/p", project="my-proj-1") if s.name == f"lake_{table}")
    assert googlesql_external_table(stmt.sql).options["labels"] == [(bq.FINGERPRINT_LABEL, stmt.fingerprint)]


@needs_googlesql
@pytest.mark.parametrize("path", SELECT_SQL, ids=lambda p: p.relative_to(SQL_DIR).as_posix())
def test_googlesqls_parser_accepts_every_view_and_query(path):
    googlesql_parse(path.read_text())


@needs_googlesql
def test_googlesqls_parser_refuses_broken_ddl():
    with pytest.raises(Exception):
        googlesql_parse(_ddl_text("fills").replace("WITH PARTITION COLUMNS (run_id STRING)", "WITH PARTITION (run_id STRING)"))


# --- generated files do not drift --------------------------------------------------------------


def test_ddl_and_views_do_not_drift_from_schemas():
    assert ddl.drifted_files(SQL_DIR) == [], "run `lake sql generate` and commit sql/ddl and sql/views"


def test_drift_is_detected(tmp_path):
    ddl.write_generated_files(tmp_path)
    assert ddl.drifted_files(tmp_path) == []
    fills_ddl = tmp_path / "ddl" / "fills.sql"
    fills_ddl.write_text(fills_ddl.read_text().replace("last_px NUMERIC OPTIONS", "last_px FLOAT64 OPTIONS"))
    (tmp_path / "views" / "stale.sql").write_text("SELECT 1;\n")
    assert ddl.drifted_files(tmp_path) == ["ddl/fills.sql", "views/stale.sql"]
    (tmp_path / "views" / "runs.sql").unlink()  # a missing file is drift too
    assert ddl.drifted_files(tmp_path) == ["ddl/fills.sql", "views/runs.sql", "views/stale.sql"]
    # writing restores the generated files (and reports only those it changed); an extra file stays extra
    assert ddl.write_generated_files(tmp_path) == ["ddl/fills.sql", "views/runs.sql"]
    assert ddl.drifted_files(tmp_path) == ["views/stale.sql"]


# BigQuery's reading of Parquet types (physical type, logical type) -> the BigQuery type.
def _bigquery_type_of_parquet(column) -> str:
    logical = column.logical_type.to_json()
    physical = column.physical_type
    if physical == "BYTE_ARRAY" and '"String"' in logical:
        return "STRING"
    if physical == "INT64" and '"Timestamp"' in logical:
        assert '"isAdjustedToUTC":true' in logical and '"timeUnit":"microseconds"' in logical, logical
        return "TIMESTAMP"
    if physical == "INT64" and '"None"' in logical:
        return "INT64"
    if '"Decimal"' in logical:
        m = re.search(r'"precision":(\d+),"scale":(\d+)', logical)
        precision, scale = int(m.group(1)), int(m.group(2))
        # NUMERIC holds up to 29 integer digits and 9 decimals.
        assert scale <= 9 and precision - scale <= 29, logical
        return "NUMERIC"
    if physical == "DOUBLE":
        return "FLOAT64"
    if physical == "BOOLEAN":
        return "BOOL"
    raise AssertionError(f"{column.name}: no BigQuery mapping for {physical} {logical}")


def test_parquet_files_hold_what_the_ddl_declares(tmp_path):
    write_run(alpha(), tmp_path)
    for table in TABLES:
        path = tmp_path / layout.lake_key("alpha", table)
        schema = pq.ParquetFile(path).schema
        columns = [schema.column(i) for i in range(len(schema))]
        names = [c.name for c in columns]
        assert "run_id" not in names  # the partition key comes from the path only
        declared = read_external_table(_ddl_text(table)).columns
        assert names == [d.name for d in declared], table
        for column, declared_column in zip(columns, declared):
            assert _bigquery_type_of_parquet(column) == declared_column.type, f"{table}.{column.name}"
            # Requiredness lives in the Parquet schema: REQUIRED exactly where the contract says not nullable.
            assert (column.max_definition_level == 0) == (not TABLES[table].column(column.name).nullable), f"{table}.{column.name}"


# The analysts' queries and the ones lake commands run themselves (runs, compare) follow the same rules.
QUERY_FILES = sorted(SQL_DIR.glob("queries/*.sql")) + sorted(SQL_DIR.glob("commands/*.sql"))


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.relative_to(SQL_DIR).as_posix())
def test_every_query_says_what_it_answers_and_declares_its_parameters(path):
    text = path.read_text()
    name = path.stem
    query = parse_header(text, name)
    assert query.title.endswith("?"), "the first comment line asks the question the query answers"
    assert re.search(r"^-- Parameters:$", text, re.MULTILINE)
    assert set(query.params) == parameters_used(text, name)
    for param in query.params.values():
        assert param.description, f"@{param.name} has no description"
    # Readers see committed runs: queries use the views, never the lake_* external tables.
    tables = {(t.db, t.name) for t in sqlglot.parse_one(text, read="bigquery").find_all(exp.Table) if t.db}
    assert tables and tables <= {("execution", t) for t in TABLES}
