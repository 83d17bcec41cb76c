"""Destinations: one resolver, clear refusals, nothing written anywhere unexpected."""

import os
import time

import pytest

import lake
from lake.cli import main
from lake.errors import DestinationError
from lake.stores import default_dest, default_remote, resolve
from tests.conftest import files_under


@pytest.mark.parametrize("dest", [None, 123, 1.5, b"/tmp/x", ["a"], object()], ids=repr)
def test_write_run_refuses_what_is_not_a_destination(dest, small_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKE_DEST", str(tmp_path / "default"))
    if dest is None:  # None means the default lake: accepted, written there
        lake.write_run(small_run("to-default"), dest)
        assert "lake/runs/run_id=to-default/part-00000.parquet" in files_under(tmp_path / "default")
        return
    with pytest.raises(DestinationError, match="folder path or gs://bucket"):
        lake.write_run(small_run("odd-dest"), dest)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("dest", ["GS://execution-store-x/p", "gs:/bucket/p", "s3://bucket/p", "file:///tmp/x", "gcs://b"])
def test_urls_of_other_schemes_are_refused_not_taken_for_folders(dest, small_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DestinationError, match="unsupported destination"):
        lake.write_run(small_run("odd-url"), dest)
    assert files_under(tmp_path) == []  # no folder named 'GS:' or 's3:'


@pytest.mark.parametrize("dest", ["", "   ", "a\x00b"])
def test_empty_or_unprintable_destinations_are_refused(dest):
    with pytest.raises(DestinationError, match="empty or unprintable"):
        resolve(dest)


def test_the_resolver_gives_one_canonical_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("gs://execution-store-cefi-central-element-323112/team/lake/").url == (
        "gs://execution-store-cefi-central-element-323112/team/lake"
    )
    assert resolve("lakehouse").url == str(tmp_path / "lakehouse")
    monkeypatch.delenv("LAKE_DEST", raising=False)
    monkeypatch.delenv("EXECUTION_STORE_GCS_BUCKET", raising=False)
    assert default_dest() == "./lakehouse"
    assert default_remote() == "gs://execution-store-cefi-central-element-323112"
    with pytest.raises(DestinationError, match="market-data"):
        resolve("gs://market-data-tick-cefi-central-element-323112")
    with pytest.raises(DestinationError, match="unsafe prefix"):
        resolve("gs://execution-store-cefi-central-element-323112/a/../b")


def test_reading_gs_without_credentials_is_a_quick_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no gcloud application-default credentials either
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # no metadata server to ask
    started = time.monotonic()
    assert main(["runs", "--dest", "gs://execution-store-cefi-central-element-323112"]) == 2
    err = capsys.readouterr().err
    assert "credentials" in err.lower() and "Traceback" not in err
    assert time.monotonic() - started < 20, "a missing credential must not wait for network retries"
    assert os.environ["GOOGLE_APPLICATION_CREDENTIALS"].endswith("missing.json")
