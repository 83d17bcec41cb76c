"""Contract test of `lake register`: the BigQuery REST calls the real client makes.

No BigQuery emulator can create or query external tables, so this checks the
contract instead: google-cloud-bigquery's real Client talks to a local HTTP
server that answers like the BigQuery v2 REST API and records every call. The
test asserts the calls themselves: the dataset insert with its location, one
query job per DDL statement carrying exactly the generated statement, nothing
sent on a second run, and a clear error when BigQuery refuses a statement.
What BigQuery itself does with the DDL is not verified here (`lake bq-smoke` does; see docs/sql.md).
With a connection (`lake register --connection`): BigLake tables, then their metadata caches filled, and
`lake refresh`: one CALL BQ.REFRESH_EXTERNAL_METADATA_CACHE job per table, every data table before lake_runs,
each waited for before the next; a refused or failing refresh never reaches lake_runs.
The recorder lives in tests/support/fake_bigquery.py (tests/test_bq_smoke.py uses it too).
"""

from __future__ import annotations

import pytest

from lake.catalog import bigquery as bq
from lake.catalog.ddl import BigLake
from lake.cli import main
from schemas import TABLES
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


# --- BigLake tables (--connection) and their metadata caches (lake refresh) ----------------------------------

CONNECTION = f"{PROJECT}.eu.lake-connection"
BIGLAKE = BigLake(CONNECTION, staleness_minutes=4 * 60)


def _jobs(calls: list[dict]) -> list[str]:
    return [c["body"]["configuration"]["query"]["query"] for c in _writes(calls) if c["path"].endswith("/jobs")]


def _refresh_calls(tables, project=PROJECT, dataset="execution") -> list[str]:
    return [f"CALL BQ.REFRESH_EXTERNAL_METADATA_CACHE('{project}.{dataset}.{t}');" for t in tables]


def test_contract_register_with_a_connection_creates_biglake_tables_then_fills_their_caches_data_first(fake_bigquery):
    report = bq.register(client_for(fake_bigquery), bucket=f"gs://{BUCKET}/prod", location="EU", biglake=BIGLAKE, retry_delays=())
    calls = fake_bigquery.take_calls()
    expected = bq.statements(dataset="execution", lake_root=f"gs://{BUCKET}/prod", project=PROJECT, biglake=BIGLAKE)
    order = ["lake_orders", "lake_fills", "lake_positions", "lake_equity_curve", "lake_runs"]
    # The ten DDL statements, then one refresh per external table: every data table before lake_runs.
    assert _jobs(calls) == [s.sql for s in expected] + _refresh_calls(order)
    fills = next(s.sql for s in expected if s.name == "lake_fills")
    assert f"WITH PARTITION COLUMNS (run_id STRING)\nWITH CONNECTION `{CONNECTION}`\nOPTIONS (" in fills
    assert "  max_staleness = INTERVAL 4 HOUR,\n  metadata_cache_mode = 'MANUAL',\n" in fills
    # Each refresh is a job in the dataset's location, waited for before the next is sent.
    inserts = [i for i, c in enumerate(calls) if c["method"] == "POST" and c["path"].endswith("/jobs")][-5:]
    for i in inserts:
        job = calls[i]["body"]
        assert job["jobReference"]["location"] == "EU" and job["jobReference"]["jobId"].startswith("lake_refresh_")
        assert calls[i + 1]["method"] == "GET" and calls[i + 1]["path"].endswith(f"/queries/{job['jobReference']['jobId']}")
    assert [t for t, _ in fake_bigquery.refreshes] == [f"{PROJECT}.execution.{t}" for t in order]
    assert report.refreshed == order
    # BigQuery's table resources carry the connection and the cache settings the DDL named.
    resource = fake_bigquery.tables["execution.lake_fills"]
    assert resource["externalDataConfiguration"]["connectionId"] == CONNECTION
    assert resource["externalDataConfiguration"]["metadataCacheMode"] == "MANUAL"
    assert resource["externalDataConfiguration"]["hivePartitioningOptions"]["sourceUriPrefix"] == f"gs://{BUCKET}/prod/lake/fills"
    assert resource["maxStaleness"] == "INTERVAL 4 HOUR"

    # A second register changes nothing, so it refreshes nothing.
    report = bq.register(client_for(fake_bigquery), bucket=f"gs://{BUCKET}/prod", biglake=BIGLAKE, retry_delays=())
    assert _writes(fake_bigquery.take_calls()) == [] and not report.changed and report.refreshed == []


