"""write_run to gs:// against fake-gcs-server: layout, conflicts, crashes of the writer and of the service."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.gcs_emulator import Emulator
from lake import ConflictError, layout, write_run, write_run_async
from lake.cli import main as lake_main
from lake.write.encode import JSON_CONTENT_TYPE, PARQUET_CONTENT_TYPE, TEXT_CONTENT_TYPE
from lake.errors import StoreError
from lake.verify import verify_destination
from lake.stores.base import PutOutcome
from lake.stores.gcs import GCSStore
from lake.synthetic import synthetic_run
from lake.write import plan_run, write_run_to_store

REPO = Path(__file__).resolve().parents[1]
CONTENT_TYPES = {".parquet": PARQUET_CONTENT_TYPE, ".json": JSON_CONTENT_TYPE, ".log": TEXT_CONTENT_TYPE}


def expected_objects(run, data_file: str = layout.PART_FILE) -> dict[str, bytes]:
    """Every object of the run but the manifest and runs row (which carry created_at), as write_run encodes it."""
    plan = plan_run(run).named(data_file)
    return {key: b.data for b in [*plan.data, plan.summary] for key in b.keys}


def test_run_lands_with_the_spec_layout_byte_exact(gcs, capsys):
    run = synthetic_run("layout-run-1", 2_000, 11)
    report = write_run(run, gcs.url)
    assert {o.outcome for o in report.objects} == {PutOutcome.CREATED}

    objects = gcs.objects()
    assert sorted(objects) == sorted(layout.run_keys(run.run_id))
    for key, data in expected_objects(run).items():
        assert objects[key] == data, key
    # The spec file and the lake partition are the same bytes.
    for table in ("orders", "fills", "positions", "equity_curve"):
        assert objects[layout.spec_table_key(run.run_id, table)] == objects[layout.lake_key(run.run_id, table)]

    manifest = json.loads(objects[layout.manifest_key(run.run_id)])
    for key, entry in manifest["objects"].items():
        assert entry["size"] == len(objects[key])
        assert entry["crc32c"] == gcs.client().bucket(gcs.bucket).get_blob(key).crc32c
    fills = pq.read_table(pa.BufferReader(objects[layout.spec_table_key(run.run_id, "fills")]))
    assert fills.num_rows == 2_000
    assert fills.schema.metadata[b"run_id"] == b"layout-run-1"
    runs_row = pq.read_table(pa.BufferReader(objects[layout.commit_key(run.run_id)])).to_pylist()
    assert len(runs_row) == 1 and runs_row[0]["fill_count"] == 2_000

    for blob in gcs.client().list_blobs(gcs.bucket):
        assert blob.content_type == CONTENT_TYPES[Path(blob.name).suffix], blob.name

    # `lake validate gs://...` reads the run back through the store.
    assert lake_main(["validate", gcs.url]) == 0
    assert "1 committed run(s), 1 valid" in capsys.readouterr().out


def test_async_api_writes_to_gcs(gcs):
    import asyncio

    run = synthetic_run("async-run-1", 300, 2)
    report = asyncio.run(write_run_async(run, f"{gcs.url}/team"))
    assert report.dest == f"{gcs.url}/team"
    assert gcs.objects(f"team/{layout.commit_key(run.run_id)}")


def test_second_writer_with_different_content_gets_conflict(gcs):
    first = synthetic_run("conflict-run-1", 500, 1)
    write_run(first, gcs.url)
    before = gcs.generations()

    second = synthetic_run("conflict-run-1", 500, 2)  # same run_id, other bytes
    with pytest.raises(ConflictError) as err:
        write_run(second, gcs.url)
    assert err.value.run_id == "conflict-run-1"
    assert gcs.generations() == before  # nothing touched

    write_run(second, gcs.url, overwrite=True)
    objects = gcs.objects()
    data_file = pq.read_table(pa.BufferReader(objects[layout.commit_key("conflict-run-1")])).column("data_file")[0].as_py()
    assert data_file == layout.data_file_name(plan_run(second).generation())  # beside the first run's files
    for key, data in expected_objects(second, data_file).items():
        assert objects[key] == data
    assert not any(k.endswith(layout.PART_FILE) and "/runs/" not in k for k in objects)  # the first run's are gone
    assert verify_destination(gcs.url).ok


def test_racing_writers_of_one_run_id_one_commits(gcs):
    runs = [synthetic_run("race-run-1", 400, seed) for seed in (1, 2, 3)]

    def write(run):
        try:
            write_run(run, gcs.url)
            return run
        except ConflictError:
            return None

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(write, runs))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    objects = gcs.objects()
    for key, data in expected_objects(winners[0]).items():
        assert objects[key] == data
    assert verify_destination(gcs.url).ok


class BarrierSwaps(GCSStore):
    """A real GCSStore whose swaps wait for each other: both overwriters have read the same commit."""

    def __init__(self, url: str, barrier: threading.Barrier):
        super().__init__(*url[len("gs://") :].partition("/")[::2])
        self.barrier = barrier

    def swap(self, key, data, content_type, *, expect):
        self.barrier.wait(timeout=30)
        return super().swap(key, data, content_type, expect=expect)


def test_racing_overwriters_on_gcs_one_switches_the_commit(gcs):
    old = synthetic_run("ow-race-gcs", 400, 1)
    write_run(old, gcs.url)
    runs = [synthetic_run("ow-race-gcs", 500, seed) for seed in (2, 3)]
    barrier = threading.Barrier(2)

    def overwrite(run):
        try:
            write_run_to_store(run, BarrierSwaps(gcs.url, barrier), overwrite=True)
            return run
        except ConflictError as exc:
            assert "another writer" in str(exc)
            return None

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(overwrite, runs))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1  # the generation precondition let exactly one swap through
    objects = gcs.objects()
    row = pq.read_table(pa.BufferReader(objects[layout.commit_key("ow-race-gcs")])).to_pylist()[0]
    assert row["fill_count"] == 500 and json.loads(row["summary_json"])["seed"] == winners[0].summary["seed"]
    for key, data in expected_objects(winners[0], row["data_file"]).items():
        assert objects[key] == data
    lake_files = [k for k in objects if k.startswith("lake/fills/")]
    assert lake_files == [layout.lake_key("ow-race-gcs", "fills", row["data_file"])]  # the loser cleaned up
    assert verify_destination(gcs.url).ok


_KILLED_WRITER = """
import os, signal, sys
from lake.synthetic import synthetic_run
from lake.write import write_run

