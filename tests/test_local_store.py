"""LocalStore under attack: racing writers, links out of the store, a full disk, a read-only folder, odd keys.

Full disk and read-only are tested for real where the sandbox lets root mount a
small tmpfs (and remount it, or a bind of one folder, read-only); chmod does not
stop root. Where mounting is impossible those tests skip with the reason, and
the simulated tests below (os functions failing with ENOSPC/EROFS/EXDEV inside
the store's calls) cover the same paths everywhere.
"""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import subprocess
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from lake.errors import DestinationError, LakeError, StoreError
from lake.stores import LocalStore, ObjectChangedError, ObjectExistsError, ObjectNotFoundError, PutOutcome
from lake.stores import local as local_module

KEY = "lake/runs/run_id=r/part-00000.parquet"


def temp_files(root: Path) -> list[str]:
    tmp = root / ".tmp"
    return sorted(p.name for p in tmp.iterdir() if p.is_file()) if tmp.is_dir() else []


# -- 1. compare-and-swap -------------------------------------------------------------------------


def _swap_worker(root: str, key: str, me: bytes, barrier, trials: int, results) -> None:
    store = LocalStore(root)
    for trial in range(trials):
        barrier.wait()  # the main process has reset the key to b"base"
        try:
            store.swap(key, me + b"-%d" % trial, "application/octet-stream", expect=b"base" if trial % 2 else None)
            results.put((trial, me, "won"))
        except ObjectChangedError:
            results.put((trial, me, "changed"))
        except Exception as exc:  # reported, so the main process fails with it
            results.put((trial, me, f"{type(exc).__name__}: {exc}"))
        barrier.wait()  # the main process checks before the next reset


def test_swap_race_across_processes_has_exactly_one_winner(tmp_path):
    """N processes swap one key from the same expected state (odd trials: the same bytes; even: absent)."""
    n, trials = 6, 30
    store = LocalStore(tmp_path)
    ctx = mp.get_context("spawn")  # no fork of a process that runs Arrow threads
    barrier = ctx.Barrier(n + 1, timeout=120)
    results = ctx.Queue()
    names = [b"writer-%d" % i for i in range(n)]
    procs = [ctx.Process(target=_swap_worker, args=(str(tmp_path), KEY, me, barrier, trials, results)) for me in names]
    for p in procs:
        p.start()
    winners_per_trial = []
    try:
        for trial in range(trials):
            if trial % 2:
                store.put([KEY], b"base", "application/octet-stream", overwrite=True)
            else:
                store.delete(KEY)
            barrier.wait()
            got = [results.get(timeout=120) for _ in range(n)]
            barrier.wait()
            assert all(t == trial for t, _, _ in got)
            odd = [r for r in got if r[2] not in ("won", "changed")]
            assert not odd, odd
            winners = [me for _, me, outcome in got if outcome == "won"]
            winners_per_trial.append(len(winners))
            assert len(winners) == 1, (trial, got)
            assert (tmp_path / KEY).read_bytes() == winners[0] + b"-%d" % trial
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    assert winners_per_trial == [1] * trials
    assert all(p.exitcode == 0 for p in procs)
    assert temp_files(tmp_path) == []


