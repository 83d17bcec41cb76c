"""Sweeps: runs grouped into an experiment, their parameters as data, ranked in SQL and pictured.

On a lake written by write_run (tests/sql_lake.py: a 3 x 2 grid of fast_period x entry, a run without
the parameter, a run of another experiment and an uncommitted run), on DuckDB:
- sweep.sql: one row per committed run of the experiment, parameters read back from params_json;
- the runs row's equity figures are the leaderboard's, for the same runs;
- param_effect.sql against pandas, computed from the runs' own tables;
- `lake sweep`: the table, and a PNG of the expected size with one cell per grid point (from the data that
  drew it); `lake runs --experiment`; `lake compare` naming both Sharpe ratios.
"""

from __future__ import annotations

import json
import struct
from decimal import Decimal as D

import pandas as pd
import pytest

from lake.catalog.engine import open_engine, run_query
from lake.cli import main
from lake.cli.plot import DPI, FIGSIZE
from lake.cli.sweep import resolve_param, sweep_report
from lake.errors import LakeError
from tests.sql_lake import ENTRY, FAST, SWEEP, SWEEP_GRID, alpha, build_sweep_lake, run_0042, sweep_runs
from tests.test_sql_queries import pandas_sharpe

ALPHA_PNL, B_PNL = D("22.36"), D("-11.55")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return build_sweep_lake(tmp_path_factory.mktemp("sweep-lake"))


@pytest.fixture(scope="module")
def con(lake):
    c = open_engine(lake)
    yield c
    c.close()


def test_sweep_ranks_the_experiments_committed_runs_with_their_parameters(con):
    rows = run_query(con, "sweep", {"experiment": SWEEP, "x": FAST, "y": ENTRY}).to_pylist()
    grid = {run_id: (str(fast), entry, make) for run_id, make, fast, entry in SWEEP_GRID}
    assert {r["run_id"] for r in rows} == {*grid, "g-no-fast"}  # not the other experiment's, not the uncommitted
    for r in rows:
        if r["run_id"] == "g-no-fast":
            assert (r["x"], r["y"]) == (None, "MARKET")
            continue
        fast, entry, make = grid[r["run_id"]]
        assert (r["x"], r["y"]) == (fast, entry)  # params_json read back through JSON_VALUE
        assert r["net_pnl"] == (ALPHA_PNL if make is alpha else B_PNL)
        assert r["trades"] == make().fills.shape[0] and r["currency"] == "USDT"
        params = json.loads(r["params"])
        assert params == {FAST: int(fast), ENTRY: entry, "S-1.levels": "[1,2]", "venue.BINANCE.oms_type": "NETTING"}
    # ranked by net PnL: the four alpha-made runs share rank 1, the three 0042-made ones rank 5
    assert sorted((r["rank"], r["net_pnl"]) for r in rows) == [(1, ALPHA_PNL)] * 4 + [(5, B_PNL)] * 3
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    # without @x and @y the columns are null
    plain = run_query(con, "sweep", {"experiment": SWEEP}).to_pylist()
    assert len(plain) == 7 and all(r["x"] is None and r["y"] is None for r in plain)
    assert run_query(con, "sweep", {"experiment": "no-such-experiment"}).num_rows == 0


def test_the_runs_rows_equity_figures_are_the_leaderboards(con):
    """Computed by the writer (lake/write/equity_stats.py) and by leaderboard.sql: the same numbers."""
    sweep = {r["run_id"]: r for r in run_query(con, "sweep", {"experiment": SWEEP}).to_pylist()}
    board = {r["run_id"]: r for r in run_query(con, "leaderboard", {"run_ids": list(sweep)}).to_pylist() if r["currency"] == "USDT"}
    for run_id, row in sweep.items():
        lead = board[run_id]
        assert row["max_drawdown"] == lead["max_drawdown"]
        assert row["max_drawdown_pct"] == pytest.approx(lead["max_drawdown_pct"], rel=1e-12)
        assert row["equity_sharpe"] == (pytest.approx(lead["sharpe"], rel=1e-9) if lead["sharpe"] is not None else None)
    assert board["g-5-market"]["sharpe"] is not None and board["g-5-limit"]["sharpe"] is None  # both cases covered


