"""Writers killed at random points, and writers racing: never a committed partial run."""

import random
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

import lake
from lake import layout
from lake.verify import verify_destination
from lake.stores import PutOutcome
from lake.synthetic import synthetic_run
from tests.conftest import files_under

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 20
FILLS = 20_000


def start_writer(dest, *run_ids, seed=0, fills=200, go_file=None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tests.support.proc_writer", str(dest), *run_ids, "--seed", str(seed), "--fills", str(fills)]
    if go_file:
        cmd += ["--go-file", str(go_file)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen, prefix: str) -> str:
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"writer ended before printing {prefix!r}: {proc.stderr.read()}")


def test_killed_writers_never_leave_a_committed_partial_run(tmp_path):
    rng = random.Random(20240101)
    n_objects = len(layout.run_keys("x")) - 1  # every object but the manifest is reported as written
    landed = []
    for trial in range(TRIALS):
        run_id = f"crash-{trial:02d}"
        proc = start_writer(tmp_path, run_id, seed=trial, fills=FILLS)
        wait_for_line(proc, "ready")
        # Kill after a random number of reported objects (0 = during validation/encoding).
        for _ in range(rng.randint(0, n_objects)):
            if not proc.stdout.readline():
                break
        proc.kill()
        proc.wait()
        present = [k for k in files_under(tmp_path) if layout.run_id_from_key(k) == run_id]
        committed = layout.commit_key(run_id) in present
        landed.append(len(present))

        # Whatever the moment of death: a committed run is complete and valid, anything else is invisible.
        report = verify_destination(tmp_path, run_id)
        if committed:
            assert report.ok, str(report)
        elif present:
            assert report.uncommitted == {run_id: present} and report.runs == []

        # Writing the same run again finishes it, keeping what is already there.
        rerun = lake.write_run(synthetic_run(run_id, FILLS, trial), tmp_path)
        for obj in rerun.objects:
            if obj.key in present:
                assert obj.outcome is PutOutcome.IDENTICAL, obj
        assert verify_destination(tmp_path, run_id).ok

    # The kills landed all over the protocol: before any object, mid-write and after the commit.
    assert min(landed) <= 1 and any(2 < n < n_objects for n in landed), landed
    final = verify_destination(tmp_path)
    assert final.ok and len(final.runs) == TRIALS and not final.uncommitted


def test_four_processes_write_forty_runs(tmp_path):
    procs = [
        start_writer(tmp_path, *[f"p{p}-r{r}" for r in range(10)], seed=100 * p, fills=300) for p in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert out.count("done ") == 10
    report = verify_destination(tmp_path)
    assert report.ok and len(report.runs) == 40 and not report.uncommitted
    runs = pq.read_table(tmp_path / "lake/runs").to_pandas()  # Hive partitions read by pyarrow itself
    assert sorted(runs["run_id"].astype(str)) == sorted(f"p{p}-r{r}" for p in range(4) for r in range(10))


def test_two_writers_of_one_run_id_with_different_content(tmp_path):
    for attempt in range(3):
        run_id = f"race-{attempt}"
        go = tmp_path / f"go-{attempt}"
        a = start_writer(tmp_path / "lake", run_id, seed=1, fills=2_000, go_file=go)
        b = start_writer(tmp_path / "lake", run_id, seed=2, fills=2_000, go_file=go)
        wait_for_line(a, "ready")
        wait_for_line(b, "ready")
        go.touch()
        outs = [p.communicate(timeout=120)[0] for p in (a, b)]
        codes = sorted(p.returncode for p in (a, b))
        assert codes == [0, 3], outs
        winner_seed = 1 if a.returncode == 0 else 2
        loser_out = outs[1] if a.returncode == 0 else outs[0]
        assert f"conflict {run_id}" in loser_out and "overwrite=True" in loser_out
        # What is committed is entirely the winner's run.
        expected = synthetic_run(run_id, 2_000, winner_seed)
        got = pq.read_table(tmp_path / "lake" / layout.lake_key(run_id, "fills"))
        assert got.column("trade_id").to_pylist() == expected.fills.column("trade_id").to_pylist()
        assert got.column("last_px").to_pylist() == expected.fills.column("last_px").to_pylist()
        assert verify_destination(tmp_path / "lake", run_id).ok
