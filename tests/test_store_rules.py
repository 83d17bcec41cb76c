"""Store rules in detail: listing never creates anything, refused prefixes and failed deletes name the key and
the cause, and the GCS store's error text is the cause's first line."""

from __future__ import annotations

import time

import pytest

from lake.errors import DestinationError, StoreError
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