def test_swap_race_across_threads_has_exactly_one_winner(tmp_path):
    store = LocalStore(tmp_path)
    for trial in range(30):
        store.put([KEY], b"base", "x", overwrite=True)
        barrier = threading.Barrier(8)
        outcomes: list[bytes] = []

        def attempt(me: bytes) -> None:
            barrier.wait()
            try:
                store.swap(KEY, me, "x", expect=b"base")
                outcomes.append(me)
            except ObjectChangedError:
                pass

        threads = [threading.Thread(target=attempt, args=(b"t%d" % i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outcomes) == 1 and (tmp_path / KEY).read_bytes() == outcomes[0]


def test_swap_semantics(tmp_path):
    store = LocalStore(tmp_path)
    store.swap(KEY, b"one", "x", expect=None)
    with pytest.raises(ObjectChangedError, match="already exists") as err:
        store.swap(KEY, b"two", "x", expect=None)
    assert err.value.key == KEY and isinstance(err.value, LakeError)
    with pytest.raises(ObjectChangedError, match="other bytes"):
        store.swap(KEY, b"two", "x", expect=b"not one")
    assert store.get(KEY) == b"one"
    store.swap(KEY, b"two", "x", expect=b"one")
    assert store.get(KEY) == b"two"
    store.delete(KEY)
    with pytest.raises(ObjectChangedError, match="does not exist"):
        store.swap(KEY, b"three", "x", expect=b"two")
    assert not store.exists(KEY) and temp_files(tmp_path) == []
    # A create-only put that lands first is never overwritten by a swap expecting nothing.
    store.put([KEY], b"put", "x")
    with pytest.raises(ObjectChangedError):
        store.swap(KEY, b"swap", "x", expect=None)
    assert store.get(KEY) == b"put"


# -- 2. links out of the store -----------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "victim.parquet").write_bytes(b"precious")
    return out


def _store(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "lake-root")


@pytest.mark.parametrize(
    "link",
    ["lake", "lake/fills", "lake/fills/run_id=A", ".tmp"],
    ids=["top", "table", "partition", "tempdir"],
)
def test_put_never_writes_through_a_symlinked_folder(tmp_path, outside, link):
    store = _store(tmp_path)
    store.put(["lake/orders/run_id=A/part-00000.parquet"], b"ok", "x")  # makes the root and .tmp
    target = store.root / link
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.rename(target, tmp_path / f"moved-{uuid.uuid4().hex}")
    target.symlink_to(outside, target_is_directory=True)
    key = "lake/fills/run_id=A/part-00000.parquet"
    for call in (
        lambda: store.put([key], b"evil", "x"),
        lambda: store.put([key], b"evil", "x", overwrite=True),
        lambda: store.swap(key, b"evil", "x", expect=None),
    ):
        with pytest.raises(DestinationError, match="symbolic link"):
            call()
    assert sorted(p.name for p in outside.rglob("*")) == ["victim.parquet"]
    assert (outside / "victim.parquet").read_bytes() == b"precious"


def test_a_symlink_at_the_key_is_refused_by_reads_and_writes(tmp_path, outside):
    store = _store(tmp_path)
    key = "lake/fills/run_id=A/part-00000.parquet"
    store.put([key], b"mine", "x")
    path = store.root / key
    path.unlink()
    path.symlink_to(outside / "victim.parquet")
    with pytest.raises(DestinationError, match="symbolic link"):
        store.get(key)
    with pytest.raises(DestinationError, match="symbolic link"):
        store.exists(key)
    for overwrite in (False, True):
        with pytest.raises(DestinationError, match="symbolic link"):
            store.put([key], b"evil", "x", overwrite=overwrite)
    with pytest.raises(DestinationError, match="symbolic link"):
        store.swap(key, b"evil", "x", expect=b"precious")
    assert (outside / "victim.parquet").read_bytes() == b"precious"
    # Listed (so validation sees it), never followed; delete removes the link, not its target.
    assert list(store.list("lake/")) == [key]
    store.delete(key)
    assert not path.is_symlink() and (outside / "victim.parquet").read_bytes() == b"precious"
    assert temp_files(store.root) == []


def test_list_and_get_do_not_follow_links_out_of_the_store(tmp_path, outside):
    store = _store(tmp_path)
    store.put(["lake/orders/run_id=A/part-00000.parquet"], b"ok", "x")
    (store.root / "lake/fills").symlink_to(outside, target_is_directory=True)
    assert list(store.list("lake/")) == ["lake/fills", "lake/orders/run_id=A/part-00000.parquet"]
    with pytest.raises(DestinationError, match="symbolic link 'lake/fills'"):
        store.get("lake/fills/victim.parquet")
    with pytest.raises(DestinationError, match="symbolic link"):
        list(store.list("lake/fills/"))
    with pytest.raises(DestinationError, match="symbolic link"):
        store.delete("lake/fills/victim.parquet")
    assert (outside / "victim.parquet").read_bytes() == b"precious"


# -- 3. full disk, read-only folder, and every other OS error -------------------------------------------


@contextmanager
def tmpfs(path: Path, size: str):
    """A real tmpfs of `size` at path (root only); pytest.skip with the reason if this sandbox cannot mount."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the simulated tests cover the same paths")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the simulated tests cover the same paths")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def _remount(path: Path, *options: str) -> None:
    subprocess.run(["mount", "-o", ",".join(("remount", *options)), str(path)], check=True, capture_output=True)


def test_a_full_disk_is_a_store_error_and_leaves_no_temp_files(tmp_path):
    """Real: a 1 MiB tmpfs. Each failed write used to leave its temp file behind, eating what space was left."""
    with tmpfs(tmp_path / "disk", "1m") as disk:
        store = LocalStore(disk / "lake")
        store.put(["a/first.bin"], b"1" * 600_000, "x")
        store.swap(KEY, b"old commit", "x", expect=None)
        for attempt in range(5):
            with pytest.raises(StoreError, match=r"cannot write 'a/second.bin' in .*disk is full") as err:
                store.put(["a/second.bin"], b"2" * 600_000, "x")
            assert isinstance(err.value.__cause__, OSError) and err.value.__cause__.errno == errno.ENOSPC
            with pytest.raises(StoreError, match=rf"cannot swap '{KEY}' in .*disk is full"):
                store.swap(KEY, b"n" * 600_000, "x", expect=b"old commit")
            assert temp_files(store.root) == [], attempt
        assert store.get(KEY) == b"old commit" and store.get("a/first.bin") == b"1" * 600_000
        assert not store.exists("a/second.bin")
        store.delete("a/first.bin")  # space comes back: the same write now succeeds
        assert store.put(["a/second.bin"], b"2" * 600_000, "x") == [PutOutcome.CREATED]


def test_a_read_only_folder_is_a_store_error(tmp_path):
    """Real: the whole tmpfs remounted read-only (chmod would not stop root)."""
    with tmpfs(tmp_path / "disk", "4m") as disk:
        store = LocalStore(disk / "lake")
        store.put(["a/x.bin"], b"x", "x")
        store.swap(KEY, b"commit", "x", expect=None)
        _remount(disk, "ro")
        try:
            calls = {
                "write": lambda: store.put(["a/y.bin"], b"y", "x"),
                "swap": lambda: store.swap(KEY, b"new", "x", expect=b"commit"),
                "delete": lambda: store.delete("a/x.bin"),
            }
            for verb, call in calls.items():
                with pytest.raises(StoreError, match=rf"cannot {verb} .* in .*read-only"):
                    call()
            with pytest.raises(StoreError, match="read-only"):
                store.put(["a/x.bin"], b"other", "x", overwrite=True)
            assert store.get(KEY) == b"commit" and list(store.list("a/")) == ["a/x.bin"]
        finally:
            _remount(disk, "rw")
        assert temp_files(store.root) == []


def test_a_read_only_data_folder_during_an_overwrite(tmp_path):
    """Real: only lake/ is a read-only bind mount; .tmp stays writable, so the temp file is written and the
    publishing link/rename into the data folder is what fails. The temp files must go, the old bytes stay."""
    with tmpfs(tmp_path / "disk", "4m") as disk:
        store = LocalStore(disk / "root")
        store.put([KEY], b"old", "x")
        data = store.root / "lake"
        subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
        try:
            _remount(data, "bind", "ro")
            with pytest.raises(StoreError, match=rf"cannot write '{KEY}' in "):
                store.put([KEY], b"new", "x", overwrite=True)
            with pytest.raises(StoreError, match=rf"cannot swap '{KEY}' in "):
                store.swap(KEY, b"new", "x", expect=b"old")
            with pytest.raises(StoreError, match=rf"cannot delete '{KEY}' in .*read-only"):
                store.delete(KEY)
            assert temp_files(store.root) == []
            assert store.get(KEY) == b"old"
        finally:
            subprocess.run(["umount", str(data)], check=True)


def _failing(errno_: int, calls: list[str]):
    def fail(*args, **kwargs):
        calls.append("x")
        raise OSError(errno_, os.strerror(errno_))

    return fail


@pytest.mark.parametrize(
    "name, code",
    [("write", errno.ENOSPC), ("fsync", errno.ENOSPC), ("fsync", errno.EIO), ("link", errno.ENOSPC), ("link", errno.EROFS)],
)
def test_simulated_write_failures_leave_no_temp_files(tmp_path, monkeypatch, name, code):
    """Simulated (the store's os calls fail): every step of a put or swap, the temp file removed each time."""
    store = LocalStore(tmp_path)
    store.put(["a/keep.bin"], b"keep", "x")
    calls: list[str] = []
    monkeypatch.setattr(local_module.os, name, _failing(code, calls))
    for key in ("a/new.bin", "b/c/new.bin"):
        with pytest.raises(StoreError, match=rf"cannot write '{key}' in {tmp_path}: .*\[errno {code}\]"):
            store.put([key], b"data", "x")
    if name != "link":  # a swap expecting nothing publishes with link too
        with pytest.raises(StoreError, match=rf"cannot swap '{KEY}' in "):
            store.swap(KEY, b"data", "x", expect=None)
    monkeypatch.undo()
    assert calls and temp_files(tmp_path) == []
    assert store.get("a/keep.bin") == b"keep" and not store.exists("a/new.bin") and not store.exists(KEY)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EXDEV, errno.ENOSPC])
def test_simulated_replace_and_unlink_failures_are_store_errors(tmp_path, monkeypatch, code):
    """Simulated: os.replace and os.unlink fail (a read-only folder during an overwrite) -> StoreError, no raw OSError."""
    store = LocalStore(tmp_path)
    store.put([KEY], b"old", "x")
    real_unlink = os.unlink
    monkeypatch.setattr(local_module.os, "replace", _failing(code, []))
    with pytest.raises(StoreError, match=rf"cannot write '{KEY}' in {tmp_path}"):
        store.put([KEY], b"new", "x", overwrite=True)
    with pytest.raises(StoreError, match=rf"cannot swap '{KEY}' in {tmp_path}"):
        store.swap(KEY, b"new", "x", expect=b"old")
    assert temp_files(tmp_path) == [] and store.get(KEY) == b"old"

    def unlink(path, *, dir_fd=None):
        if dir_fd is not None and str(path).endswith(".parquet"):
            raise OSError(code, os.strerror(code))
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(local_module.os, "unlink", unlink)
    with pytest.raises(StoreError, match=rf"cannot delete '{KEY}' in {tmp_path}"):
        store.delete(KEY)


def test_simulated_read_and_list_failures_are_store_errors(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    store.put([KEY], b"x", "x")
    monkeypatch.setattr(local_module.os, "read", _failing(errno.EIO, []))
    with pytest.raises(StoreError, match=rf"cannot read '{KEY}' in {tmp_path}: .*errno {errno.EIO}"):
        store.get(KEY)
    monkeypatch.setattr(local_module.os, "scandir", _failing(errno.EACCES, []))
    with pytest.raises(StoreError, match=rf"cannot list 'lake/' in {tmp_path}"):
        list(store.list("lake/"))


# -- odd keys and odd folders -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a//b", "a/./b", "../up", "a/../../up", "a/", "nul\x00byte", ".tmp/x.tmp", "lone\ud800surrogate", 5, None, "x" * 256, "/".join(["d" * 100] * 11)],
)
def test_unsafe_keys_are_refused_everywhere(tmp_path, key):
    store = LocalStore(tmp_path)
    for call in (
        lambda: store.put([key], b"x", "x"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.swap(key, b"x", "x", expect=None),
    ):
        with pytest.raises(DestinationError, match="unsafe key"):
            call()
    assert not (tmp_path / ".tmp").exists() or temp_files(tmp_path) == []


def test_unicode_long_and_deep_keys(tmp_path):
    store = LocalStore(tmp_path)
    odd = ["lake/ünïcödé/日本語.parquet", "lake/emoji/🚀 space.json", "lake/x/\udc80raw-byte"]
    for key in odd:
        store.put([key], key.encode("utf-8", "surrogateescape"), "x")
        assert store.get(key) == key.encode("utf-8", "surrogateescape")
    assert sorted(store.list("lake/")) == sorted(odd)
    for key in ("lake/" + "a" * 256, "/".join(["d" * 200] * 6)):  # a segment over NAME_MAX; a key over GCS's 1024
        for call in (lambda: store.put([key], b"x", "x"), lambda: store.get(key), lambda: store.swap(key, b"x", "x", expect=None)):
            with pytest.raises(DestinationError, match="longer than 1024 bytes, or a segment longer than 255"):
                call()
    deep = "/".join(["d"] * 500) + "/leaf"  # 1,005 bytes, 501 levels
    store.put([deep], b"deep", "x")
    assert deep in list(store.list("d/")) and store.get(deep) == b"deep"
    assert temp_files(tmp_path) == []


def test_files_where_folders_should_be_and_folders_where_files_should_be(tmp_path):
    store = LocalStore(tmp_path)
    store.put(["lake/fills"], b"a file", "x")
    with pytest.raises(StoreError, match=r"cannot write 'lake/fills/run_id=A/p' in .*'lake/fills' is a file where a folder should be"):
        store.put(["lake/fills/run_id=A/p"], b"x", "x")
    with pytest.raises(ObjectNotFoundError):
        store.get("lake/fills/run_id=A/p")
    assert not store.exists("lake/fills/run_id=A/p")
    store.delete("lake/fills/run_id=A/p")  # cannot exist: nothing to delete
    (tmp_path / "lake/folder").mkdir()
    for call in (
        lambda: store.get("lake/folder"),
        lambda: store.put(["lake/folder"], b"x", "x"),
        lambda: store.put(["lake/folder"], b"x", "x", overwrite=True),
        lambda: store.swap("lake/folder", b"x", "x", expect=None),
        lambda: store.delete("lake/folder"),
    ):
        with pytest.raises(StoreError, match="lake/folder"):
            call()
    assert not store.exists("lake/folder")
    assert temp_files(tmp_path) == []


def test_a_fifo_at_a_key_does_not_hang_a_reader(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / "lake").mkdir()
    os.mkfifo(tmp_path / "lake/pipe")
    with pytest.raises(StoreError, match="not a regular file"):
        store.get("lake/pipe")
    with pytest.raises(StoreError, match="not a regular file"):
        store.put(["lake/pipe"], b"x", "x")


def test_put_outcomes_and_temp_files(tmp_path):
    store = LocalStore(tmp_path)
    assert store.put(["a/1", "b/2"], b"same", "x") == [PutOutcome.CREATED, PutOutcome.CREATED]
    assert store.put(["a/1"], b"same", "x") == [PutOutcome.IDENTICAL]
    with pytest.raises(ObjectExistsError):
        store.put(["a/1"], b"different", "x")
    assert store.put(["a/1"], b"different", "x", overwrite=True) == [PutOutcome.REPLACED]
    assert store.get("a/1") == b"different" and store.get("b/2") == b"same"
    assert list(store.list("")) == ["a/1", "b/2"] and store.leftover_temp_files() == []
    (tmp_path / ".tmp" / "dead.tmp").write_bytes(b"x")
    assert store.leftover_temp_files() == ["dead.tmp"]
    store.delete("a/1")
    store.delete("a/1")
    with pytest.raises(ObjectNotFoundError):
        store.get("a/1")
    assert list(LocalStore(tmp_path / "absent").list("lake/")) == []
