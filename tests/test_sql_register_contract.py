"""Contract test of `lake register`: the BigQuery REST calls the real client makes.

No BigQuery emulator can create or query external tables, so this checks the
contract instead: google-cloud-bigquery's real Client talks to a local HTTP
server that answers like the BigQuery v2 REST API and records every call. The
test asserts the calls themselves: the dataset insert with its location, one
query job per DDL statement carrying exactly the generated statement, nothing
sent on a second run, and a clear error when BigQuery refuses a statement.
What BigQuery itself does with the DDL is not verified here (`lake bq-smoke` does; see docs/sql.md).
The recorder lives in tests/support/fake_bigquery.py (tests/test_bq_smoke.py uses it too).
"""

from __future__ import annotations

import pytest

from lake.catalog import bigquery as bq
from lake.cli import main
from tests.support.fake_bigquery import CREATE as _CREATE
from tests.support.fake_bigquery import PREFIX, PROJECT, client_for, fake_bigquery  # noqa: F401 (fixture)
from tests.support.fake_bigquery import writes as _writes

BUCKET = "execution-store-test"


def test_contract_first_register_creates_dataset_with_location_then_one_ddl_job_per_object(fake_bigquery):
    report = bq.register(client_for(fake_bigquery), bucket=f"gs://{BUCKET}/prod", location="EU")
    calls = fake_bigquery.take_calls()

    # The dataset: looked up, absent, inserted with its location.
    assert calls[0]["method"] == "GET" and calls[0]["path"] == f"{PREFIX}/projects/{PROJECT}/datasets/execution"
    assert calls[1]["method"] == "POST" and calls[1]["path"] == f"{PREFIX}/projects/{PROJECT}/datasets"
    assert calls[1]["body"]["datasetReference"] == {"projectId": PROJECT, "datasetId": "execution"}
    assert calls[1]["body"]["location"] == "EU"

    # Then one query job per statement, in order (external tables before the views that read them),
    # each carrying exactly the generated DDL, as standard SQL, in the dataset's location.
    expected = bq.statements(dataset="execution", lake_root=f"gs://{BUCKET}/prod", project=PROJECT)
    jobs = [c for c in _writes(calls) if c["path"].endswith("/jobs")]
    assert [j["body"]["configuration"]["query"]["query"] for j in jobs] == [s.sql for s in expected]
    for job in jobs:
        assert job["body"]["configuration"]["query"]["useLegacySql"] is False
        assert job["body"]["jobReference"]["location"] == "EU"
        assert job["body"]["jobReference"]["jobId"].startswith("lake_register_")
    assert len(jobs) == 10

    fills_ddl = next(s.sql for s in expected if s.name == "lake_fills")
    assert f"`{PROJECT}.execution.lake_fills`" in fills_ddl
    assert "WITH PARTITION COLUMNS (run_id STRING)" in fills_ddl
    assert f"uris = ['gs://{BUCKET}/prod/lake/fills/*']" in fills_ddl
    assert f"hive_partition_uri_prefix = 'gs://{BUCKET}/prod/lake/fills'" in fills_ddl

    # Each object is looked up, its job sent, and the job waited for (getQueryResults) before the
    # next object: a view is only created once the table it reads exists.
    sequence = [(c["method"], c["path"].split("/")[-2], c["path"].rsplit("/", 1)[-1]) for c in calls[2:]]
    for i, stmt in enumerate(expected):
        get_table, insert_job, wait = sequence[3 * i : 3 * i + 3]
        assert get_table == ("GET", "tables", stmt.name)
        assert insert_job[:2] == ("POST", PROJECT) and insert_job[2] == "jobs"
        assert wait[:2] == ("GET", "queries") and wait[2] == jobs[i]["body"]["jobReference"]["jobId"]
    assert len(sequence) == 3 * len(expected)

    assert [str(c) for c in report.changes][0] == f"dataset {PROJECT}.execution: created (location EU)"
    assert [c.action for c in report.changes[1:]] == ["created"] * 10
    assert report.changed


def test_contract_second_register_sends_nothing_and_says_so(fake_bigquery):
    client = client_for(fake_bigquery)
    bq.register(client, bucket=BUCKET, location="EU")
    fake_bigquery.take_calls()

    report = bq.register(client, bucket=BUCKET, location="EU")
    calls = fake_bigquery.take_calls()
    assert _writes(calls) == []  # no dataset insert, no job
    assert len(calls) == 1 + 10  # one GET for the dataset, one per table or view
    assert not report.changed
    assert {c.action for c in report.changes} == {"unchanged"}

    # Without --location the existing dataset's location is used for nothing-to-do runs too.
    report = bq.register(client, bucket=BUCKET)
    assert not report.changed and _writes(fake_bigquery.take_calls()) == []