def test_contract_switching_to_biglake_replaces_the_five_external_tables_not_the_views(fake_bigquery):
    client = client_for(fake_bigquery)
    bq.register(client, bucket=BUCKET, location="EU")
    fake_bigquery.take_calls()
    report = bq.register(client, bucket=BUCKET, biglake=BIGLAKE, retry_delays=())
    replaced = [c.object for c in report.changes if c.action == "replaced"]
    assert replaced == [f"external table execution.lake_{t}" for t in ("orders", "fills", "positions", "equity_curve", "runs")]
    assert sum(c.action == "unchanged" for c in report.changes) == 1 + 5  # the dataset and the views
    jobs = _jobs(fake_bigquery.take_calls())
    assert len(jobs) == 5 + 5 and jobs[5:] == _refresh_calls(bq.REFRESH_ORDER)
    # And back: plain external tables again, no refresh (their files are listed at query time).
    report = bq.register(client, bucket=BUCKET)
    jobs = _jobs(fake_bigquery.take_calls())
    assert len(jobs) == 5 and not any(j.startswith("CALL") for j in jobs) and report.refreshed == []
    assert "metadataCacheMode" not in fake_bigquery.tables["execution.lake_runs"]["externalDataConfiguration"]


def test_contract_a_connection_in_another_location_is_refused_before_any_write(fake_bigquery):
    with pytest.raises(bq.RegistrationError, match=r"connection .*\.eu\.lake-connection is in location eu, dataset .* in US"):
        bq.register(client_for(fake_bigquery), bucket=BUCKET, location="US", biglake=BIGLAKE)
    bq.register(client_for(fake_bigquery), bucket=BUCKET, location="US")
    fake_bigquery.take_calls()
    with pytest.raises(bq.RegistrationError, match="in location eu, dataset .* in US"):
        bq.register(client_for(fake_bigquery), bucket=BUCKET, biglake=BIGLAKE)
    assert _writes(fake_bigquery.take_calls()) == []


@pytest.mark.parametrize(
    "connection, staleness, message",
    [
        ("lake-connection", None, "expected PROJECT.LOCATION.CONNECTION"),
        ("eu.lake-connection", None, "expected PROJECT.LOCATION.CONNECTION"),
        (f"{PROJECT}.eu.conn`; DROP", None, "invalid BigQuery connection"),
        (CONNECTION, "10m", "30 minutes to 7 days"),
        (CONNECTION, "8d", "30 minutes to 7 days"),
        (CONNECTION, "soon", "expected minutes, hours or days"),
        (None, "4h", "--max-staleness needs --connection"),
    ],
)
def test_biglake_arguments_are_checked(connection, staleness, message):
    with pytest.raises(bq.RegistrationError, match=message):
        bq.biglake_form(connection, staleness)


def test_biglake_staleness_is_written_in_its_largest_whole_unit():
    assert [bq.biglake_form(CONNECTION, s).max_staleness for s in ("30m", "90 minutes", "4h", "24h", "1d", "7 days")] == [
        "INTERVAL 30 MINUTE", "INTERVAL 90 MINUTE", "INTERVAL 4 HOUR", "INTERVAL 1 DAY", "INTERVAL 1 DAY", "INTERVAL 7 DAY",
    ]  # fmt: skip
    assert bq.biglake_form(CONNECTION).max_staleness == "INTERVAL 1 DAY"
    assert bq.biglake_form("example.com:my-proj.us.c_1").connection == "example.com:my-proj.us.c_1"  # a domain-scoped project


def _registered_biglake(fake_bigquery, bucket=f"gs://{BUCKET}/prod"):
    bq.register(client_for(fake_bigquery), bucket=bucket, location="EU", biglake=BIGLAKE, retry_delays=())
    fake_bigquery.take_calls()
    fake_bigquery.refreshes.clear()


def test_contract_refresh_refreshes_every_cache_data_tables_first(fake_bigquery):
    _registered_biglake(fake_bigquery)
    lines = []
    report = bq.refresh(client_for(fake_bigquery), echo=lines.append)
    assert _jobs(fake_bigquery.take_calls()) == _refresh_calls(bq.REFRESH_ORDER)
    assert bq.REFRESH_ORDER[-1] == "lake_runs" and sorted(bq.REFRESH_ORDER[:-1]) == sorted(f"lake_{t}" for t in TABLES if t != "runs")
    assert report.tables == list(bq.REFRESH_ORDER) and report.run_ids is None
    assert lines == [f"metadata cache of execution.{t}: refreshed" for t in bq.REFRESH_ORDER]


