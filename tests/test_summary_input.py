"""The summary fields the runs row reads: parsed explicitly, refused by name before anything is written.

The summary is the caller's free-form dict; the runs row reads backtest_start/end, run_started/finished,
trader_id, strategy_ids/instrument_ids/venues, stats_pnls and stats_returns from it. A bad one used to raise
ValueError/AttributeError/ArrowTypeError after the data objects had been written; an offset was dropped
(pandera's PYARROW_IGNORE_TIMEZONE); a string of ids was split into characters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.synthetic import synthetic_run
from lake.write.push import push
from tests.conftest import files_under

ROOT = Path(__file__).resolve().parents[1]

# (summary field, bad value, text the error names besides summary.<field>)
BAD_FIELDS = [
    ("backtest_start", "yesterday", "ISO 8601"),
    ("backtest_start", "2024-13-01T00:00:00Z", "ISO 8601"),
    ("backtest_end", 1704067200, "ISO 8601"),
    ("run_started", True, "ISO 8601"),
    ("run_finished", ["2024-01-01"], "ISO 8601"),
    ("backtest_start", "0001-01-01T00:00:00+05:00", "outside 0001-01-01"),
    ("trader_id", 5, "non-blank string"),
    ("trader_id", "   ", "non-blank string"),
    ("trader_id", ["TRADER-1"], "non-blank string"),
    ("instrument_ids", ".ABC", "not split into characters"),
    ("strategy_ids", "EMACross-001", "not split into characters"),
    ("venues", "BINANCE", "not split into characters"),
    ("instrument_ids", ["BTCUSDT.BINANCE", ""], "item 1"),
    ("instrument_ids", ["A,B.SIM"], "contains a comma"),
    ("venues", [1], "item 0"),
    ("strategy_ids", {"EMACross-001": 1}, "list of strings"),
    ("stats_pnls", [1], "{currency: {statistic: value}}"),
    ("stats_pnls", {"USDT": [1]}, "{statistic: value}"),
    ("stats_pnls", {"USDT": {"Win Rate": "high"}}, "expected a number"),
    ("stats_returns", "Sharpe 1.2", "{statistic: value}"),
    ("stats_returns", {"Sharpe Ratio (252 days)": "x"}, "expected a number"),
    ("stats_returns", {"Sharpe Ratio (252 days)": True}, "expected a number"),
    ("stats_returns", {"Profit Factor": 10**400}, "FLOAT64"),
    ("stats_returns", {"Custom": {"nested": 1}}, "single value"),
]
BAD_IDS = [f"{field}={value!r}"[:40] for field, value, _ in BAD_FIELDS]


def good_run(run_id: str = "summary-run") -> lake.Run:
    return synthetic_run(run_id, 30, seed=4)


def with_summary(run: lake.Run, **fields) -> lake.Run:
    return lake.Run(run.run_id, {**run.summary, **fields}, run.orders, run.fills, run.positions, run.equity_curve,
                    config=run.config, log=run.log)


def assert_names(err: lake.ValidationError, field: str, text: str) -> None:
    assert ("summary", field) in {(f.table, f.column) for f in err.failures}, str(err)
    assert f"summary.{field} [runs_row]" in str(err) and text in str(err), str(err)


# -- 1. a bad summary is found before anything is written ------------------------------------------


@pytest.mark.parametrize("field, value, text", BAD_FIELDS, ids=BAD_IDS)
def test_bad_summary_field_refused_by_write_run_before_a_byte(tmp_path, field, value, text):
    dest = tmp_path / "dest"
    with pytest.raises(lake.ValidationError) as err:
        lake.write_run(with_summary(good_run(), **{field: value}), dest)
    assert_names(err.value, field, text)
    assert files_under(dest) == []
    report = lake.check_run(with_summary(good_run(), **{field: value}))
    assert [str(f) for f in report.failures] == [str(f) for f in err.value.failures]
    lake.write_run(good_run(), dest)  # the corrected run then writes fine
    assert layout.commit_key("summary-run") in files_under(dest)


@pytest.mark.parametrize("field, value, text", BAD_FIELDS[:12:3], ids=BAD_IDS[:12:3])
def test_bad_summary_field_refused_by_write_run_async_before_a_byte(tmp_path, field, value, text):
    dest = tmp_path / "dest"
    with pytest.raises(lake.ValidationError) as err:
        asyncio.run(lake.write_run_async(with_summary(good_run(), **{field: value}), dest))
    assert_names(err.value, field, text)
    assert files_under(dest) == []
    asyncio.run(lake.write_run_async(good_run(), dest))
    assert layout.commit_key("summary-run") in files_under(dest)


def spec_files_of(tmp_path: Path, run: lake.Run) -> Path:
    """A folder holding only the run's spec files (as a strategy repository would produce)."""
    written = tmp_path / "written"
    lake.write_run(run, written)
    spec = tmp_path / "spec"
    for top in ("backtest_results", "config", "logs"):
        shutil.copytree(written / top, spec / top)
    (spec / layout.manifest_key(run.run_id)).unlink()  # written by the commit, not a spec file
    return spec