def test_contract_changed_definition_replaces_only_that_object(fake_bigquery):
    client = client_for(fake_bigquery)
    bq.register(client, bucket=BUCKET, location="US")
    # An object whose definition differs (here: its fingerprint label) is replaced; the rest is left alone.
    fake_bigquery.tables["execution.lake_positions"]["labels"] = {bq.FINGERPRINT_LABEL: "0000000000000000"}
    del fake_bigquery.tables["execution.fills"]
    fake_bigquery.take_calls()

    report = bq.register(client, bucket=BUCKET)
    jobs = [c for c in _writes(fake_bigquery.take_calls()) if c["path"].endswith("/jobs")]
    sent = [_CREATE.search(j["body"]["configuration"]["query"]["query"]).group(2) for j in jobs]
    assert sent == [f"{PROJECT}.execution.lake_positions", f"{PROJECT}.execution.fills"]
    assert all(j["body"]["jobReference"]["location"] == "US" for j in jobs)
    actions = {c.object: c.action for c in report.changes}
    assert actions["external table execution.lake_positions"] == "replaced"
    assert actions["view execution.fills"] == "created"
    assert sum(a == "unchanged" for a in actions.values()) == 1 + 8

    # A different bucket changes every external table's fingerprint, but not the views'.
    report = bq.register(client, bucket="another-bucket")
    changed = sorted(c.object for c in report.changes if c.action == "replaced")
    assert changed == sorted(f"external table execution.lake_{t}" for t in ("orders", "fills", "positions", "equity_curve", "runs"))


def test_contract_missing_dataset_without_location_is_an_error_before_any_write(fake_bigquery):
    with pytest.raises(bq.RegistrationError, match="does not exist; pass --location"):
        bq.register(client_for(fake_bigquery), bucket=BUCKET)
    assert _writes(fake_bigquery.take_calls()) == []


def test_contract_dataset_in_another_location_is_an_error(fake_bigquery):
    bq.register(client_for(fake_bigquery), bucket=BUCKET, location="EU")
    fake_bigquery.take_calls()
    with pytest.raises(bq.RegistrationError, match="exists in location EU, not US"):
        bq.register(client_for(fake_bigquery), bucket=BUCKET, location="US")
    assert _writes(fake_bigquery.take_calls()) == []


def test_contract_rejected_statement_names_the_object(fake_bigquery):
    fake_bigquery.reject.add("lake_orders")
    with pytest.raises(bq.RegistrationError, match=r"execution\.lake_orders.*rejected DDL"):
        bq.register(client_for(fake_bigquery), bucket=BUCKET, location="EU")


def test_contract_bad_arguments_never_reach_the_api(fake_bigquery):
    client = client_for(fake_bigquery)
    for kwargs, message in [
        ({"bucket": "gs://Bad_Bucket"}, "invalid GCS bucket"),
        ({"bucket": "gs://ok-bucket/../x"}, "unsafe prefix"),
        ({"bucket": BUCKET, "dataset": "exec-ution"}, "invalid BigQuery dataset"),
        ({"bucket": BUCKET, "location": "EU'; DROP"}, "invalid BigQuery location"),
    ]:
        with pytest.raises(bq.RegistrationError, match=message):
            bq.register(client, **kwargs)
    assert fake_bigquery.take_calls() == []


def test_register_dry_run_prints_the_statements_and_calls_nothing(capsys):
    assert main(["register", "--project", PROJECT, "--bucket", f"gs://{BUCKET}/prod", "--location", "EU", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"CREATE SCHEMA IF NOT EXISTS `{PROJECT}.execution`\nOPTIONS (location = 'EU');" in out
    for stmt in bq.statements(lake_root=f"gs://{BUCKET}/prod", project=PROJECT):
        assert stmt.sql in out
    assert out.count("CREATE OR REPLACE EXTERNAL TABLE") == 5 and out.count("CREATE OR REPLACE VIEW") == 5


def test_register_defaults_to_the_execution_store_bucket(capsys, monkeypatch):
    monkeypatch.delenv("EXECUTION_STORE_GCS_BUCKET", raising=False)
    assert main(["register", "--project", PROJECT, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "uris = ['gs://execution-store-cefi-central-element-323112/lake/fills/*']" in out
    monkeypatch.setenv("EXECUTION_STORE_GCS_BUCKET", "market-data-tick-cefi-central-element-323112")
    assert main(["register", "--project", PROJECT, "--dry-run"]) == 2
    assert "execution-store-cefi-central-element-323112" in capsys.readouterr().err
