"""Store rules in detail: listing never creates anything, refused prefixes and failed deletes name the key and
the cause, and the GCS store's error text is the cause's first line."""

from __future__ import annotations

import errno
import os
import time

import pytest

from lake.errors import DestinationError, StoreError
import lake.stores.local as local_module
from lake.stores import LocalStore
from lake.stores.gcs import GCSStore, _short
from tests.support.gcs_emulator import free_port


def test_listing_a_missing_folder_creates_nothing(tmp_path):
    store = LocalStore(tmp_path / "absent")
    assert list(store.list("lake/fills/")) == [] and list(store.list("")) == []
    assert not (tmp_path / "absent").exists()
    store.put(["lake/a.txt"], b"a", "text/plain")
    assert list(store.list("lake/fills/")) == [] and not (tmp_path / "absent" / "lake" / "fills").exists()
    assert list(store.list("lake/")) == ["lake/a.txt"]


@pytest.mark.parametrize("prefix", ["../x", "a//b", "/abs", ".tmp/x"])
def test_an_unsafe_prefix_is_named_as_a_prefix(tmp_path, prefix):
    store = LocalStore(tmp_path)
    with pytest.raises(DestinationError, match=rf"^unsafe prefix '{prefix.rstrip('/')}' for {tmp_path}$"):
        list(store.list(prefix))


def test_an_error_is_shown_by_its_type_and_first_line():
    assert _short(ValueError("first line\nsecond line")) == "ValueError: first line"
    assert _short(ValueError("   ")) == "ValueError"
    assert _short(OSError("x" * 400)) == "OSError: " + "x" * 300


def test_a_delete_on_an_unreachable_service_names_the_object_and_gives_up_at_the_deadline(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens
    store = GCSStore("execution-store-test", "team", deadline=1.5, request_timeout=(1, 5))
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        store.delete("backtest_results/r/summary.json")
    assert time.monotonic() - started < 10
    assert str(err.value).startswith("delete gs://execution-store-test/team/backtest_results/r/summary.json failed: "
                                     "gave up after the 1.5s retry deadline (last error: ")


def _failing(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def test_simulated_failures_of_exists_and_of_the_temp_folder_say_what_and_why(tmp_path, monkeypatch):
    """Simulated (the store's os calls fail): each a StoreError naming the operation, the key and the cause."""
    store = LocalStore(tmp_path)
    store.put(["lake/a.bin"], b"a", "x")
    monkeypatch.setattr(local_module.os, "stat", _failing(errno.EACCES))
    with pytest.raises(StoreError, match=rf"^cannot check 'lake/a.bin' in {tmp_path}: Permission denied \[errno 13\]$"):
        store.exists("lake/a.bin")
    monkeypatch.undo()
    monkeypatch.setattr(local_module.os, "scandir", _failing(errno.EIO))
    with pytest.raises(StoreError, match=rf"^cannot list '.tmp' in {tmp_path}: Input/output error \[errno 5\]$"):
        store.leftover_temp_files()


def test_a_read_only_filesystem_is_named_as_such(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    monkeypatch.setattr(local_module.os, "link", _failing(errno.EROFS))
    with pytest.raises(StoreError) as err:
        store.put(["lake/a.bin"], b"a", "x")
    assert str(err.value) == (f"cannot write 'lake/a.bin' in {tmp_path}: Read-only file system (the folder is read-only) "
                              f"[errno {errno.EROFS}]")


def test_gcs_settings_bounds_and_defaults():
    assert GCSStore("execution-store-test", max_concurrency=1, deadline=5).max_concurrency == 1
    with pytest.raises(DestinationError, match=r"max_concurrency \(-1\) must be >= 1"):
        GCSStore("execution-store-test", max_concurrency=-1, deadline=5)
    with pytest.raises(DestinationError, match=r"deadline \(-1.0\) > 0"):
        GCSStore("execution-store-test", deadline=-1)
    assert GCSStore("execution-store-test", deadline=5).request_timeout == (10.0, 120.0)


def test_gcs_errors_name_the_operation_and_the_object(gcs, monkeypatch):
    store = GCSStore("no-such-bucket-here", "team")
    with pytest.raises(DestinationError, match=r"^swap gs://no-such-bucket-here/team/a/b.json: not found; does the bucket"):
        store.swap("a/b.json", b"{}", "application/json", expect=None)
    with pytest.raises(DestinationError, match=r"^list gs://no-such-bucket-here/team/a/: not found; does the bucket"):
        list(store.list("a/"))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens
    unreachable = GCSStore("execution-store-test", "team", deadline=1.5, request_timeout=(1, 5))
    with pytest.raises(StoreError, match=r"^stat gs://execution-store-test/team/a/b.json failed: gave up after the 1.5s"):
        unreachable.stat("a/b.json")


@pytest.mark.parametrize("operation", ["get", "list", "delete"])
def test_gcs_reads_and_deletes_retry_through_a_service_restart(fs_emulator, operation):
    """The service goes away and comes back after a second: each operation retries within its deadline."""
    import threading

    bucket = fs_emulator.create_bucket()
    store = GCSStore(bucket, "team", deadline=20, request_timeout=(1, 5))
    store.put(["a/b.json"], b'{"x": 1}', "application/json")
    fs_emulator.kill()
    timer = threading.Timer(1.0, fs_emulator.start)
    timer.start()
    try:
        if operation == "get":
            assert store.get("a/b.json") == b'{"x": 1}'
        elif operation == "list":
            assert list(store.list("a/")) == ["a/b.json"]
        else:
            store.delete("a/b.json")
            assert not store.exists("a/b.json")
    finally:
        timer.join()
