"""`lake backtest`: real backtests in subprocesses, each written as a committed run with its own log."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from lake.nautilus.backtest.runner import BacktestSpec, run_backtests, variants
from lake.cli import main
from lake.errors import LakeError


def _committed(dest) -> set[str]:
    return {p.name.split("=", 1)[1] for p in (dest / "lake" / "runs").glob("run_id=*") if (p / "part-00000.parquet").exists()}


def test_lake_backtest_writes_new_runs_and_keeps_earlier_ones(tmp_path, capsys):
    dest = tmp_path / "lakehouse"
    args = ["backtest", "--dest", str(dest), "--runs", "3", "--bars", "300", "--bar-minutes", "1", "--no-progress"]
    assert main(args) == 0
    first = _committed(dest)
    assert len(first) == 3
    assert main(args) == 0
    second = _committed(dest)
    assert len(second) == 6 and first < second  # new run ids, earlier runs kept
    printed = capsys.readouterr().out
    assert all(run_id in printed for run_id in second)

    for run_id in first:
        summary = json.loads((dest / "backtest_results" / run_id / "summary.json").read_text())
        assert summary["nautilus_trader_version"] and summary["equity_source"] == "equity_recorder"
        config = json.loads((dest / "config" / run_id / "backtest_config.json").read_text())
        assert config["backtest"]["run_id"] == run_id and config["strategies"][0]["path"] == "lake.nautilus.backtest.strategies:EMACross"
        # Each subprocess captured its own engine log (JSON lines), and only its own.
        (log,) = list((dest / "logs" / run_id).iterdir())
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        assert lines and {"timestamp", "level", "component", "message"} <= set(lines[0])
        components = sorted({line["component"] for line in lines})
        assert any("EMACross" in c for c in components), (len(lines), components)
        row = pq.read_table(dest / "lake" / "runs" / f"run_id={run_id}" / "part-00000.parquet").to_pylist()[0]
        fills = pq.read_table(dest / "lake" / "fills" / f"run_id={run_id}" / "part-00000.parquet")
        assert row["fill_count"] == fills.num_rows > 0
        assert row["instrument_ids"] in ("BTCUSDT.BINANCE", "ETHUSDT.BINANCE", "BTCUSDT.BINANCE,ETHUSDT.BINANCE")


def test_variants_cover_both_symbols_oms_and_accounts():
    specs = variants(6)
    assert {s.symbols for s in specs} == {("BTCUSDT",), ("ETHUSDT",), ("BTCUSDT", "ETHUSDT")}
    assert {s.oms_type for s in specs} == {"NETTING", "HEDGING"} and {s.account_type for s in specs} == {"MARGIN", "CASH"}
    assert {s.entry for s in specs} == {"MARKET", "LIMIT"}
    assert BacktestSpec.from_json(specs[2].to_json()) == specs[2]


def test_failed_backtest_names_the_run(tmp_path):
    spec = BacktestSpec(symbols=("XRPUSDT",), bars=100, run_id="bad-run-1")
    with pytest.raises(LakeError, match=r"bad-run-1.*XRPUSDT"):
        run_backtests([spec], tmp_path, progress=False)
    assert not (tmp_path / "lake").exists()


def test_a_refused_destination_is_refused_before_any_backtest(monkeypatch):
    """The destination is resolved once, in the parent: a market-data bucket costs no subprocess."""
    import subprocess

    from lake.errors import DestinationError

    def no_child(*args, **kwargs):
        raise AssertionError("a backtest subprocess was started")

    monkeypatch.setattr(subprocess, "run", no_child)
    with pytest.raises(DestinationError, match="market-data"):
        run_backtests([BacktestSpec(bars=100)], "gs://market-data-tick-cefi-central-element-323112/x", progress=False)


def test_lake_backtest_runs_the_product_of_a_grid_under_one_experiment(tmp_path, capsys):
    dest = tmp_path / "lakehouse"
    args = ["backtest", "--dest", str(dest), "--experiment", "ema-grid", "--grid", "fast_period=5,10",
            "--grid", "entry=market,limit", "--bars", "300", "--bar-minutes", "1", "--no-progress"]
    assert main(args) == 0
    rows = [pq.read_table(dest / "lake" / "runs" / f"run_id={r}" / "part-00000.parquet").to_pylist()[0] for r in _committed(dest)]
    assert len(rows) == 4 and {r["experiment"] for r in rows} == {"ema-grid"}
    points = {(json.loads(r["params_json"])["EMACross-BTCUSDT.fast_period"], json.loads(r["params_json"])["EMACross-BTCUSDT.entry"])
              for r in rows}
    assert points == {(5, "MARKET"), (5, "LIMIT"), (10, "MARKET"), (10, "LIMIT")}
    assert {r["instrument_ids"] for r in rows} == {"BTCUSDT.BINANCE"}  # a grid trades the same market in every run
    capsys.readouterr()
    png = tmp_path / "grid.png"
    assert main(["sweep", "ema-grid", "--dest", str(dest), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "experiment ema-grid: 4 runs" in out and f"heatmap of net_pnl over entry x fast_period saved to {png.resolve()}" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--grid", "fast_periods=5,10"], "--grid fast_periods: not a backtest setting"),
        (["--grid", "fast_period=5,ten"], "--grid fast_period: 'ten' is not a valid int"),
        (["--grid", "fast_period=5", "--grid", "fast_period=10"], "--grid fast_period is given twice"),
        (["--grid", "fast_period"], "expected SETTING=V1,V2"),
        (["--grid", "fast_period=5,40"], "fast_period=40, slow_period=30 (need 0 < fast_period < slow_period)"),
        (["--grid", "entry=MARKET,STOP"], "entry='STOP' (choose from MARKET, LIMIT)"),
        (["--grid", "fast_period=5", "--runs", "2"], "--runs and --grid do not go together"),
        (["--grid", "fast_period=5", "--experiment", "bad name"], "invalid experiment 'bad name'"),
        (["--grid", "fast_period=5", "--symbols", "XRPUSDT"], "unknown symbols ['XRPUSDT']"),
    ],
)
def test_a_bad_grid_is_refused_before_any_backtest(tmp_path, monkeypatch, capsys, extra, message):
    import subprocess

    def no_child(*args, **kwargs):
        raise AssertionError("a backtest subprocess was started")

    monkeypatch.setattr(subprocess, "run", no_child)
    assert main(["backtest", "--dest", str(tmp_path / "lake"), "--no-progress", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lake").exists()
