"""lake.verify: a committed run is exactly what its commit and manifest name; everything else is reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.verify import verify_destination
from schemas import evolution

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dest(tmp_path, small_run) -> Path:
    lake.write_run(small_run("A", seed=1), tmp_path)
    return tmp_path


def manifest_path(dest: Path, run_id: str = "A") -> Path:
    return dest / layout.manifest_key(run_id)


def data_file(dest: Path, run_id: str = "A") -> str:
    """The data file the runs row names (NULL or absent: part-00000.parquet)."""
    row = pq.read_table(dest / layout.commit_key(run_id)).to_pylist()[0]
    return row.get("data_file") or layout.PART_FILE


def lake_path(dest: Path, table: str, run_id: str = "A") -> Path:
    return dest / layout.lake_key(run_id, table, data_file(dest, run_id))


def problems(dest: Path, run_id: str | None = None) -> list[str]:
    report = verify_destination(dest, run_id)
    return [p for r in report.runs for p in r.problems]


def test_a_fresh_run_is_clean(dest):
    report = verify_destination(dest)
    assert report.ok and not report.strays and not report.garbage, str(report)
    assert report.runs[0].data_file == data_file(dest)


# -- 4. the manifest lists exactly the run's objects -------------------------------------------------------


@pytest.mark.parametrize(
    "manifest, expected",
    [
        ([], "expected a JSON object with run_id, created_at and objects, got an array"),
        ({}, "objects is missing"),
        (None, "expected a JSON object with run_id, created_at and objects, got null"),
        ({"objects": []}, "objects is an array"),
        ("x", "got a string ('x')"),
        (5, "got a number (5)"),
        (True, "got a boolean"),
        ({"objects": None}, "objects is null"),
    ],
    ids=["array", "empty-object", "null", "objects-array", "string", "number", "bool", "objects-null"],
)
def test_a_manifest_of_any_other_shape_is_a_problem_not_a_pass_or_a_traceback(dest, manifest, expected):
    (dest / layout.log_key("A")).write_bytes(b"tampered log")  # what such a manifest used to let through
    manifest_path(dest).write_text(json.dumps(manifest))
    report = verify_destination(dest)
    assert not report.ok
    found = report.runs[0].problems
    assert any(expected in p and p.startswith(layout.manifest_key("A")) for p in found), found


def _rewrite_manifest(dest: Path, change) -> None:
    doc = json.loads(manifest_path(dest).read_bytes())
    change(doc)
    manifest_path(dest).write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "entry, shown",
    [(5, "is 5"), ({"size": "10", "crc32c": "x", "rows": None}, "'size': '10'"), ({"size": 1, "crc32c": "x"}, "'crc32c': 'x'"),
     ({"size": True, "crc32c": "x", "rows": None}, "'size': True"), ({"size": 1, "crc32c": 7, "rows": 1}, "'crc32c': 7"),
     ({"size": 1, "crc32c": "x", "rows": -1}, "'rows': -1"), (None, "is None")],
)
def test_a_malformed_manifest_entry_is_a_problem(dest, entry, shown):
    key = layout.log_key("A")
    _rewrite_manifest(dest, lambda doc: doc["objects"].__setitem__(key, entry))
    found = problems(dest)
    assert any(f"the entry of {key!r} is" in p and shown in p for p in found), found
    assert not any("not listed in the manifest" in p for p in found)  # listed, though badly


def test_manifest_run_id_and_created_at_are_checked(dest):
    _rewrite_manifest(dest, lambda doc: doc.update(run_id="B", created_at="yesterday"))
    found = problems(dest)
    assert f"{layout.manifest_key('A')}: run_id is 'B', expected 'A'" in found
    assert f"{layout.manifest_key('A')}: created_at is 'yesterday', expected an ISO 8601 time" in found


def test_every_object_listed_and_every_listed_object_present(dest):
    log = layout.log_key("A")
    _rewrite_manifest(dest, lambda doc: doc["objects"].pop(log))
    assert problems(dest) == [f"{log}: not listed in the manifest {layout.manifest_key('A')}"]

    _rewrite_manifest(dest, lambda doc: doc["objects"].__setitem__(log, {"size": 1, "crc32c": "AAAAAA==", "rows": None}))
    (dest / log).unlink()
    assert problems(dest) == [f"missing {log} (listed in the manifest)"]

    other = "lake/fills/run_id=B/part-00000.parquet"
    _rewrite_manifest(dest, lambda doc: (doc["objects"].pop(log), doc["objects"].__setitem__(other, {"size": 1, "crc32c": "x", "rows": 1})))
    assert problems(dest) == [f"{layout.manifest_key('A')}: lists {other}, which is not an object of this run (the commit names {data_file(dest)})"]

    commit = layout.commit_key("A")
    _rewrite_manifest(dest, lambda doc: (doc["objects"].pop(other), doc["objects"].__setitem__(commit, {"size": 1, "crc32c": "x", "rows": 1})))
    assert problems(dest) == [f"{layout.manifest_key('A')}: lists {commit}, which a manifest never lists"]


def test_rows_in_the_manifest_must_match_the_file(dest):
    key = layout.lake_key("A", "fills", data_file(dest))
    _rewrite_manifest(dest, lambda doc: doc["objects"][key].__setitem__("rows", 1))
    assert f"{key}: 60 rows, the manifest says 1" in problems(dest)


# -- 5. stray files ---------------------------------------------------------------------------------------------


def test_a_stray_copy_in_a_run_folder_is_reported(dest):
    fills = lake_path(dest, "fills")
    shutil.copy(fills, fills.with_name("part-00001.parquet"))  # doubled A's fills in every query
    report = verify_destination(dest)
    assert not report.ok
    stray = layout.lake_key("A", "fills").rpartition("/")[0] + "/part-00001.parquet"
    assert any(p.startswith(f"{stray}: unexpected object") for p in report.runs[0].problems), str(report)


def test_a_second_runs_row_and_runs_rows_outside_any_run(dest):
    row = dest / layout.commit_key("A")
    shutil.copy(row, row.with_name("part-00001.parquet"))
    bad = dest / "lake/runs/run_id=..bad/part-00000.parquet"
    bad.parent.mkdir(parents=True)
    shutil.copy(row, bad)
    report = verify_destination(dest)
    assert not report.ok
    assert any(p.startswith("lake/runs/run_id=A/part-00001.parquet: unexpected object") for p in report.runs[0].problems)
    assert report.strays == ["lake/runs/run_id=..bad/part-00000.parquet"]
    assert "1 object(s) outside any run" in str(report) and "lake/runs/run_id=..bad/part-00000.parquet" in str(report)


def test_keys_that_belong_to_no_run_are_listed(dest):
    odd = [
        "lake/fills/loose.parquet",
        "lake/fills/RUN_ID=A/part-00000.parquet",
        "lake/README",
        "backtest_results/notes.txt",
        "config/-bad/backtest_config.json",
        "logs/..x/execution.log",
        "lake/orders/run_id=" + "x" * 200 + "/part-00000.parquet",
    ]
    for key in odd:
        (dest / key).parent.mkdir(parents=True, exist_ok=True)
        (dest / key).write_bytes(b"?")
    report = verify_destination(dest)
    assert report.strays == sorted(odd) and not report.ok
    assert report.runs[0].ok  # A itself is fine
    # Checking one run leaves the rest of the destination alone.
    assert verify_destination(dest, "A").ok


def test_a_runs_row_copied_to_another_run_id_is_not_a_valid_run(dest):
    (dest / "lake/runs/run_id=B").mkdir(parents=True)
    shutil.copy(dest / layout.commit_key("A"), dest / layout.commit_key("B"))
    report = verify_destination(dest, "B")
    found = report.runs[0].problems
    assert f"missing {layout.manifest_key('B')}" in found
    assert any("metadata run_id is b'A', expected 'B'" in p for p in found)


def test_an_older_generation_left_by_an_interrupted_overwrite_is_garbage(dest):
    # As an overwrite dies after its switch and before deleting the old generation's files.
    old = [dest / layout.lake_key("A", t, "part-0123456789abcdef.parquet") for t in ("orders", "fills", "positions", "equity_curve")]
    for path, table in zip(old, ("orders", "fills", "positions", "equity_curve")):
        shutil.copy(lake_path(dest, table), path)
    report = verify_destination(dest)
    assert report.ok, str(report)  # readers never see them: a crash's leftovers, like an uncommitted run
    assert report.garbage == sorted(p.relative_to(dest).as_posix() for p in old)
    text = str(report)
    assert "4 lake file(s) of older generations" in text and "not named by the commit; safe to delete" in text


def test_an_overwritten_run_is_checked_under_the_data_file_its_commit_names(dest, small_run):
    lake.write_run(small_run("A", seed=2), dest, overwrite=True)
    report = verify_destination(dest)
    assert report.ok and not report.garbage, str(report)
    assert report.runs[0].data_file == data_file(dest)
    if data_file(dest) != layout.PART_FILE:  # the old generation's name is now a stray of the run
        shutil.copy(lake_path(dest, "fills"), dest / layout.lake_key("A", "fills"))
        assert verify_destination(dest).garbage == [layout.lake_key("A", "fills")]


def _rewrite_runs_row(dest: Path, change) -> None:
    path = dest / layout.commit_key("A")
    table = pq.read_table(path)
    table = change(table)
    path.unlink()
    pq.write_table(table, path)


def test_a_runs_row_before_data_file_names_part_00000(dest, small_run):
    """A v1 runs row (no data_file, no table_versions) and a v2 row with data_file NULL both mean part-00000.parquet."""
    if data_file(dest) != layout.PART_FILE:
        pytest.skip("the writer names fresh runs' files by generation")
    meta = pq.read_table(dest / layout.commit_key("A")).schema.metadata

    def null_data_file(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("data_file")
        return t.set_column(i, t.schema.field(i), pa.nulls(1, pa.string())) if i >= 0 else t

    _rewrite_runs_row(dest, null_data_file)
    assert verify_destination(dest).ok, str(verify_destination(dest))

    def as_v1(t: pa.Table) -> pa.Table:
        keep = list(evolution.table_at("runs", 1).column_names)
        i = t.schema.get_field_index("schema_version")
        t = t.set_column(i, t.schema.field(i), pa.array([1], pa.int64()))
        return t.select(keep).replace_schema_metadata({**meta, b"schema_version": b"1"})

    _rewrite_runs_row(dest, as_v1)
    report = verify_destination(dest)
    assert report.ok and report.runs[0].data_file == layout.PART_FILE, str(report)


def test_a_runs_row_naming_an_impossible_data_file(dest):
    def bad(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("data_file")
        return t.set_column(i, t.schema.field(i), pa.array(["../../etc/passwd"]))

    _rewrite_runs_row(dest, bad)
    found = problems(dest)
    assert any("data_file names no lake file" in p for p in found), found


def test_an_unreadable_runs_row(dest):
    (dest / layout.commit_key("A")).write_bytes(b"not parquet")
    found = problems(dest)
    assert any(p.startswith(f"{layout.commit_key('A')}: not readable as Parquet") for p in found), found


# -- hostile folders -----------------------------------------------------------------------------------------------


def test_a_symlink_in_a_run_is_reported_not_followed(dest, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    fills = lake_path(dest, "fills")
    shutil.copy(fills, outside / "fills.parquet")
    fills.unlink()
    fills.symlink_to(outside / "fills.parquet")
    (dest / "lake/positions/run_id=A/elsewhere").symlink_to(outside, target_is_directory=True)
    report = verify_destination(dest)
    found = report.runs[0].problems
    assert any(p.startswith(f"{fills.relative_to(dest).as_posix()}: cannot be read (refusing to follow the symbolic link") for p in found), found
    assert any(p.startswith("lake/positions/run_id=A/elsewhere: unexpected object") for p in found), found


def test_files_and_folders_in_odd_places(dest):
    (dest / "lake/fills/run_id=B").write_bytes(b"a file where a partition folder should be")
    (dest / "lake/fills/run_id=A/ünïcödé 🚀.parquet").write_bytes(b"?")
    (dest / "backtest_results/A/sub").mkdir()
    (dest / "backtest_results/A/sub/x.json").write_bytes(b"{}")
    manifest = manifest_path(dest)
    report = verify_destination(dest)
    assert report.strays == ["lake/fills/run_id=B"]
    found = report.runs[0].problems
    assert any(p.startswith("lake/fills/run_id=A/ünïcödé 🚀.parquet: unexpected object") for p in found), found
    assert any(p.startswith("backtest_results/A/sub/x.json: unexpected object") for p in found), found
    # A folder where the manifest should be.
    manifest.unlink()
    manifest.mkdir()
    (manifest / "x").write_bytes(b"")
    found = problems(dest)
    assert f"missing {layout.manifest_key('A')}" in found


# -- 7. library callers exit cleanly (apache/arrow#34314) -------------------------------------------------------


def test_a_library_caller_exits_cleanly_after_validating(dest, small_run):
    """Arrow may abort a finalizing interpreter if one of its threads drops the last reference to Python
    bytes (the buffer behind a Parquet read). verify copies the bytes into Arrow memory first."""
    for i in range(3):
        lake.write_run(small_run(f"B{i}", seed=i), dest)
    code = f"from lake.verify import verify_destination as v; r = v({str(dest)!r}); print(r.ok, len(r.runs))"
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and done.stdout.split() == ["True", "4"], done.stderr[-2000:]


@pytest.mark.parametrize("link", ["lake", "backtest_results", ".tmp"])
def test_a_symlinked_top_folder_is_a_problem_of_the_destination(dest, tmp_path_factory, link):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "x").write_bytes(b"outside")
    top = dest / link
    if top.exists():
        shutil.rmtree(top)
    top.symlink_to(outside, target_is_directory=True)
    report = verify_destination(dest)
    assert not report.ok
    assert any("refusing to follow the symbolic link" in p and link in p for p in report.problems), str(report)
    assert "problem(s) with the destination itself" in str(report)
