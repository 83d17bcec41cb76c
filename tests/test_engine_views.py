"""The local engine's fast views hold exactly the rows of the checked-in views, file-name condition and all."""

import shutil

import lake
from lake import layout
from lake.catalog.engine import SCHEMA, create_views, open_engine
from lake.synthetic import synthetic_run
from schemas import TABLES


def test_fast_views_equal_the_full_checked_in_views(tmp_path):
    lake.write_run(synthetic_run("kept", 300, 1), tmp_path)
    lake.write_run(synthetic_run("over", 200, 2), tmp_path)
    lake.write_run(synthetic_run("over", 250, 3), tmp_path, overwrite=True)  # a second generation
    lake.write_run(synthetic_run("gone", 100, 4), tmp_path)
    (tmp_path / layout.commit_key("gone")).unlink()  # uncommitted
    kept = tmp_path / layout.lake_key("kept", "fills")
    shutil.copy(kept, kept.with_name("part-00001.parquet"))  # a stray copy
    con = open_engine(tmp_path)
    con.execute("CREATE SCHEMA full_views")
    create_views(con, fast=False, schema="full_views")
    for name in TABLES:
        fast = con.sql(f"SELECT * FROM {SCHEMA}.{name} ORDER BY ALL").fetchall()
        full = con.sql(f"SELECT * FROM full_views.{name} ORDER BY ALL").fetchall()
        assert fast == full, name
    counts = dict(con.sql(f"SELECT run_id, COUNT(*) FROM {SCHEMA}.fills GROUP BY run_id").fetchall())
    assert counts == {"kept": 300, "over": 250}
