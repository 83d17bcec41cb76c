"""The commit protocol's order, operation by operation, and what readers see when any one operation fails.

A recording store shows every put, swap and delete of write_run, of an overwrite and of push, in order: the
manifest first, the data, summary.json, and the runs row last (an overwrite: the new generation's lake files,
then the switch of the runs row, then the spec files, summary, manifest and the old generation's deletion).
Then a store that fails the k-th operation, for every k, before the operation reaches the store and after it
landed (a lost reply): readers (the DuckDB engine's views) see exactly the old state until the operation
that commits, and the new run whole from it on; running the write again finishes it, leaving exactly the
run's objects.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lake
import lake.write.push as push_module
from lake import layout
from lake.catalog.engine import open_engine
from lake.stores import LocalStore
from lake.stores.gcs import GCSStore
from lake.synthetic import synthetic_run
from lake.verify import verify_destination
from lake.write import plan_run, write_run_to_store
from lake.write.push import push
from schemas import RUN_TABLES
from tests.conftest import files_under
from tests.support.stores import Failure, FailingAt, Op, Recording

RUN = "order-1"
TABLES = list(RUN_TABLES)


def make(version: str) -> lake.Run:
    """The old run has a config and a log; the new one a config only (so an overwrite must drop the log)."""
    if version == "old":
        base = synthetic_run(RUN, 30, 1, config={"strategy": {"fast": 10}})
        return lake.Run(RUN, base.summary, *base.tables().values(), config=base.config, log="old log\n")
    base = synthetic_run(RUN, 45, 2, n_orders=50, config={"strategy": {"fast": 12}})
    return lake.Run(RUN, base.summary, *base.tables().values(), config=base.config)


def seen(dest) -> tuple | None:
    """What readers see of the run: None when it is not committed, else its runs row's counts and its rows."""
    if isinstance(dest, Path) and not dest.is_dir():
        return None
    con = open_engine(dest)
    try:
        row = con.execute("SELECT order_count, fill_count, position_count, equity_point_count FROM execution.runs "
                          "WHERE run_id = ?", [RUN]).fetchall()
        fills = con.execute("SELECT trade_id, CAST(last_px AS VARCHAR) FROM execution.fills WHERE run_id = ? "
                            "ORDER BY trade_id", [RUN]).fetchall()
        orders = con.execute("SELECT client_order_id FROM execution.orders WHERE run_id = ? ORDER BY 1", [RUN]).fetchall()
    finally:
        con.close()
    return (row, fills, orders) if row else None


def whole(run: lake.Run) -> tuple:
    """What readers must see of a committed run, computed from the run itself."""
    counts = [(run.orders.num_rows, run.fills.num_rows, run.positions.num_rows, run.equity_curve.num_rows)]
    fills = sorted(zip(run.fills.column("trade_id").to_pylist(), map(str, run.fills.column("last_px").to_pylist())))
    orders = sorted((o,) for o in run.orders.column("client_order_id").to_pylist())
    return counts, fills, orders


def test_the_runs_differ_in_every_count():
    old, new = whole(make("old"))[0][0], whole(make("new"))[0][0]
    assert len(set(new)) == 4 and all(a != b for a, b in zip(old, new))


# -- the order of operations --------------------------------------------------------------------------


def spec_and_lake(table: str, data_file: str = layout.PART_FILE) -> tuple[str, str]:
    return layout.spec_table_key(RUN, table), layout.lake_key(RUN, table, data_file)


NEW_WRITE = [
    Op("put", (layout.manifest_key(RUN),), False),
    *(Op("put", spec_and_lake(t), False) for t in TABLES),
    Op("put", (layout.config_key(RUN),), False),
    Op("put", (layout.log_key(RUN),), False),
    Op("put", (layout.summary_key(RUN),), False),
    Op("swap", (layout.commit_key(RUN),), True),  # created only if absent
]


def overwrite_ops(generation: str) -> list[Op]:
    new_file = layout.data_file_name(generation)
    return [
        *(Op("put", (layout.lake_key(RUN, t, new_file),), False) for t in TABLES),  # beside the committed files
        Op("swap", (layout.commit_key(RUN),), False),  # replaced only if it still holds the old row
        *(Op("put", (layout.spec_table_key(RUN, t),), True) for t in TABLES),
        Op("put", (layout.config_key(RUN),), True),
        Op("put", (layout.summary_key(RUN),), True),
        Op("put", (layout.manifest_key(RUN),), True),
        Op("put", (layout.commit_key(RUN),), False),  # already there: kept
        *(Op("delete", (layout.lake_key(RUN, t),)) for t in sorted(TABLES)),  # the old generation
        Op("delete", (layout.log_key(RUN),)),  # the new run has no log
    ]