def test_param_effect_against_pandas(con):
    runs = {r.run_id: r for r in sweep_runs()}
    for param, name in ((FAST, "fast_period"), (ENTRY, "entry")):
        got = run_query(con, "param_effect", {"experiment": SWEEP, "param": param}).to_pylist()
        # pandas, from the runs' own tables: net PnL = sum of positions' realized PnL, Sharpe of daily equity
        frame = pd.DataFrame(
            [
                {
                    "value": str(run.params[param]),
                    "net_pnl": run.positions["realized_pnl"].sum(),
                    "sharpe": pandas_sharpe(run.equity_curve)[0],
                }
                for run in runs.values()
                if run.experiment == SWEEP and param in run.params
            ]
        )
        frame["sharpe"] = frame["sharpe"].astype(float)
        expected = frame.groupby("value").agg(
            runs=("net_pnl", "size"), mean_net_pnl=("net_pnl", lambda s: float(sum(s)) / len(s)),
            min_net_pnl=("net_pnl", "min"), max_net_pnl=("net_pnl", "max"),
            mean_sharpe=("sharpe", "mean"), min_sharpe=("sharpe", "min"), max_sharpe=("sharpe", "max"),
        )
        assert [r["value"] for r in got] == sorted(expected.index, key=lambda v: float(v) if name == "fast_period" else v), name
        for r in got:
            e = expected.loc[r["value"]]
            assert r["currency"] == "USDT" and r["runs"] == e["runs"]
            assert r["mean_net_pnl"] == pytest.approx(e["mean_net_pnl"])
            assert (r["min_net_pnl"], r["max_net_pnl"]) == (e["min_net_pnl"], e["max_net_pnl"])
            for stat in ("mean_sharpe", "min_sharpe", "max_sharpe"):
                assert r[stat] == (None if pd.isna(e[stat]) else pytest.approx(e[stat])), (name, r["value"], stat)
    # numbers order as numbers (5 < 10 < 20), and the uncommitted run's huge amounts show nowhere
    fast = run_query(con, "param_effect", {"experiment": SWEEP, "param": FAST}).to_pylist()
    assert [(r["value"], r["runs"], r["max_net_pnl"]) for r in fast] == [("5", 2, ALPHA_PNL), ("10", 2, B_PNL), ("20", 2, ALPHA_PNL)]
    assert run_query(con, "param_effect", {"experiment": SWEEP, "param": "S-1.nope"}).num_rows == 0


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_lake_sweep_prints_the_table_and_saves_a_heatmap_with_one_cell_per_grid_point(lake, tmp_path):
    report = sweep_report(lake, SWEEP, x="fast_period", y="entry", png=str(tmp_path / "sweep.png"))
    picture, grid = report.picture, report.grid
    assert _png_size(picture.path) == picture.size == (FIGSIZE[0] * DPI, FIGSIZE[1] * DPI)
    # the axes are the grid's values (numbers in numeric order), one drawn cell per grid point
    assert (grid.x_name, grid.x_values, grid.y_name, grid.y_values) == ("fast_period", ["5", "10", "20"], "entry", ["LIMIT", "MARKET"])
    by_point = {(str(fast), entry): (ALPHA_PNL if make is alpha else B_PNL) for _, make, fast, entry in SWEEP_GRID}
    assert picture.cells == [[float(by_point[x, y]) for x in grid.x_values] for y in grid.y_values]
    assert grid.counts == [[1, 1, 1], [1, 1, 1]]
    assert len(picture.labels) == 6 and "22.36" in picture.labels and "-11.55" in picture.labels
    # the table: every run of the experiment, the axis columns named by their parameter
    lines = report.text.splitlines()
    header = lines[1].split()
    assert header[:4] == ["rank", "run_id", "fast_period", "entry"] and "equity_sharpe" in header
    assert sum(line.split()[1] in {*dict.fromkeys(r for r, *_ in SWEEP_GRID), "g-no-fast"} for line in lines[3:10]) == 7
    assert "other-5" not in report.text and "g-uncommitted" not in report.text
    assert f"heatmap of net_pnl over fast_period x entry saved to {picture.path.resolve()}" in report.text