def test_contract_refresh_of_chosen_runs_names_their_folders_under_each_tables_own_prefix(fake_bigquery):
    _registered_biglake(fake_bigquery, bucket=f"gs://{BUCKET}/team/lake-1")
    bq.refresh(client_for(fake_bigquery), run_ids=["r-2", "0042", "r-2"])
    assert fake_bigquery.refreshes == [
        (f"{PROJECT}.execution.{t}", [f"gs://{BUCKET}/team/lake-1/lake/{t[5:]}/run_id={r}/*" for r in ("0042", "r-2")])
        for t in bq.REFRESH_ORDER
    ]
    # Many runs: several calls per table, still every data table before lake_runs.
    fake_bigquery.refreshes.clear()
    many = [f"run-{i:04d}" for i in range(bq.RUNS_PER_REFRESH + 1)]
    bq.refresh(client_for(fake_bigquery), run_ids=many)
    tables = [t.rsplit(".", 1)[1] for t, _ in fake_bigquery.refreshes]
    assert tables == [t for t in bq.REFRESH_ORDER for _ in range(2)]
    assert sum(len(uris) for _, uris in fake_bigquery.refreshes) == 5 * len(many)


def test_contract_refresh_refuses_plain_external_tables_and_refreshes_nothing(fake_bigquery):
    client = client_for(fake_bigquery)
    with pytest.raises(bq.RefreshError, match="does not exist: run `lake register` first"):
        bq.refresh(client)
    bq.register(client, bucket=BUCKET, location="EU")
    fake_bigquery.take_calls()
    with pytest.raises(bq.RefreshError, match=r"nothing refreshed: execution\.lake_orders is not a BigLake table .*--connection"):
        bq.refresh(client)
    assert _writes(fake_bigquery.take_calls()) == []
    with pytest.raises(bq.RefreshError, match="invalid run_id"):
        bq.refresh(client, run_ids=["../x"])


def test_contract_a_refresh_that_fails_is_retried_then_stops_before_lake_runs(fake_bigquery):
    _registered_biglake(fake_bigquery)
    client = client_for(fake_bigquery)
    # BigQuery lets one of concurrent refreshes win: the loser is retried and succeeds.
    fake_bigquery.refresh_failures["lake_fills"] = 1
    report = bq.refresh(client, retry_delays=(0,))
    assert report.tables == list(bq.REFRESH_ORDER)
    assert _jobs(fake_bigquery.take_calls()).count(_refresh_calls(["lake_fills"])[0]) == 2
    # A refresh that keeps failing: the error names the table, and lake_runs is not refreshed.
    fake_bigquery.refreshes.clear()
    fake_bigquery.refresh_failures["lake_positions"] = 3
    with pytest.raises(bq.RefreshError, match=r"(?s)lake_positions failed: .*Another metadata cache refresh.*Refreshed before it: lake_orders, lake_fills; lake_runs is refreshed last"):
        bq.refresh(client, retry_delays=(0, 0))
    assert [t.rsplit(".", 1)[1] for t, _ in fake_bigquery.refreshes] == ["lake_orders", "lake_fills"]


def test_refresh_dry_run_prints_the_calls_in_order_and_calls_nothing(capsys):
    assert main(["refresh", "--project", PROJECT, "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == _refresh_calls(bq.REFRESH_ORDER)
    assert main(["refresh", "--project", PROJECT, "--dry-run", "--run", "b", "--run", "a", "--bucket", f"gs://{BUCKET}/p"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines[0] == (
        f"CALL BQ.REFRESH_EXTERNAL_METADATA_CACHE('{PROJECT}.execution.lake_orders', "
        f"['gs://{BUCKET}/p/lake/orders/run_id=a/*', 'gs://{BUCKET}/p/lake/orders/run_id=b/*']);"
    )
    assert [line.split("'")[1] for line in lines] == [f"{PROJECT}.execution.{t}" for t in bq.REFRESH_ORDER]


def test_register_dry_run_with_a_connection_prints_biglake_tables_then_the_refreshes(capsys):
    args = ["register", "--project", PROJECT, "--bucket", f"gs://{BUCKET}/prod", "--connection", CONNECTION, "--max-staleness", "4h"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    for stmt in bq.statements(lake_root=f"gs://{BUCKET}/prod", project=PROJECT, biglake=BIGLAKE):
        assert stmt.sql in out
    assert out.count(f"WITH CONNECTION `{CONNECTION}`") == 5
    assert out.rstrip().splitlines()[-5:] == _refresh_calls(bq.REFRESH_ORDER)
    assert main(["register", "--project", PROJECT, "--connection", "nope", "--dry-run"]) == 2
    assert "expected PROJECT.LOCATION.CONNECTION" in capsys.readouterr().err
