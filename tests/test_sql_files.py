"""The checked-in SQL: it parses as BigQuery SQL, it matches schemas/, and its types match the Parquet files."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from lake import layout
from lake.catalog import ddl
from lake.catalog.translate import parameters_used, parse_bigquery, parse_header, shipped_queries
from lake.write import write_run
from schemas import TABLES
from sql import SQL_DIR
from tests.sql_lake import alpha

PARTITION_CLAUSE = "WITH PARTITION COLUMNS (run_id STRING)\n"
ALL_SQL = sorted(SQL_DIR.glob("*/*.sql"))


def test_the_expected_files_are_there():
    names = {p.relative_to(SQL_DIR).as_posix() for p in ALL_SQL}
    for t in TABLES:
        assert f"ddl/{t}.sql" in names and f"views/{t}.sql" in names
    assert set(shipped_queries()) >= {"leaderboard", "run_vs_run", "slippage_commission", "equity_daily", "holding_time"}


def _strict_parse(text: str, name: str) -> list[exp.Expression]:
    """sqlglot falls back to an opaque Command on syntax it does not know; here that is a failure."""
    return parse_bigquery(text, name)


@pytest.mark.parametrize("path", ALL_SQL, ids=lambda p: p.relative_to(SQL_DIR).as_posix())
def test_every_sql_file_parses_as_bigquery(path):
    text = path.read_text()
    if path.parent.name == "ddl":
        # sqlglot does not model WITH PARTITION COLUMNS: check that clause textually, parse the rest strictly.
        assert text.count(PARTITION_CLAUSE) == 1
        text = text.replace(PARTITION_CLAUSE, "")
    statements = _strict_parse(text, path.name)
    assert len(statements) == 1
    assert isinstance(statements[0], (exp.Create, exp.Select, exp.Query))


def test_ddl_and_views_do_not_drift_from_schemas():
    assert ddl.drifted_files(SQL_DIR) == [], "run `lake sql generate` and commit sql/ddl and sql/views"


def test_drift_is_detected(tmp_path):
    ddl.write_generated_files(tmp_path)
    assert ddl.drifted_files(tmp_path) == []
    fills_ddl = tmp_path / "ddl" / "fills.sql"
    fills_ddl.write_text(fills_ddl.read_text().replace("last_px NUMERIC NOT NULL", "last_px FLOAT64 NOT NULL"))
    (tmp_path / "views" / "stale.sql").write_text("SELECT 1;\n")
    assert ddl.drifted_files(tmp_path) == ["ddl/fills.sql", "views/stale.sql"]


def _ddl_columns(table: str) -> list[tuple[str, str, bool, str]]:
    """(name, BigQuery type, NOT NULL, description) of the checked-in DDL, as sqlglot parses it."""
    text = (SQL_DIR / "ddl" / f"{table}.sql").read_text().replace(PARTITION_CLAUSE, "")
    create = _strict_parse(text, table)[0]
    out = []
    for col in create.this.expressions:
        not_null = any(isinstance(c.kind, exp.NotNullColumnConstraint) for c in col.constraints)
        desc = [
            p.args["value"].this
            for c in col.constraints
            if isinstance(c.kind, exp.Properties)
            for p in c.kind.expressions
            if p.name == "description"
        ]
        out.append((col.name, col.args["kind"].sql(dialect="bigquery"), not_null, desc[0]))
    return out


@pytest.mark.parametrize("table", list(TABLES))
def test_ddl_columns_are_the_contract(table):
    expected = [
        (c["name"], c["type"], c["mode"] == "REQUIRED", c["description"]) for c in TABLES[table].bigquery_columns()
    ]
    assert _ddl_columns(table) == expected
    text = (SQL_DIR / "ddl" / f"{table}.sql").read_text()
    assert f"uris = ['gs://{{bucket}}/lake/{table}/*']" in text
    assert f"hive_partition_uri_prefix = 'gs://{{bucket}}/lake/{table}'" in text
    assert "format = 'PARQUET'" in text and "require_hive_partition_filter = false" in text


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
        declared = _ddl_columns(table)
        assert names == [d[0] for d in declared], table
        for column, (name, bq_type, not_null, _) in zip(columns, declared):
            assert _bigquery_type_of_parquet(column) == bq_type, f"{table}.{name}"
            # REQUIRED in Parquet exactly where the DDL says NOT NULL.
            assert (column.max_definition_level == 0) == not_null, f"{table}.{name}"


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