@pytest.mark.parametrize("field, value, text", BAD_FIELDS[::2], ids=BAD_IDS[::2])
def test_bad_summary_field_refused_by_push_of_spec_files_before_a_byte(tmp_path, field, value, text):
    spec = spec_files_of(tmp_path, good_run())
    summary_file = spec / layout.summary_key("summary-run")
    good = summary_file.read_text()
    try:
        json.dumps(value)
    except ValueError:
        pytest.skip("not expressible in a summary.json file")
    summary_file.write_text(json.dumps({**json.loads(good), field: value}))
    dest = tmp_path / "dest"
    report = push(spec, dest)
    assert list(report.refused) == ["summary-run"] and not report.pushed
    assert f"summary.{field} [runs_row]" in report.refused["summary-run"] and text in report.refused["summary-run"]
    assert files_under(dest) == []
    summary_file.write_text(good)  # corrected, the same folder pushes fine
    report = push(spec, dest)
    assert list(report.pushed) == ["summary-run"] and report.ok
    assert layout.commit_key("summary-run") in files_under(dest)


def test_every_bad_field_of_one_summary_in_one_error(tmp_path):
    bad = {"backtest_start": "yesterday", "stats_pnls": [1], "trader_id": 5, "venues": "SIM"}
    with pytest.raises(lake.ValidationError) as err:
        lake.write_run(with_summary(good_run(), **bad), tmp_path / "dest")
    assert {f.column for f in err.value.failures} == set(bad)
    assert files_under(tmp_path / "dest") == []


def test_end_before_start_is_refused(tmp_path):
    run = with_summary(good_run(), backtest_start="2024-01-02T00:00:00Z", backtest_end="2024-01-01T00:00:00Z")
    with pytest.raises(lake.ValidationError) as err:
        lake.write_run(run, tmp_path / "dest")
    assert_names(err.value, "backtest_end", "precedes backtest_start")


def test_nautilus_statistics_of_any_scalar_type_are_kept(tmp_path):
    """NautilusTrader lets custom statistics return int, float, str or bool: those the row does not read pass."""
    stats = {"Sharpe Ratio (252 days)": 1.5, "Long Ratio": "0.55", "Custom flag": True, "Count": 3, "Nothing": None}
    run = with_summary(good_run(), stats_returns=stats, stats_pnls={"USDT": {"Win Rate": 0.5, "Custom": "x"}})
    lake.write_run(run, tmp_path / "dest")
    row = read_runs_row(tmp_path / "dest", run.run_id)
    assert row["sharpe_ratio"] == 1.5 and json.loads(row["summary_json"])["stats_returns"]["Long Ratio"] == "0.55"
    assert row["win_rate"] == 0.5 and json.loads(row["summary_json"])["stats_pnls"]["USDT"]["Custom"] == "x"