def test_lake_sweep_defaults_to_the_varying_parameters_and_draws_a_line_for_one(lake, tmp_path):
    report = sweep_report(lake, SWEEP, png=str(tmp_path / "default.png"))  # entry and fast_period vary
    assert (report.grid.x_name, report.grid.y_name) == ("entry", "fast_period")
    line = sweep_report(lake, SWEEP, x="fast_period", metric="max_drawdown", png=str(tmp_path / "line.png"))
    assert line.grid.y_name is None and _png_size(line.picture.path) == line.picture.size
    drawdown = {"alpha": D(30), "0042": D("11.55")}  # by hand in test_sql_queries: 1020 -> 990, 500 -> 488.45
    by_fast = {"5": [drawdown["alpha"], drawdown["0042"]], "10": [drawdown["0042"]] * 2, "20": [drawdown["alpha"]] * 2}
    assert line.picture.cells == [[float(sum(v)) / 2 for v in by_fast.values()]]
    assert line.grid.counts == [[2, 2, 2]] and "(n=2)" in line.picture.labels[0]
    assert "also varying (averaged in the picture): entry" in line.text


def test_parameter_names_resolve_by_their_last_part_or_are_refused(lake, tmp_path):
    params = {"r1": {"A-1.fast": 5, "B-1.fast": 5, "A-1.slow": 1, "B-1.slow": 2}, "r2": {"A-1.fast": 7, "B-1.fast": 7, "A-1.slow": 3, "B-1.slow": 4}}
    assert resolve_param("fast", params) == "A-1.fast"  # two strategies, the same value in every run: one setting
    assert resolve_param("B-1.slow", params) == "B-1.slow"
    with pytest.raises(LakeError, match=r"'slow' is ambiguous: A-1.slow, B-1.slow"):
        resolve_param("slow", params)
    with pytest.raises(LakeError, match=r"no run of this experiment has a parameter 'nope'"):
        sweep_report(lake, SWEEP, x="nope", png=str(tmp_path / "x.png"))
    with pytest.raises(LakeError, match=r"--x and --y both name S-1.entry"):
        sweep_report(lake, SWEEP, x="entry", y="S-1.entry", png=str(tmp_path / "x.png"))
    with pytest.raises(LakeError, match=r"--y needs --x"):
        sweep_report(lake, SWEEP, y="entry", png=str(tmp_path / "x.png"))
    with pytest.raises(LakeError, match=r"no committed run of experiment 'ghost'"):
        sweep_report(lake, "ghost", png=str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()


def test_lake_sweep_and_lake_runs_on_the_command_line(lake, tmp_path, capsys):
    png = tmp_path / "cli.png"
    assert main(["sweep", SWEEP, "--dest", str(lake), "--x", "fast_period", "--y", "entry", "--metric", "sharpe", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"heatmap of sharpe over fast_period x entry saved to {png.resolve()}" in out and png.is_file()
    assert main(["sweep", "bad/name", "--dest", str(lake)]) == 2
    assert "invalid experiment 'bad/name'" in capsys.readouterr().err

    assert main(["runs", "--dest", str(lake), "--experiment", SWEEP]) == 0
    out = capsys.readouterr().out
    shown = [line.split()[0] for line in out.splitlines()[2:]]
    assert shown[0] == "experiment" and {"equity_sharpe", "position_returns_sharpe", "max_drawdown", FAST, ENTRY} <= set(shown)
    assert all(run_id in out for run_id in ("g-5-market", "g-20-limit", "g-no-fast")) and "other-5" not in out
    fast_row = next(line for line in out.splitlines() if line.startswith(FAST)).split()[1:]
    assert sorted(fast_row) == sorted(["5", "5", "10", "10", "20", "20", "-"])  # g-no-fast has none


def test_lake_compare_shows_both_sharpe_ratios_by_name(tmp_path, capsys):
    from lake.write import write_run

    summary = {"stats_returns": {"Sharpe Ratio (252 days)": 5.39}}
    for run in (alpha(), run_0042()):
        write_run(type(run)(run.run_id, summary, run.orders, run.fills, run.positions, run.equity_curve), tmp_path)
    assert main(["compare", "alpha", "0042", "--dest", str(tmp_path), "--png", str(tmp_path / "c.png")]) == 0
    assert _png_size(tmp_path / "c.png") == (FIGSIZE[0] * DPI, FIGSIZE[1] * DPI)  # the layout fits, never trims
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["position_returns_sharpe"][:1] == ["5.39"] and rows["equity_sharpe"][0] != "5.39"
    assert "sharpe" not in rows  # never a bare "sharpe" that could be either
