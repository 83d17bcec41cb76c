"""`lake push`: a local lake (or a folder of spec files) to gs://, against fake-gcs-server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lake import layout, write_run
from lake.cli import main as lake_main
from lake.verify import verify_destination
from lake.write.push import push
from lake.synthetic import synthetic_run


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts}


def test_push_a_local_lake_skips_what_is_there_and_refuses_partials(gcs, tmp_path, capsys):
    src = tmp_path / "lake"
    runs = {rid: synthetic_run(rid, 300, seed) for seed, rid in enumerate(["push-a", "push-b", "push-c"], 1)}
    for run in runs.values():
        write_run(run, src)
    partial = synthetic_run("push-partial", 100, 9)
    write_run(partial, src)
    (src / layout.commit_key("push-partial")).unlink()  # as if the local write had been interrupted

    # push-a is already committed remotely (the same bytes, pushed earlier).
    assert push(src, gcs.url).pushed.keys() == {"push-a", "push-b", "push-c"}
    for rid in ("push-b", "push-c"):
        for key in list(gcs.objects(f"backtest_results/{rid}/")) + list(gcs.objects("lake/")):
            if rid in key:
                gcs.client().bucket(gcs.bucket).blob(key).delete()
    before = gcs.generations()

    assert lake_main(["push", str(src), gcs.url]) == 1  # 1: a run was refused
    out = capsys.readouterr().out
    assert "2 pushed" in out and "1 skipped" in out and "1 refused" in out
    assert "skipped push-a: already committed at the destination" in out
    assert "refused push-partial: not committed in the source" in out

    # The destination holds exactly the committed local runs, byte for byte.
    local = local_files(src)
    remote = gcs.objects()
    expected = {k: v for k, v in local.items() if layout.run_id_from_key(k) != "push-partial"}
    assert remote == expected
    assert {k: g for k, g in gcs.generations().items() if k in before} == before  # push-a untouched
    report = verify_destination(gcs.url)
    assert report.ok and [r.run_id for r in report.runs] == ["push-a", "push-b", "push-c"]

    again = push(src, gcs.url)
    assert again.pushed == {} and set(again.skipped) == {"push-a", "push-b", "push-c"}
    assert set(again.refused) == {"push-partial"}


def test_push_finishes_an_interrupted_push_and_refuses_other_content(gcs, tmp_path):
    src = tmp_path / "lake"
    run = synthetic_run("push-resume", 2_000, 3)
    write_run(run, src)
    other = synthetic_run("push-other", 200, 4)
    write_run(other, src)

    # An earlier push died after the manifest and one table: the remote run is uncommitted.
    bucket = gcs.client().bucket(gcs.bucket)
    for key in (layout.manifest_key("push-resume"), layout.spec_table_key("push-resume", "fills")):
        bucket.blob(key).upload_from_filename(str(src / key))
    # Another writer committed different content under push-other's run_id.
    write_run(synthetic_run("push-other", 200, 5), gcs.url)
    kept = gcs.generations()

    report = push(src, gcs.url)
    assert set(report.pushed) == {"push-resume"}
    assert "other content" in report.refused["push-other"]
    remote = gcs.objects()
    for key, data in local_files(src).items():
        if layout.run_id_from_key(key) == "push-resume":
            assert remote[key] == data
    after = gcs.generations()
    assert {k: after[k] for k in kept} == kept  # the interrupted push's objects were kept; push-other untouched


def test_push_a_folder_of_spec_files_validates_and_writes_the_full_layout(gcs, tmp_path):
    lake_dir = tmp_path / "lake"
    run = synthetic_run("spec-run-1", 400, 6)
    write_run(run, lake_dir)
    spec = tmp_path / "spec"
    for top in ("backtest_results", "config", "logs"):
        shutil.copytree(lake_dir / top, spec / top)
    (spec / layout.manifest_key("spec-run-1")).unlink()  # only the storage spec's files

    bad = spec / "backtest_results" / "spec-run-2"
    bad.mkdir()
    shutil.copy(spec / "backtest_results/spec-run-1/summary.json", bad / "summary.json")
    fills = pq.read_table(spec / "backtest_results/spec-run-1/fills.parquet").drop_columns(["last_px"])
    pq.write_table(fills, bad / "fills.parquet")

    report = push(spec, gcs.url)
    assert set(report.pushed) == {"spec-run-1"}
    assert "fills" in report.refused["spec-run-2"] and "last_px" in report.refused["spec-run-2"]

    remote = gcs.objects()
    assert sorted(k for k in remote) == sorted(layout.run_keys("spec-run-1"))
    for key, data in local_files(spec).items():
        if "spec-run-1" in key:
            assert remote[key] == data, key  # re-encoded to the very same bytes
    assert remote[layout.lake_key("spec-run-1", "fills")] == remote["backtest_results/spec-run-1/fills.parquet"]
    assert pq.read_table(pa.BufferReader(remote[layout.commit_key("spec-run-1")])).num_rows == 1
    assert verify_destination(gcs.url).ok
    assert set(push(spec, gcs.url).skipped) == {"spec-run-1"}


def test_push_refuses_a_source_object_that_does_not_match_its_manifest(gcs, tmp_path):
    src = tmp_path / "lake"
    write_run(synthetic_run("push-corrupt", 100, 7), src)
    path = src / layout.spec_table_key("push-corrupt", "orders")
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    report = push(src, gcs.url)
    assert "does not match its manifest" in report.refused["push-corrupt"]
    assert gcs.objects() == {}  # checked before anything was sent


def test_push_to_the_market_data_bucket_is_refused(tmp_path, capsys):
    write_run(synthetic_run("push-guard", 20, 1), tmp_path)
    assert lake_main(["push", str(tmp_path), "gs://market-data-tick-cefi-central-element-323112"]) == 2
    assert "gs://execution-store-cefi-central-element-323112" in capsys.readouterr().err