def read_runs_row(dest: Path, run_id: str) -> dict:
    (path,) = (dest / layout.LAKE_ROOT / "runs").glob(f"run_id={run_id}/*.parquet")
    return pq.read_table(path).to_pylist()[0]


# -- 4. ids given as one string are refused, never split ----------------------------------------------


@pytest.mark.parametrize("field", ["instrument_ids", "strategy_ids", "venues"])
def test_ids_given_as_a_string_are_refused_not_split_into_characters(tmp_path, field):
    with pytest.raises(lake.ValidationError) as err:
        lake.write_run(with_summary(good_run(), **{field: ".ABC"}), tmp_path / "dest")
    assert_names(err.value, field, "not split into characters")
    assert files_under(tmp_path / "dest") == []


def test_ids_given_as_a_tuple_or_set_are_lists(tmp_path):
    run = with_summary(good_run(), instrument_ids=("BTCUSDT.BINANCE",), venues={"BINANCE"})
    lake.write_run(run, tmp_path / "dest")
    row = read_runs_row(tmp_path / "dest", run.run_id)
    assert (row["instrument_ids"], row["venues"]) == ("BTCUSDT.BINANCE", "BINANCE")


# -- 2. summary times with an offset are stored as the same instant in UTC -------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T05:00:00+05:00",
        "2023-12-31T19:00:00-05:00",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00",  # no offset: UTC, as NautilusTrader reads it
        dt.datetime(2024, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        pd.Timestamp("2024-01-01T05:30:00", tz="Asia/Kolkata"),
    ],
    ids=["+05:00", "-05:00", "Z", "naive", "datetime+05:00", "Timestamp-Kolkata"],
)
def test_summary_time_with_an_offset_is_stored_as_utc(tmp_path, value):
    run = with_summary(good_run(), backtest_start=value, run_started=value)
    lake.write_run(run, tmp_path / "dest")
    row = read_runs_row(tmp_path / "dest", run.run_id)
    expected = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert row["backtest_start"] == expected and row["run_started"] == expected


SUBPROCESS = textwrap.dedent(
    """
    import datetime as dt, json, os, sys
    import pyarrow as pa, pyarrow.parquet as pq
    before = os.environ.get("PYARROW_IGNORE_TIMEZONE")
    import lake
    from lake.synthetic import synthetic_run
    after_import = os.environ.get("PYARROW_IGNORE_TIMEZONE")
    run = synthetic_run("env-run", 20, 1)
    summary = {**run.summary, "backtest_start": "2024-01-01T05:00:00+05:00",
               "run_started": dt.datetime(2024, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=5)))}
    lake.write_run(lake.Run("env-run", summary, run.orders, run.fills, run.positions, run.equity_curve), sys.argv[1])
    after_write = os.environ.get("PYARROW_IGNORE_TIMEZONE")
    (path,) = [p for p in __import__("pathlib").Path(sys.argv[1], "lake", "runs").rglob("*.parquet")]
    row = pq.read_table(path).to_pylist()[0]
    # The caller's own pyarrow conversions keep offsets (unless the caller set the flag).
    own = pa.array([dt.datetime(2024, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=5)))])[0].as_py()
    print(json.dumps({"before": before, "after_import": after_import, "after_write": after_write,
                      "backtest_start": row["backtest_start"].isoformat(), "run_started": row["run_started"].isoformat(),
                      "own": own.astimezone(dt.timezone.utc).isoformat(), "spark": os.environ.get("SPARK_LOCAL_IP")}))
    """
)


@pytest.mark.parametrize("preset", [None, "1", "0"], ids=["unset", "caller-set-1", "caller-set-0"])
def test_import_lake_leaves_pyarrow_ignore_timezone_as_it_was_and_times_stay_exact(tmp_path, preset):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("PYARROW_IGNORE_TIMEZONE", "SPARK_LOCAL_IP")}
    if preset is not None:
        env["PYARROW_IGNORE_TIMEZONE"] = preset
    out = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, str(tmp_path / "dest")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["before"] == result["after_import"] == result["after_write"] == preset
    assert result["spark"] is None  # pandera's other variable is put back too
    assert result["backtest_start"] == result["run_started"] == "2024-01-01T00:00:00+00:00"
    if preset is None:
        assert result["own"] == "2024-01-01T00:00:00+00:00"


