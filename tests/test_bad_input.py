"""Bad input: a clear error naming what is wrong, and not one byte written.

The bad runs live in tests/support/bad_inputs.py, shared with check_run's agreement test (tests/test_check.py).
"""

import pytest

import lake
from lake.errors import InvalidRunIdError, LakeError, ValidationError
from tests.conftest import files_under
from tests.support.bad_inputs import (
    DOCUMENT_CASES,
    TABLE_CASES,
    column_twice_run,
    document_case_run,
    many_run,
    pandas_tables,
    table_case_run,
    wrong_kind_run,
)


@pytest.mark.parametrize("table, mutate, expected", TABLE_CASES)
def test_bad_table_is_rejected_before_a_byte_is_written(tmp_path, table, mutate, expected):
    run = table_case_run(table, mutate, "bad-run")
    dest = tmp_path / "dest"
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, dest)
    message = str(err.value)
    for text in expected:
        assert text in message, message
    assert "bad-run" in message
    assert files_under(dest) == []


def test_all_failures_of_all_tables_come_in_one_error(tmp_path):
    with pytest.raises(ValidationError) as err:
        lake.write_run(many_run("many"), tmp_path / "dest")
    assert {(f.table, f.column) for f in err.value.failures} >= {
        ("orders", "order_side"), ("fills", "commission"), ("positions", "peak_qty")
    }
    assert files_under(tmp_path / "dest") == []


def test_a_table_of_the_wrong_kind(tmp_path):
    with pytest.raises(ValidationError, match=r"fills \[type\].*got list"):
        lake.write_run(wrong_kind_run("kind"), tmp_path / "dest")
    assert files_under(tmp_path / "dest") == []


@pytest.mark.parametrize(
    "run_id",
    ["a/b", "..", ".", "a..b", "has space", "", "x" * 200, "-leading-dash", "run_id=1", "tab\t", "ünï", "a\\b", 42, None],
)
def test_bad_run_ids_are_rejected_before_anything_happens(run_id):
    tables, summary = pandas_tables()
    with pytest.raises(InvalidRunIdError) as err:
        lake.Run(run_id, summary, **tables)
    assert "run_id" in str(err.value)
    assert isinstance(err.value, LakeError)


def test_run_id_limits_are_inclusive():
    tables, summary = pandas_tables()
    for ok in ("a", "A" * 128, "2024-01-01T00.00.00_EMA-cross.v2", "0123"):
        assert lake.Run(ok, summary, **tables).run_id == ok
    with pytest.raises(InvalidRunIdError):
        lake.Run("A" * 129, summary, **tables)


@pytest.mark.parametrize("field, value, expected", DOCUMENT_CASES)
def test_bad_summary_config_or_log(tmp_path, field, value, expected):
    """Each value that cannot be written is named by its JSON path, all in one ValidationError."""
    with pytest.raises(ValidationError) as err:
        lake.write_run(document_case_run(field, value, "json-bad"), tmp_path / "dest")
    for text in expected:
        assert text in str(err.value), str(err.value)
    assert {f.table for f in err.value.failures} == {field}
    assert files_under(tmp_path / "dest") == []


def test_documents_and_tables_fail_together(tmp_path):
    tables, summary = pandas_tables()
    tables["fills"].drop(columns=["commission"], inplace=True)
    run = lake.Run("docs-and-tables", {**summary, "bad": object()}, **tables, config=[1], log=12)
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    assert {(f.table, f.column) for f in err.value.failures} == {
        ("summary", "bad"), ("config", None), ("log", None), ("fills", "commission")
    }
    assert "(4 problems); nothing was written:" in str(err.value)
    assert files_under(tmp_path / "dest") == []


def test_a_summary_that_contains_itself(tmp_path):
    tables, summary = pandas_tables()
    summary = dict(summary)
    summary["me"] = summary
    with pytest.raises(ValidationError, match=r"summary.me \[json\]: contains itself"):
        lake.write_run(lake.Run("loop", summary, **tables), tmp_path / "dest")


def test_text_that_is_not_utf8(tmp_path):
    tables, summary = pandas_tables()
    run = lake.Run("surrogate", {**summary, "note": "\ud800"}, **tables, log="bad \udfff")
    with pytest.raises(ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    assert {(f.table, f.check) for f in err.value.failures} == {("summary", "json"), ("log", "utf8")}


def test_a_column_given_twice(tmp_path):
    with pytest.raises(ValidationError, match=r"fills.trade_id \[duplicate_column\]: columns appear more than once: \['trade_id'\]"):
        lake.write_run(column_twice_run("dup-col"), tmp_path / "dest")
    assert files_under(tmp_path / "dest") == []
