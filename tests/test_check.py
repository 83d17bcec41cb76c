"""check_run and `lake check`: write_run's checks without writing, for CI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.cli import main
from lake.write.push import push
from lake.write.spec_files import read_spec_run
from lake.stores import LocalStore
from tests.conftest import files_under
from tests.support.bad_inputs import BAD_RUNS

LAKE = Path(sys.executable).with_name("lake")


@pytest.mark.parametrize("make, expected", BAD_RUNS)
def test_check_run_and_write_run_agree_on_every_bad_input(tmp_path, make, expected):
    run = make("agree")
    report = lake.check_run(run)
    with pytest.raises(lake.ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    assert [str(f) for f in report.failures] == [str(f) for f in err.value.failures]
    assert not report.ok and report.objects == []
    text = str(report)
    for piece in expected:
        assert piece in text, text
    assert files_under(tmp_path / "dest") == []


def test_check_run_on_a_good_run_lists_what_write_run_writes(tmp_path, small_run, monkeypatch):
    monkeypatch.chdir(tmp_path)  # check_run has no destination: nothing may appear anywhere
    run = small_run("good-check")
    report = lake.check_run(run)
    assert report.ok and report.failures == []
    assert files_under(tmp_path) == []

    written = lake.write_run(run, tmp_path / "dest")
    on_disk = {key: (tmp_path / "dest" / key).stat().st_size for key in files_under(tmp_path / "dest")}
    planned = {o.key: o for o in report.objects}
    assert sorted(planned) == sorted(on_disk)
    # The manifest and the runs row carry the write time; every other object is the very same bytes.
    stamped = {layout.manifest_key(run.run_id), layout.commit_key(run.run_id)}
    assert {k: o.size for k, o in planned.items() if k not in stamped} == {k: s for k, s in on_disk.items() if k not in stamped}
    assert {o.key: o.rows for o in written.objects} == {k: planned[k].rows for k in (o.key for o in written.objects)}
    assert planned[layout.spec_table_key(run.run_id, "fills")].rows == 60
    assert planned[layout.commit_key(run.run_id)].rows == 1
    assert report.to_dict()["objects"][0] == {"key": layout.manifest_key(run.run_id), "size": planned[layout.manifest_key(run.run_id)].size, "rows": None}


def test_the_report_as_json_names_table_column_check_and_rows(small_run):
    run = small_run("json-report")
    fills = run.fills.to_pandas()
    fills.loc[3, "liquidity_side"] = "maker"
    report = lake.check_run(lake.Run(run.run_id, run.summary, run.orders, fills, run.positions, run.equity_curve))
    (failure,) = json.loads(json.dumps(report.to_dict()))["failures"]
    assert failure["table"] == "fills" and failure["column"] == "liquidity_side"
    assert failure["check"].startswith("isin") and failure["count"] == 1
    assert failure["rows"] == [{"row": 3, "value": "maker"}]


# -- lake check PATH -----------------------------------------------------------------------------


def spec_folder(tmp_path: Path, small_run, run_ids=("spec-good", "spec-bad")) -> Path:
    """A folder of spec files only (no manifest, no lake/), as a strategy repository would produce."""
    store = tmp_path / "store"
    for seed, rid in enumerate(run_ids, 1):
        lake.write_run(small_run(rid, seed=seed), store)
    spec = tmp_path / "spec"
    for top in ("backtest_results", "config", "logs"):
        shutil.copytree(store / top, spec / top)
    for rid in run_ids:
        (spec / layout.manifest_key(rid)).unlink()
    return spec


def drop_column(path: Path, column: str) -> None:
    pq.write_table(pq.read_table(path).drop_columns([column]), path)


def test_lake_check_names_the_bad_table_in_text(tmp_path, small_run, capsys):
    spec = spec_folder(tmp_path, small_run)
    drop_column(spec / layout.spec_table_key("spec-bad", "fills"), "last_px")
    before = files_under(spec)
    assert main(["check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "2 run(s), 1 ok, 1 with problems" in out
    assert "BAD spec-bad: 1 problem" in out and "fills.last_px [missing_column]" in out
    assert "ok  spec-good: would write 13 objects" in out
    assert files_under(spec) == before  # nothing written, not even a temp folder


def test_lake_check_names_the_bad_table_in_json(tmp_path, small_run, capsys):
    spec = spec_folder(tmp_path, small_run)
    drop_column(spec / layout.spec_table_key("spec-bad", "fills"), "last_px")
    assert main(["check", str(spec), "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and result["unexpected_files"] == []
    runs = {r["run_id"]: r for r in result["runs"]}
    assert runs["spec-good"]["ok"] and runs["spec-good"]["failures"] == []
    assert {o["key"] for o in runs["spec-good"]["objects"]} == set(layout.run_keys("spec-good"))
    (failure,) = runs["spec-bad"]["failures"]
    assert (failure["table"], failure["column"], failure["check"]) == ("fills", "last_px", "missing_column")
    assert runs["spec-bad"]["objects"] == []


def test_lake_check_passes_a_committed_lake_and_a_single_run_folder(tmp_path, small_run, capsys):
    store = tmp_path / "store"
    lake.write_run(small_run("whole"), store)
    assert main(["check", str(store)]) == 0  # the lake's own files (manifest, lake/) are expected there
    run_folder = store / "backtest_results" / "whole"
    assert main(["check", str(run_folder), "--format", "json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{"):])
    assert result["ok"] and [r["run_id"] for r in result["runs"]] == ["whole"]


def test_a_single_run_folder_with_a_bad_summary(tmp_path, small_run, capsys):
    store = tmp_path / "store"
    lake.write_run(small_run("odd"), store)
    folder = store / "backtest_results" / "odd"
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "backtest_start": "last tuesday", "trader_id": 7}))
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "summary.backtest_start [runs_row]" in out and "last tuesday" in out
    assert "summary.trader_id [runs_row]" in out


def test_push_and_check_read_spec_files_the_same_way(tmp_path, small_run, capsys):
    spec = spec_folder(tmp_path, small_run)
    path = spec / layout.spec_table_key("spec-bad", "orders")
    path.write_bytes(path.read_bytes()[:300])  # a truncated upload
    assert main(["check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "orders [parquet_file]: backtest_results/spec-bad/orders.parquet is not readable as Parquet" in out
    report = push(spec, tmp_path / "pushed")
    assert set(report.pushed) == {"spec-good"}
    assert "backtest_results/spec-bad/orders.parquet is not readable as Parquet" in report.refused["spec-bad"]
    good = read_spec_run(LocalStore(spec), "spec-good", set(files_under(spec)))
    assert lake.check_run(good).ok


def _write(path: Path, text: str = "{}") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _missing(root: Path) -> Path:
    return root / "missing"


def _a_file(root: Path) -> Path:
    _write(root / "a-file.json")
    return root / "a-file.json"


def _empty(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _stray_only(root: Path) -> Path:
    _write(root / "stray" / "backtest_results" / "notes.txt")
    return root / "stray"


def _run_folder_misnamed(root: Path) -> Path:
    _write(root / "bad name" / "summary.json")
    return root / "bad name"


def _the_backtest_results_folder(root: Path) -> Path:
    _write(root / "store" / "backtest_results" / "run-1" / "summary.json")
    return root / "store" / "backtest_results"


@pytest.mark.parametrize(
    "setup, message",
    [
        (_missing, "no such file or folder"),
        (_a_file, "is a file; give a folder"),
        (_empty, "no runs found under"),
        (_stray_only, "1 file(s) outside any run"),
        (_run_folder_misnamed, "its name must be the run_id"),
        (_the_backtest_results_folder, "it holds run folders (e.g. run-1)"),
    ],
)
def test_lake_check_refuses_paths_without_runs_clearly(tmp_path, setup, message, capsys):
    path = setup(tmp_path)
    assert main(["check", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert main(["check", str(path), "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and message in result["error"]


def test_stray_and_unreadable_files_are_each_named(tmp_path, small_run, capsys):
    spec = spec_folder(tmp_path, small_run)
    run_dir = spec / "backtest_results" / "spec-good"
    (run_dir / "fills.parquet").rename(run_dir / "fill.parquet")  # a misspelt name
    (spec / "config" / "spec-good" / "backtest_config.json").write_text('{"fast": ')
    (spec / "backtest_results" / "README.txt").write_text("not a run")
    (spec / "notes.md").write_text("outside the store's folders: ignored")
    assert main(["check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "files [unexpected_file]: backtest_results/spec-good/fill.parquet is not one of the run's spec files" in out
    assert "config [json_file]: config/spec-good/backtest_config.json is not valid JSON" in out
    assert "1 file(s) belong to no run" in out and "backtest_results/README.txt" in out
    assert "notes.md" not in out


def test_console_script_exits_1_without_a_traceback(tmp_path, small_run):
    spec = spec_folder(tmp_path, small_run, run_ids=("cli-bad",))
    summary = spec / layout.summary_key("cli-bad")
    summary.write_text('{"a": ' * 5000 + "1" + "}" * 5000)  # nested too deeply for json to read
    for args in (["check", str(spec)], ["check", str(tmp_path / "nowhere")], ["check", str(summary)]):
        proc = subprocess.run([str(LAKE), *args], capture_output=True, text=True)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
    assert "nested too deeply" in subprocess.run([str(LAKE), "check", str(spec)], capture_output=True, text=True).stdout