PUSH = [
    Op("put", (layout.manifest_key(RUN),), False),  # the source's manifest, verbatim
    *(Op("put", spec_and_lake(t), False) for t in sorted(TABLES)),  # one put per content, keys in order
    Op("put", (layout.config_key(RUN),), False),
    Op("put", (layout.log_key(RUN),), False),
    Op("put", (layout.summary_key(RUN),), False),
    Op("swap", (layout.commit_key(RUN),), True),
]


def test_a_new_write_puts_the_manifest_first_the_data_then_the_summary_and_commits_last(tmp_path):
    store = Recording(LocalStore(tmp_path))
    write_run_to_store(make("old"), store)
    assert store.ops == NEW_WRITE
    assert store.expected == [None]  # created only if absent


def test_a_rerun_puts_the_same_objects_in_the_same_order_and_changes_nothing(tmp_path):
    lake.write_run(make("old"), tmp_path)
    before = {k: (tmp_path / k).stat().st_ino for k in files_under(tmp_path)}
    store = Recording(LocalStore(tmp_path))
    report = write_run_to_store(make("old"), store)
    # committed already: every object is settled (kept), the runs row last
    assert [op.keys for op in store.ops] == [
        *(spec_and_lake(t)[1:] for t in TABLES), *(spec_and_lake(t)[:1] for t in TABLES),
        (layout.config_key(RUN),), (layout.log_key(RUN),), (layout.summary_key(RUN),), (layout.manifest_key(RUN),),
        (layout.commit_key(RUN),),
    ]
    assert report.created == [] and {k: (tmp_path / k).stat().st_ino for k in files_under(tmp_path)} == before


def test_an_overwrite_writes_beside_switches_then_settles_and_deletes_the_old_generation(tmp_path):
    lake.write_run(make("old"), tmp_path)
    old_row = (tmp_path / layout.commit_key(RUN)).read_bytes()
    store = Recording(LocalStore(tmp_path))
    write_run_to_store(make("new"), store, overwrite=True)
    assert store.ops == overwrite_ops(plan_run(make("new")).generation())
    assert store.expected == [old_row]  # the switch is a compare-and-swap against the row read at the start


def test_push_puts_the_manifest_first_the_data_then_the_summary_and_commits_last(tmp_path, monkeypatch):
    lake.write_run(make("old"), tmp_path / "src")
    store = Recording(LocalStore(tmp_path / "dest"))
    monkeypatch.setattr(push_module, "open_store", lambda dest: store)
    assert push(tmp_path / "src", tmp_path / "dest").pushed.keys() == {RUN}
    assert store.ops == PUSH
    assert _objects(tmp_path / "dest") == _objects(tmp_path / "src")


def _objects(root: Path) -> dict[str, bytes]:
    return {k: (root / k).read_bytes() for k in files_under(root)}


# -- a failure at every operation ------------------------------------------------------------------------


def assert_prefix(done: list[Op], ops: list[Op], k: int) -> None:
    """The operations tried are the protocol's, in its order, up to the failing one (and the puts of its
    phase already handed to the pool); nothing after that phase."""
    assert len(done) >= k and done == ops[: len(done)], (k, done)
    phase = [op.kind == "swap" or op.key == layout.manifest_key(RUN) or op.key == layout.summary_key(RUN) for op in ops]
    assert not any(phase[k:len(done)]), f"a failure at operation {k} did not stop the write before {done[-1]}"


def committed_after(ops: list[Op], k: int, landed: bool) -> bool:
    """Whether the runs row was switched or created before the k-th operation failed."""
    switch = next(i for i, op in enumerate(ops) if op.kind == "swap")  # 0-based
    done = k if landed else k - 1
    return switch < done