# -- conform: timezone-aware table columns in any zone keep their instant, exactly ---------------------


def fills_frame(run: lake.Run) -> pd.DataFrame:
    return run.fills.to_pandas()


def written_fills(dest: Path, run_id: str) -> pa.Table:
    return pq.read_table(dest / layout.lake_key(run_id, "fills"))


@pytest.mark.parametrize("ignore_timezone", [False, True], ids=["env-unset", "PYARROW_IGNORE_TIMEZONE=1"])
def test_table_times_in_any_zone_are_converted_exactly(tmp_path, monkeypatch, ignore_timezone):
    if ignore_timezone:
        monkeypatch.setenv("PYARROW_IGNORE_TIMEZONE", "1")
    run = good_run()
    fills = fills_frame(run)
    utc = fills["ts_event"].copy()
    variants = {
        "kolkata": fills.assign(ts_event=utc.dt.tz_convert("Asia/Kolkata")),
        "new-york": fills.assign(ts_event=utc.dt.tz_convert("America/New_York")),
        # object columns of aware datetimes with fixed offsets, and pd.Timestamps keeping nanoseconds
        "objects": fills.assign(ts_event=pd.Series(
            [t.floor("us").tz_convert(dt.timezone(dt.timedelta(hours=5, minutes=30))).to_pydatetime() for t in utc], dtype=object)),
        "timestamps": fills.assign(ts_event=pd.Series([t.tz_convert("Asia/Tokyo") for t in utc], dtype=object)),
    }
    expected = written_fills(*_write(tmp_path / "utc", run, fills))
    for name, frame in variants.items():
        got = written_fills(*_write(tmp_path / name, run, frame))
        assert got.column("ts_event").equals(expected.column("ts_event")), name
        if name != "objects":  # Python datetimes hold microseconds; the others keep every nanosecond
            assert got.column("ts_event_ns").equals(expected.column("ts_event_ns")), name


def _write(dest: Path, run: lake.Run, fills: pd.DataFrame):
    lake.write_run(lake.Run(run.run_id, run.summary, run.orders, fills, run.positions, run.equity_curve), dest)
    return dest, run.run_id


def test_object_column_of_timestamps_keeps_nanoseconds(tmp_path):
    run = good_run()
    fills = fills_frame(run)
    ns = [pd.Timestamp(int(t.value) + 7, tz="UTC") for t in fills["ts_event"]]
    fills["ts_event"] = pd.Series([t.tz_convert("Europe/Paris") for t in ns], dtype=object)
    got = written_fills(*_write(tmp_path / "dest", run, fills))
    assert got.column("ts_event_ns").to_pylist() == [t.value for t in ns]


def test_naive_datetimes_mixed_with_aware_ones_are_refused(tmp_path):
    run = good_run()
    fills = fills_frame(run)
    values = [t.floor("us").to_pydatetime() for t in fills["ts_event"]]
    values[2] = values[2].replace(tzinfo=None)
    fills["ts_event"] = pd.Series(values, dtype=object)
    with pytest.raises(lake.ValidationError, match=r"fills.ts_event \[tz_aware\]: naive datetimes mixed .*row 2"):
        lake.write_run(lake.Run(run.run_id, run.summary, run.orders, fills, run.positions, run.equity_curve),
                       tmp_path / "dest")
    assert files_under(tmp_path / "dest") == []


@pytest.mark.parametrize("missing", [None, pd.NaT, float("nan"), pd.NA], ids=["None", "NaT", "nan", "NA"])
def test_a_missing_summary_time_is_null_not_refused(tmp_path, missing):
    run = with_summary(good_run(), backtest_end=missing)
    lake.write_run(run, tmp_path / "dest")
    assert read_runs_row(tmp_path / "dest", run.run_id)["backtest_end"] is None
