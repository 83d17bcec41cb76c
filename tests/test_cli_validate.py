"""`lake validate` and friends, as the backend's CI calls them."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import lake
from lake import layout
from lake.cli import main

LAKE = Path(sys.executable).with_name("lake")


def test_validate_passes_on_a_good_destination(tmp_path, small_run, capsys):
    for i in range(2):
        lake.write_run(small_run(f"good-{i}", seed=i), tmp_path)
    assert main(["validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 committed run(s), 2 valid, 0 invalid" in out and "ok  good-0" in out


def test_validate_names_each_problem_and_exits_non_zero(tmp_path, small_run, capsys):
    for name in ("bytes", "schema", "values", "partial"):
        lake.write_run(small_run(f"r-{name}"), tmp_path)
    # 1. bytes changed behind the manifest's back
    key = tmp_path / layout.lake_key("r-bytes", "positions")
    data = pq.read_table(key)
    key.unlink()
    pq.write_table(data, key, compression="snappy")
    # 2. a file whose schema is not the contract (a decimal column written as float)
    key = tmp_path / layout.lake_key("r-schema", "fills")
    table = pq.read_table(key)
    idx = table.schema.get_field_index("last_px")
    table = table.set_column(idx, "last_px", table.column("last_px").cast(pa.float64()))
    key.unlink()
    pq.write_table(table, key)
    # 3. valid schema, broken value (a duplicate trade_id)
    key = tmp_path / layout.lake_key("r-values", "fills")
    table = pq.read_table(key)
    ids = table.column("trade_id").to_pylist()
    ids[1] = ids[0]
    table = table.set_column(0, table.schema.field(0), pa.array(ids))
    key.unlink()
    pq.write_table(table, key)
    # 4. an uncommitted partial run: runs row gone
    (tmp_path / layout.commit_key("r-partial")).unlink()

    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "3 committed run(s), 0 valid, 3 invalid" in out
    assert "lake/positions/run_id=r-bytes/part-00000.parquet: bytes differ from the manifest" in out
    assert "lake/fills/run_id=r-schema/part-00000.parquet: schema differs from the fills contract: last_px is double" in out
    assert "lake/fills/run_id=r-values/part-00000.parquet: fills.trade_id [unique]" in out
    assert "1 uncommitted partial run(s)" in out and "r-partial: 12 object(s)" in out


def test_validate_one_run_and_a_missing_run(tmp_path, small_run, capsys):
    lake.write_run(small_run("only"), tmp_path)
    assert main(["validate", str(tmp_path), "--run-id", "only"]) == 0
    assert main(["validate", str(tmp_path), "--run-id", "absent"]) == 1
    assert "no run 'absent' in this destination" in capsys.readouterr().out
    assert main(["validate", str(tmp_path), "--run-id", "../etc"]) == 2
    assert "invalid run_id" in capsys.readouterr().err


def test_console_script_writes_and_shows_runs(tmp_path):
    out = subprocess.run(
        [LAKE, "write-synthetic", "--dest", tmp_path, "--runs", "2", "--fills", "500", "--prefix", "cli"],
        capture_output=True, text=True, check=True,
    )
    assert out.stderr.count("Z-cli-") >= 2  # <UTC time>Z-cli-<seed>-<hex>
    shown = subprocess.run([LAKE, "runs", "--dest", tmp_path], capture_output=True, text=True, check=True).stdout
    # Long run ids are shown once in a legend ("run 1: <id>") and the columns are named by number.
    legend = [line.split(": ", 1)[1] for line in shown.splitlines() if line.startswith("run ")]
    assert len(legend) == 2 and all("Z-cli-" in run_id for run_id in legend)
    header = next(line for line in shown.splitlines() if line.startswith("field"))
    assert header.split()[1:] == ["run", "1", "run", "2"]
    fill_row = next(line for line in shown.splitlines() if line.startswith("fill_count")).split()
    assert fill_row[1:] == ["500", "500"]
    header = ["field", *legend]
    manifest = json.loads((tmp_path / layout.manifest_key(header[1])).read_bytes())
    assert manifest["run_id"] == header[1]


def test_validate_of_a_missing_folder_is_an_error_not_an_empty_lake(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "typo")]) == 2
    assert "no lake at" in capsys.readouterr().err


def test_validate_reports_strays_and_manifests_of_any_shape_and_exits_1(tmp_path, small_run, capsys):
    lake.write_run(small_run("a"), tmp_path)
    assert main(["validate", str(tmp_path)]) == 0
    capsys.readouterr()
    # A stray copy in a run folder, a runs row under an invalid run_id, a manifest that is a string.
    fills = tmp_path / layout.lake_key("a", "fills")
    fills.with_name("part-00001.parquet").write_bytes(fills.read_bytes())
    bad = tmp_path / "lake/runs/run_id=..bad/part-00000.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes((tmp_path / layout.commit_key("a")).read_bytes())
    (tmp_path / layout.manifest_key("a")).write_text('"x"')
    assert main(["validate", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "lake/fills/run_id=a/part-00001.parquet: unexpected object" in out
    assert "1 object(s) outside any run" in out and "lake/runs/run_id=..bad/part-00000.parquet" in out
    assert "backtest_results/a/_manifest.json: expected a JSON object with run_id, created_at and objects, got a string" in out


def test_validate_lists_an_older_generation_as_safe_to_delete_and_exits_0(tmp_path, small_run, capsys):
    lake.write_run(small_run("a"), tmp_path)
    row = pq.read_table(tmp_path / layout.commit_key("a")).to_pylist()[0]
    named = tmp_path / layout.lake_key("a", "fills", row.get("data_file") or layout.PART_FILE)
    leftover = named.with_name("part-00000000deadbeef.parquet")
    leftover.write_bytes(named.read_bytes())
    assert main(["validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 lake file(s) of older generations of committed runs" in out and "safe to delete" in out
    assert leftover.relative_to(tmp_path).as_posix() in out
