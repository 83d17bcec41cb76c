"""GCSStore against fake-gcs-server: create-only puts, copies, conflicts, reads, the bucket guard, deadlines."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.api_core import exceptions as api

from tests.support.gcs_emulator import free_port
from lake.errors import DestinationError, LakeError, StoreError
from lake.stores import open_store
from lake.stores.base import ObjectExistsError, ObjectNotFoundError, PutOutcome
from lake.checksum import crc32c_b64
from lake.stores.destination import DEFAULT_BUCKET, check_results_bucket, default_bucket
from lake.stores.gcs import MULTIPART_LIMIT, GCSStore

PARQUET = "application/vnd.apache.parquet"


def test_put_creates_every_key_byte_exact_with_type_and_crc(gcs):
    store = GCSStore.from_url(gcs.url)
    data = os.urandom(100_000)
    keys = ["backtest_results/r1/fills.parquet", "lake/fills/run_id=r1/part-00000.parquet"]
    assert store.put(keys, data, PARQUET) == [PutOutcome.CREATED, PutOutcome.CREATED]

    bucket = gcs.client().bucket(gcs.bucket)
    for key in keys:
        blob = bucket.get_blob(key)
        assert blob.download_as_bytes() == data
        assert blob.content_type == PARQUET
        assert blob.crc32c == crc32c_b64(data)
        assert blob.size == len(data)
    assert store.get(keys[1]) == data
    assert sorted(gcs.objects()) == sorted(keys)


def test_put_again_keeps_identical_objects_untouched(gcs):
    store = GCSStore.from_url(gcs.url)
    keys = ["a/x.json", "b/x.json"]
    store.put(keys, b'{"a": 1}', "application/json")
    before = gcs.generations()
    assert store.put(keys, b'{"a": 1}', "application/json") == [PutOutcome.IDENTICAL] * 2
    assert gcs.generations() == before


def test_different_bytes_conflict_unless_overwrite(gcs):
    store = GCSStore.from_url(gcs.url)
    keys = ["s/x.log", "t/x.log"]
    store.put(keys, b"first", "text/plain")
    with pytest.raises(ObjectExistsError) as err:
        store.put(keys, b"second", "text/plain")
    assert err.value.key == "s/x.log"
    assert gcs.objects() == {"s/x.log": b"first", "t/x.log": b"first"}

    # Only the copy target differs: the upload is kept, the copy is the conflict.
    gcs.client().bucket(gcs.bucket).blob("t/x.log").upload_from_string(b"other")
    with pytest.raises(ObjectExistsError) as err:
        store.put(keys, b"first", "text/plain")
    assert err.value.key == "t/x.log"

    assert store.put(keys, b"second", "text/plain", overwrite=True) == [PutOutcome.REPLACED] * 2
    assert gcs.objects() == {"s/x.log": b"second", "t/x.log": b"second"}


def test_emulator_enforces_create_only_on_multipart_uploads_only(gcs):
    """The fact the README relies on, checked on this emulator build with the plain client."""
    bucket = gcs.client().bucket(gcs.bucket)
    bucket.blob("small").upload_from_string(b"one", if_generation_match=0)
    with pytest.raises(api.PreconditionFailed):
        bucket.blob("small").upload_from_string(b"two", if_generation_match=0)
    assert bucket.blob("small").download_as_bytes() == b"one"

    big = b"x" * (MULTIPART_LIMIT + 1)  # above the limit the client uploads resumably
    bucket.blob("big").upload_from_string(big, if_generation_match=0)
    bucket.blob("big").upload_from_string(b"y" * len(big), if_generation_match=0)  # not refused here
    assert bucket.blob("big").download_as_bytes(start=0, end=0) == b"y"

    bucket.copy_blob(bucket.blob("big"), bucket, "small", if_generation_match=0)  # nor on copies
    assert bucket.get_blob("small").size == len(big)


def test_large_objects_are_create_only_through_the_store(gcs):
    store = GCSStore.from_url(gcs.url)
    big = os.urandom(MULTIPART_LIMIT + 4096)
    keys = ["backtest_results/r/fills.parquet", "lake/fills/run_id=r/part-00000.parquet"]
    assert store.put(keys, big, PARQUET) == [PutOutcome.CREATED] * 2
    before = gcs.generations()
    assert store.put(keys, big, PARQUET) == [PutOutcome.IDENTICAL] * 2
    other = big[:-1] + bytes([big[-1] ^ 1])
    with pytest.raises(ObjectExistsError):
        store.put(keys, other, PARQUET)
    assert gcs.generations() == before
    assert all(v == big for v in gcs.objects().values())


def test_service_restart_during_a_large_upload_completes_it_once(fs_emulator):
    """Whatever the restart hits (session start, bytes in flight, the reply), the put finishes, once."""
    bucket = fs_emulator.create_bucket("restart-bucket")
    store = GCSStore(bucket, deadline=30, request_timeout=(1, 10))
    data = bytes(96 * 1024 * 1024 - 16) + os.urandom(16)

    def bounce():
        fs_emulator.kill()
        time.sleep(0.3)
        fs_emulator.start()

    timer = threading.Timer(0.1, bounce)
    timer.start()
    try:
        assert store.put(["lake/fills/run_id=r/part-00000.parquet"], data, PARQUET) in (
            [PutOutcome.CREATED],
            [PutOutcome.IDENTICAL],  # the first attempt had landed before its reply was lost
        )
    finally:
        timer.join()
    blobs = list(fs_emulator.client().list_blobs(bucket))
    assert [(b.name, b.size, b.crc32c) for b in blobs] == [
        ("lake/fills/run_id=r/part-00000.parquet", len(data), crc32c_b64(data))
    ]


def test_racing_writers_one_wins_the_rest_conflict_or_match(gcs):
    store = GCSStore.from_url(gcs.url)

    def put(i: int, same: bool):
        try:
            return store.put(["race/k.json" if not same else "same/k.json"], b"{}" if same else b"%d" % i, "application/json")[0]
        except ObjectExistsError:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        different = list(pool.map(lambda i: put(i, False), range(8)))
        same = list(pool.map(lambda i: put(i, True), range(8)))
    assert different.count(PutOutcome.CREATED) == 1 and different.count("conflict") == 7
    assert same.count(PutOutcome.CREATED) == 1 and same.count(PutOutcome.IDENTICAL) == 7
    winner = different.index(PutOutcome.CREATED)
    assert gcs.objects("race/") == {"race/k.json": b"%d" % winner}


def test_reads_list_exists_delete_under_a_prefix(gcs):
    store = open_store(f"{gcs.url}/team/lake/")
    assert isinstance(store, GCSStore) and store.url == f"{gcs.url}/team/lake"
    store.put(["lake/runs/run_id=a/part-00000.parquet"], b"A", PARQUET)
    store.put(["lake/runs/run_id=b/part-00000.parquet"], b"B", PARQUET)
    store.put(["logs/a/execution.log"], b"log", "text/plain")
    assert sorted(gcs.objects()) == [
        "team/lake/lake/runs/run_id=a/part-00000.parquet",
        "team/lake/lake/runs/run_id=b/part-00000.parquet",
        "team/lake/logs/a/execution.log",
    ]
    assert list(store.list("lake/runs/")) == [
        "lake/runs/run_id=a/part-00000.parquet",
        "lake/runs/run_id=b/part-00000.parquet",
    ]
    assert len(list(store.list(""))) == 3
    assert store.exists("logs/a/execution.log") and not store.exists("logs/b/execution.log")
    assert store.get("lake/runs/run_id=b/part-00000.parquet") == b"B"
    stat = store.stat("logs/a/execution.log")
    assert (stat.size, stat.crc32c, stat.content_type) == (3, crc32c_b64(b"log"), "text/plain")
    store.delete("logs/a/execution.log")
    store.delete("logs/a/execution.log")  # absent is fine
    assert not store.exists("logs/a/execution.log")
    with pytest.raises(ObjectNotFoundError):
        store.get("logs/a/execution.log")


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/b\n"])
def test_unsafe_keys_are_refused_before_any_request(gcs, key):
    with pytest.raises(DestinationError, match="unsafe key"):
        GCSStore.from_url(gcs.url).put([key], b"x", "text/plain")
    assert gcs.objects() == {}


def test_bucket_guard_names_the_results_bucket(monkeypatch):
    monkeypatch.delenv("EXECUTION_STORE_GCS_BUCKET", raising=False)
    for url in ("gs://market-data-tick-cefi-central-element-323112", "gs://market-data-anything/prefix"):
        with pytest.raises(DestinationError) as err:
            open_store(url)
        assert f"gs://{DEFAULT_BUCKET}" in str(err.value)
        assert "gs://results-central-element-3-backtest-cefi" in str(err.value)
    assert GCSStore.from_url("gs://results-central-element-3-backtest-cefi").bucket_name == (
        "results-central-element-3-backtest-cefi"
    )
    assert GCSStore().bucket_name == DEFAULT_BUCKET == default_bucket()
    monkeypatch.setenv("EXECUTION_STORE_GCS_BUCKET", "results-central-element-3-backtest-cefi")
    assert GCSStore().url == "gs://results-central-element-3-backtest-cefi"
    monkeypatch.setenv("EXECUTION_STORE_GCS_BUCKET", "market-data-tick-cefi-central-element-323112")
    with pytest.raises(DestinationError, match="market-data"):
        GCSStore()
    for bad in ("gs://", "gs://UPPER", "gs://a", "s3://bucket", "gs://b/../x"):
        with pytest.raises(DestinationError):
            GCSStore.from_url(bad)
    assert issubclass(DestinationError, LakeError)
    check_results_bucket("execution-store-cefi-central-element-323112")


def test_missing_bucket_is_a_destination_error(gcs):
    store = GCSStore("no-such-bucket-here")
    with pytest.raises(DestinationError, match="no-such-bucket-here"):
        store.put(["a.json"], b"{}", "application/json")


def test_unreachable_service_fails_within_the_deadline(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens
    store = GCSStore("execution-store-test", deadline=1.5, request_timeout=(1, 5))
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        store.put(["backtest_results/r/summary.json"], b"{}", "application/json")
    assert time.monotonic() - started < 10
    assert "gs://execution-store-test/backtest_results/r/summary.json" in str(err.value)
    assert "deadline" in str(err.value)


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("EXECUTION_STORE_GCS_DEADLINE", "7.5")
    monkeypatch.setenv("EXECUTION_STORE_GCS_CONCURRENCY", "3")
    store = GCSStore("execution-store-test")
    assert (store.deadline, store.max_concurrency) == (7.5, 3)
    assert GCSStore("execution-store-test", deadline=2, max_concurrency=5).max_concurrency == 5


def test_no_credentials_is_a_destination_error_naming_the_fix(monkeypatch, tmp_path):
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud ADC file
    monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{free_port()}")  # no metadata server
    monkeypatch.setenv("GCE_METADATA_IP", f"127.0.0.1:{free_port()}")
    with pytest.raises(DestinationError, match="Application Default Credentials"):
        GCSStore("execution-store-test").exists("backtest_results/r/summary.json")


def test_bad_settings_are_destination_errors(monkeypatch):
    monkeypatch.setenv("EXECUTION_STORE_GCS_DEADLINE", "two minutes")
    with pytest.raises(DestinationError, match="EXECUTION_STORE_GCS_DEADLINE"):
        GCSStore("execution-store-test")
    with pytest.raises(DestinationError, match="max_concurrency"):
        GCSStore("execution-store-test", deadline=5, max_concurrency=-1)