@pytest.mark.parametrize("landed", [False, True], ids=["fails", "reply-lost"])
def test_a_new_write_failing_at_any_operation_commits_nothing_until_the_runs_row(tmp_path, landed):
    run = make("old")  # with a config and a log
    for k in range(1, len(NEW_WRITE) + 1):
        dest = tmp_path / f"k{k}"
        store = FailingAt(LocalStore(dest), k, landed=landed)
        with pytest.raises(Failure):
            write_run_to_store(run, store)
        assert_prefix(store.ops, NEW_WRITE, k)
        if committed_after(NEW_WRITE, k, landed):
            assert seen(dest) == whole(run), k
        else:
            assert seen(dest) is None, f"a failure at {NEW_WRITE[k - 1]} committed the run"
            report = verify_destination(dest) if dest.is_dir() else None
            assert report is None or (report.ok and report.runs == [] and set(report.uncommitted) <= {RUN})
        lake.write_run(run, dest)
        assert seen(dest) == whole(run)
        assert files_under(dest) == sorted(layout.run_keys(RUN)) and verify_destination(dest).ok


@pytest.mark.parametrize("landed", [False, True], ids=["fails", "reply-lost"])
def test_an_overwrite_failing_at_any_operation_shows_the_old_run_until_the_switch(tmp_path, landed):
    old, new = make("old"), make("new")
    ops = overwrite_ops(plan_run(new).generation())
    first = tmp_path / "old"
    lake.write_run(old, first)
    for k in range(1, len(ops) + 1):
        dest = tmp_path / f"k{k}"
        shutil.copytree(first, dest)
        store = FailingAt(LocalStore(dest), k, landed=landed)
        with pytest.raises(Failure):
            write_run_to_store(new, store, overwrite=True)
        assert_prefix(store.ops, ops, k)
        if committed_after(ops, k, landed):
            assert seen(dest) == whole(new), f"after the switch, a failure at {ops[k - 1]}"
        else:
            assert seen(dest) == whole(old), f"before the switch, a failure at {ops[k - 1]}"
            assert verify_destination(dest).ok  # the new generation's files are invisible leftovers
        lake.write_run(new, dest, overwrite=True)
        assert seen(dest) == whole(new)
        assert files_under(dest) == sorted(_keys_of(dest, new)), k
        assert verify_destination(dest).ok


def _keys_of(dest: Path, run: lake.Run) -> set[str]:
    """The objects of `run` committed at dest under the data file its runs row names, and nothing else."""
    data_file = verify_destination(dest, RUN).runs[0].data_file
    keys = {layout.with_data_file(k, data_file) for k in layout.run_keys(RUN)}
    return keys - ({layout.log_key(RUN)} if run.log is None else set())


@pytest.mark.parametrize("landed", [False, True], ids=["fails", "reply-lost"])
def test_push_failing_at_any_operation_commits_nothing_until_the_runs_row(tmp_path, monkeypatch, landed):
    src = tmp_path / "src"
    old = make("old")
    lake.write_run(old, src)
    for k in range(1, len(PUSH) + 1):
        dest = tmp_path / f"k{k}"
        store = FailingAt(LocalStore(dest), k, landed=landed)
        monkeypatch.setattr(push_module, "open_store", lambda _dest: store)
        report = push(src, dest)
        assert report.failed.keys() == {RUN}
        assert ("was lost" if landed else "No space left") in report.failed[RUN]
        assert_prefix(store.ops, PUSH, k)
        if committed_after(PUSH, k, landed):
            assert seen(dest) == whole(old)
        else:
            assert seen(dest) is None, f"a failure at {PUSH[k - 1]} committed the run"
        monkeypatch.setattr(push_module, "open_store", LocalStore)
        again = push(src, dest)
        assert again.ok and set(again.pushed) | set(again.skipped) == {RUN}
        assert _objects(dest) == _objects(src) and seen(dest) == whole(old)


def test_push_to_gcs_failing_at_any_operation_commits_nothing_until_the_runs_row(gcs, tmp_path, monkeypatch):
    src = tmp_path / "src"
    old = make("old")
    lake.write_run(old, src)
    local = _objects(src)
    for k in range(1, len(PUSH) + 1):
        prefix = f"{gcs.url}/k{k}"
        store = FailingAt(GCSStore.from_url(prefix), k)
        monkeypatch.setattr(push_module, "open_store", lambda _dest: store)
        assert push(src, prefix).failed.keys() == {RUN}
        assert_prefix(store.ops, PUSH, k)
        assert seen(prefix) is None, f"a failure at {PUSH[k - 1]} committed the run"
        assert {f"k{k}/{key}" for key in local} >= set(gcs.objects(f"k{k}/"))
        monkeypatch.setattr(push_module, "open_store", GCSStore.from_url)
        assert push(src, prefix).pushed.keys() == {RUN}
        assert gcs.objects(f"k{k}/") == {f"k{k}/{key}": data for key, data in local.items()}
        assert seen(prefix) == whole(old) and verify_destination(prefix).ok