run = synthetic_run(sys.argv[2], int(sys.argv[3]), 5)
done = []

def progress(obj):
    done.append(obj)
    if len(done) == int(sys.argv[4]):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: like a crash

write_run(run, sys.argv[1], progress=progress)
"""


def test_resume_after_the_writer_process_is_killed(gcs):
    run_id, n_fills = "killed-run-1", 5_000
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, gcs.url, run_id, str(n_fills), "3"],
        cwd=REPO, capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()

    left = gcs.generations()
    assert layout.manifest_key(run_id) in left and len(left) >= 4
    assert layout.commit_key(run_id) not in left  # not committed: readers do not see it
    partial = verify_destination(gcs.url)
    assert partial.runs == [] and sorted(partial.uncommitted[run_id]) == sorted(left)

    run = synthetic_run(run_id, n_fills, 5)
    report = write_run(run, gcs.url)
    outcome = {o.key: o.outcome for o in report.objects}
    for key in left:
        if key != layout.manifest_key(run_id):
            assert outcome[key] is PutOutcome.IDENTICAL, key
    after = gcs.generations()
    assert sorted(after) == sorted(layout.run_keys(run_id))  # nothing extra, nothing duplicated
    assert {k: after[k] for k in left} == left  # objects of the killed writer were kept, not rewritten
    objects = gcs.objects()
    for key, data in expected_objects(run).items():
        assert objects[key] == data
    assert verify_destination(gcs.url).ok


class OutageStore(GCSStore):
    """A real GCSStore whose n-th put first kills the emulator (SIGKILL), and may bring it back later."""

    def __init__(self, url: str, emulator: Emulator, at: int, restart_after: float | None, **options):
        bucket, _, prefix = url[len("gs://") :].partition("/")
        super().__init__(bucket, prefix, **options)
        self.emulator, self.at, self.restart_after = emulator, at, restart_after
        self.calls = 0
        self.counter = threading.Lock()
        self.restarter: threading.Timer | None = None

    def put(self, keys, data, content_type, *, overwrite=False):
        with self.counter:
            self.calls += 1
            trigger = self.calls == self.at
        if trigger:
            self.emulator.kill()
            if self.restart_after is not None:
                self.restarter = threading.Timer(self.restart_after, self.emulator.start)
                self.restarter.start()
        return super().put(keys, data, content_type, overwrite=overwrite)


def test_service_killed_and_restarted_mid_write_completes(fs_emulator):
    bucket = fs_emulator.create_bucket("outage-bucket")
    run = synthetic_run("outage-run-1", 20_000, 8)
    # 3rd put: in the data phase, while other uploads are in flight; back after 1.5 s.
    store = OutageStore(f"gs://{bucket}", fs_emulator, at=3, restart_after=1.5, deadline=30)
    report = write_run_to_store(run, store)
    store.restarter.join()
    assert len(report.objects) == len(layout.run_keys(run.run_id)) - 1  # every object but the manifest

    client = fs_emulator.client()
    names = [b.name for b in client.list_blobs(bucket)]
    assert sorted(names) == sorted(layout.run_keys(run.run_id))  # each object once
    for key, data in expected_objects(run).items():
        assert client.bucket(bucket).blob(key).download_as_bytes() == data
    assert verify_destination(f"gs://{bucket}").ok

    generations = {b.name: b.generation for b in client.list_blobs(bucket)}
    again = write_run(run, f"gs://{bucket}")
    assert {o.outcome for o in again.objects} == {PutOutcome.IDENTICAL}
    assert {b.name: b.generation for b in client.list_blobs(bucket)} == generations


def test_service_down_past_the_deadline_fails_clearly_then_rerun_completes(fs_emulator):
    bucket = fs_emulator.create_bucket("outage-bucket-2")
    run = synthetic_run("outage-run-2", 20_000, 9)
    store = OutageStore(f"gs://{bucket}", fs_emulator, at=3, restart_after=None, deadline=2, request_timeout=(1, 5))
    with pytest.raises(StoreError) as err:
        write_run_to_store(run, store)
    message = str(err.value)
    assert f"gs://{bucket}/" in message and "deadline" in message

    fs_emulator.start()  # the filesystem backend kept what was stored before the outage
    client = fs_emulator.client()
    before = {b.name: b.generation for b in client.list_blobs(bucket)}
    assert layout.manifest_key(run.run_id) in before and layout.commit_key(run.run_id) not in before

    report = write_run(run, f"gs://{bucket}")
    outcome = {o.key: o.outcome for o in report.objects}
    assert all(outcome[k] is PutOutcome.IDENTICAL for k in before if k in outcome)
    after = {b.name: b.generation for b in client.list_blobs(bucket)}
    assert sorted(after) == sorted(layout.run_keys(run.run_id))
    assert {k: after[k] for k in before} == before
    for key, data in expected_objects(run).items():
        assert client.bucket(bucket).blob(key).download_as_bytes() == data
    assert verify_destination(f"gs://{bucket}").ok


def test_writing_to_the_market_data_bucket_is_refused_before_any_work():
    from lake.errors import DestinationError

    run = synthetic_run("guard-run-1", 10, 1)
    with pytest.raises(DestinationError, match="execution-store-cefi-central-element-323112"):
        write_run(run, "gs://market-data-tick-cefi-central-element-323112")
    assert lake_main(["write-synthetic", "--dest", "gs://market-data-tick-cefi-central-element-323112"]) == 2
