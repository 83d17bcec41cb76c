"""GoogleSQL's own analyzer (ZetaSQL, offline) types every shipped query and view as BigQuery would.

The `zetasql` package runs Google's GoogleSQL analyzer compiled to WebAssembly. With a catalog built
from the contract, it resolves each shipped query (and each view's SELECT over the external tables,
`_FILE_NAME` included) and gives every output column's type under BigQuery's rules. DuckDB's answers
on the smoke lake must carry exactly those types, column by column: what `lake bq-smoke` compares
first, checked here without BigQuery. Skipped when zetasql is not installed.
"""

from __future__ import annotations

import pytest

from lake.catalog import ddl, smoke
from lake.catalog.engine import open_engine, run_query
from schemas import TABLES
from sql import SQL_DIR
from tests.support.bigquery_ddl import googlesql_available, googlesql_catalog, googlesql_output_types

pytestmark = pytest.mark.skipif(not googlesql_available(), reason="zetasql (GoogleSQL's analyzer) is not installed")

PROJECT, DATASET = "lake-test-project", "execution"


@pytest.fixture(scope="module")
def catalog():
    return googlesql_catalog(PROJECT, DATASET)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    dest = tmp_path_factory.mktemp("googlesql-lake")
    smoke.write_smoke_lake(dest)
    c = open_engine(dest)
    yield c
    c.close()


@pytest.mark.parametrize("label, query, params", smoke.smoke_cases(), ids=[c[0] for c in smoke.smoke_cases()])
def test_duckdb_answers_have_the_types_googlesql_gives_every_shipped_query(label, query, params, catalog, con):
    text = smoke.bigquery_text(query, dataset=DATASET, project=PROJECT)
    expected = googlesql_output_types(text, {p.name: p.type for p in query.params.values()}, *catalog)
    answer = smoke.answer_from_arrow(run_query(con, query, params))
    assert list(zip(answer.columns, answer.types)) == expected


@pytest.mark.parametrize("table", list(TABLES))
def test_googlesql_resolves_every_view_over_the_external_tables(table, catalog):
    stmt = ddl.view_sql(TABLES[table], dataset=DATASET, project=PROJECT)
    columns = googlesql_output_types(stmt, {}, *catalog)
    assert columns == [*((c.name, c.kind.bigquery) for c in TABLES[table].physical_columns), ("run_id", "STRING")]
    assert (SQL_DIR / "views" / f"{table}.sql").exists()


def test_googlesql_catches_a_type_the_engines_disagree_on(catalog, con):
    """The check has teeth: an INT64 CASE that DuckDB types INTEGER, as holding_time's bucket was before its cast."""
    text = "-- q\n-- Parameters:\nSELECT CASE WHEN f.last_qty > 1 THEN 1 ELSE 0 END AS big FROM execution.fills AS f"
    query = smoke.load_query(text)
    expected = googlesql_output_types(smoke.bigquery_text(query, dataset=DATASET, project=PROJECT), {}, *catalog)
    assert expected == [("big", "INT64")]
    assert smoke.answer_from_arrow(run_query(con, query)).types == ("arrow:int32",)
