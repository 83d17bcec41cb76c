"""Conflicts, overwrite, resume, secrets and the async API."""

import asyncio
import json

import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.stores import PutOutcome
from tests.conftest import files_under

SECRETS = {
    "api_key": "AKIA-LIVE-KEY-0001",
    "nested": {"api_secret": "s3cr3t-value-0002", "deeper": [{"password": "hunter2-0003"}]},
    "exchange": {"Passphrase": "pass-phrase-0004", "PRIVATE_KEY": "-----BEGIN KEY 0005", "token": "tok-0006"},
    "credentials": {"client_email": "svc@example.iam", "key": "credential-body-0007"},
}


def test_same_run_twice_keeps_every_object(tmp_path, small_run):
    first = lake.write_run(small_run("twice"), tmp_path)
    before = {k: (tmp_path / k).stat().st_mtime_ns for k in files_under(tmp_path)}
    second = lake.write_run(small_run("twice"), tmp_path)
    assert {o.outcome for o in first.objects} == {PutOutcome.CREATED}
    assert {o.outcome for o in second.objects} == {PutOutcome.IDENTICAL}
    assert second.created_at == first.created_at  # the manifest's, reused
    assert {k: (tmp_path / k).stat().st_mtime_ns for k in files_under(tmp_path)} == before


def test_different_content_is_a_conflict_and_changes_nothing(tmp_path, small_run):
    lake.write_run(small_run("conf", seed=1), tmp_path)
    before = {k: (tmp_path / k).read_bytes() for k in files_under(tmp_path)}
    with pytest.raises(lake.ConflictError) as err:
        lake.write_run(small_run("conf", seed=2), tmp_path)
    assert "conf" in str(err.value) and "overwrite=True" in str(err.value) and "fills.parquet" in str(err.value)
    assert {k: (tmp_path / k).read_bytes() for k in files_under(tmp_path)} == before


def test_overwrite_replaces_the_run_and_drops_what_it_no_longer_has(tmp_path, small_run):
    lake.write_run(small_run("ow", seed=1), tmp_path)
    assert (tmp_path / layout.log_key("ow")).exists()
    new = small_run("ow", seed=2)
    new = lake.Run(new.run_id, new.summary, *new.tables().values(), config=new.config, log=None)
    report = lake.write_run(new, tmp_path, overwrite=True)
    assert PutOutcome.REPLACED in {o.outcome for o in report.objects}
    assert not (tmp_path / layout.log_key("ow")).exists()
    runs = pq.read_table(tmp_path / layout.commit_key("ow")).to_pylist()[0]
    assert json.loads(runs["summary_json"])["seed"] == 2
    # The new generation's files, under the name the commit gives them; the old ones are gone.
    assert runs["data_file"] != layout.PART_FILE
    fills = pq.read_table(tmp_path / layout.lake_key("ow", "fills", runs["data_file"]))
    assert fills.column("last_px").to_pylist() == new.fills.column("last_px").to_pylist()
    assert not (tmp_path / layout.lake_key("ow", "fills")).exists()
    from lake.verify import verify_destination

    assert verify_destination(tmp_path).ok


def test_an_object_changed_under_a_run_is_a_conflict_even_without_manifest_change(tmp_path, small_run):
    """Someone replaced a data file by hand: the rerun notices instead of silently keeping it."""
    lake.write_run(small_run("tamper"), tmp_path)
    target = tmp_path / layout.spec_table_key("tamper", "orders")
    target.unlink()
    target.write_bytes(b"not parquet")
    with pytest.raises(lake.ConflictError, match="orders.parquet"):
        lake.write_run(small_run("tamper"), tmp_path)


def test_secrets_never_appear_in_any_written_byte(tmp_path, small_run):
    base = small_run("secrets")
    log = "\n".join(f"starting with {k}={v}" for k, v in SECRETS.items()) + f"\nkey {SECRETS['api_key']}\n"
    summary = {**base.summary, "exchange_config": {"api_key": SECRETS["api_key"]}}
    run = lake.Run("secrets", summary, *base.tables().values(), config={"strategy": {"fast": 10}, **SECRETS}, log=log)
    lake.write_run(run, tmp_path)
    values = ["AKIA-LIVE-KEY-0001", "s3cr3t-value-0002", "hunter2-0003", "pass-phrase-0004", "BEGIN KEY 0005",
              "tok-0006", "credential-body-0007", "svc@example.iam"]
    for key in files_under(tmp_path):
        data = (tmp_path / key).read_bytes()
        for value in values:
            assert value.encode() not in data, f"{value} leaked into {key}"
    config = json.loads((tmp_path / layout.config_key("secrets")).read_bytes())
    assert config["api_key"] == "***" and config["nested"]["deeper"][0]["password"] == "***"
    assert config["credentials"] == "***" and config["strategy"] == {"fast": 10}
    assert "starting with api_key=***" in (tmp_path / layout.log_key("secrets")).read_text()


def test_async_write_matches_sync_write(tmp_path, small_run):
    async def write_two():
        return await asyncio.gather(
            lake.write_run_async(small_run("async-a", seed=1), tmp_path / "a"),
            lake.write_run_async(small_run("async-b", seed=2), tmp_path / "a"),
        )

    reports = asyncio.run(write_two())
    assert [r.run_id for r in reports] == ["async-a", "async-b"]
    lake.write_run(small_run("async-a", seed=1), tmp_path / "s")
    for key in layout.run_keys("async-a"):
        if key in (layout.manifest_key("async-a"), layout.commit_key("async-a")):
            continue  # these carry created_at
        assert (tmp_path / "a" / key).read_bytes() == (tmp_path / "s" / key).read_bytes()


def test_write_run_rejects_things_that_are_not_runs(tmp_path):
    with pytest.raises(lake.LakeError, match="expects a lake.Run"):
        lake.write_run({"run_id": "x"}, tmp_path)


def test_a_destination_that_cannot_be_written_is_a_clear_lake_error(tmp_path, small_run):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the lake should be")
    with pytest.raises(lake.DestinationError, match="not-a-folder as a lake: it is a file"):
        lake.write_run(small_run("blocked"), blocker)
    assert blocker.read_text() == "a file where the lake should be"
