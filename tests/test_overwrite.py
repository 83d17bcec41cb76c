"""An overwrite is atomic for readers: the old run whole or the new run whole, never neither, never a mix.

Checked through the reader's own eyes (the DuckDB engine's views) after writers
killed at random moments, after a failure at every single store operation, and
between overwriters racing for the same run.
"""

import random
import subprocess
import sys
from pathlib import Path

import pytest

import lake
from lake import layout
from lake.catalog.engine import open_engine
from lake.errors import StoreError
from lake.stores import LocalStore
from lake.synthetic import synthetic_run
from lake.verify import verify_destination
from lake.write import plan_run, write_run_to_store

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 20
OLD = dict(n=1_500, seed=1)
NEW = dict(n=2_500, seed=2)


def make(run_id: str, version: dict) -> lake.Run:
    return synthetic_run(run_id, version["n"], version["seed"])


def seen(dest, run_id: str):
    """What readers see of the run: None when it is not committed, else its runs row and its fills."""
    if not Path(dest).is_dir():
        return None  # nothing written at all
    con = open_engine(dest)
    try:
        row = con.execute("SELECT fill_count, order_count FROM execution.runs WHERE run_id = ?", [run_id]).fetchall()
        fills = con.execute(
            "SELECT trade_id, CAST(last_px AS VARCHAR) FROM execution.fills WHERE run_id = ? ORDER BY trade_id", [run_id]
        ).fetchall()
    finally:
        con.close()
    return (row, fills) if row else None


def whole(run: lake.Run):
    """What readers must see of a committed run, computed from the run itself."""
    fills = sorted(zip(run.fills.column("trade_id").to_pylist(), map(str, run.fills.column("last_px").to_pylist())))
    return [(run.fills.num_rows, run.orders.num_rows)], fills


def start(dest, run_id: str, version: dict, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.support.proc_writer", str(dest), run_id, "--seed", str(version["seed"]),
           "--fills", str(version["n"]), "--overwrite", *extra]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(proc: subprocess.Popen, prefix: str) -> None:
    for line in proc.stdout:
        if line.startswith(prefix):
            return
    raise AssertionError(f"writer ended before printing {prefix!r}: {proc.stderr.read()}")


def test_killed_overwriters_leave_the_old_run_or_the_new_run_whole(tmp_path):
    rng = random.Random(7)
    outcomes = []
    for trial in range(TRIALS):
        run_id = f"ow-kill-{trial:02d}"
        old, new = make(run_id, OLD), make(run_id, NEW)
        lake.write_run(old, tmp_path)
        proc = start(tmp_path, run_id, NEW)
        wait_for(proc, "ready")
        for _ in range(rng.randint(0, 14)):  # objects reported before the kill (0: while validating)
            if not proc.stdout.readline():
                break
        proc.kill()
        proc.wait()

        view = seen(tmp_path, run_id)
        assert view in (whole(old), whole(new)), f"trial {trial}: readers see neither run whole"
        outcomes.append("old" if view == whole(old) else "new")

        # Running the overwrite again finishes it.
        lake.write_run(new, tmp_path, overwrite=True)
        assert seen(tmp_path, run_id) == whole(new)
        assert verify_destination(tmp_path, run_id).ok
    assert {"old", "new"} <= set(outcomes), outcomes  # the kills landed before and after the switch


def test_racing_overwriters_one_wins_the_other_gets_a_conflict(tmp_path):
    third = dict(n=2_000, seed=3)
    for trial in range(TRIALS):
        run_id = f"ow-race-{trial:02d}"
        lake.write_run(make(run_id, OLD), tmp_path)
        go = tmp_path / f"go-{trial}"
        procs = [start(tmp_path, run_id, v, "--swap-go-file", str(go)) for v in (NEW, third)]
        for proc in procs:
            wait_for(proc, "at-swap")  # both have read the old commit and written their files
        go.touch()
        outs = [p.communicate(timeout=120)[0] for p in procs]
        codes = [p.returncode for p in procs]
        assert sorted(codes) == [0, 3], (codes, outs)
        winner = (NEW, third)[codes.index(0)]
        assert "overwrite=True" in outs[codes.index(3)] or "another writer" in outs[codes.index(3)]
        assert seen(tmp_path, run_id) == whole(make(run_id, winner))
        assert verify_destination(tmp_path, run_id).ok  # the loser left no file behind


class FailAt:
    """A local store whose k-th mutating operation (put, swap or delete) fails like a full disk."""

    def __init__(self, root, k: int):
        self._store, self.k, self.ops = LocalStore(root), k, []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def _op(self, what: str, key: str) -> None:
        self.ops.append((what, key))
        if len(self.ops) == self.k:
            raise StoreError(f"cannot write {key!r}: [Errno 28] No space left on device")

    def put(self, keys, data, content_type, *, overwrite=False):
        self._op("put", keys[0])
        return self._store.put(keys, data, content_type, overwrite=overwrite)

    def swap(self, key, data, content_type, *, expect):
        self._op("swap", key)
        return self._store.swap(key, data, content_type, expect=expect)

    def delete(self, key):
        self._op("delete", key)
        return self._store.delete(key)


@pytest.mark.parametrize("overwrite", [False, True], ids=["new run", "overwrite"])
def test_a_failure_at_every_operation_leaves_a_whole_run_and_the_rerun_finishes(tmp_path, overwrite):
    run_id = "ow-fail"
    old, new = make(run_id, OLD), make(run_id, NEW)
    counting = FailAt(tmp_path / "count", k=0)
    if overwrite:
        lake.write_run(old, tmp_path / "count")
    write_run_to_store(new, counting, overwrite=overwrite)
    n_ops = len(counting.ops)
    assert n_ops >= 6

    order = [what for what, _ in counting.ops]
    commit = order.index("swap")
    assert counting.ops[commit][1] == layout.commit_key(run_id)
    if overwrite:  # every new lake file before the switch; the spec files after it
        before = {key for _, key in counting.ops[:commit]}
        assert {layout.lake_key(run_id, t, layout.data_file_name(plan_run(new).generation()))
                for t in ("orders", "fills", "positions", "equity_curve")} <= before  # fmt: skip
        assert not any(key.startswith(layout.SPEC_ROOT) for key in before)
    else:  # manifest first, summary just before the commit, the commit last
        assert counting.ops[0][1] == layout.manifest_key(run_id)
        assert counting.ops[commit - 1][1] == layout.summary_key(run_id) and commit == n_ops - 1

    for k in range(1, n_ops + 1):
        dest = tmp_path / f"k{k}"
        if overwrite:
            lake.write_run(old, dest)
        with pytest.raises(StoreError, match="No space left"):
            write_run_to_store(new, FailAt(dest, k), overwrite=overwrite)
        view = seen(dest, run_id)
        if overwrite:
            assert view in (whole(old), whole(new)), f"failure at operation {k} ({counting.ops[k - 1]})"
        else:
            assert view is None, f"failure at operation {k} committed a run"
        lake.write_run(new, dest, overwrite=overwrite)
        assert seen(dest, run_id) == whole(new)
        assert verify_destination(dest).ok, k
