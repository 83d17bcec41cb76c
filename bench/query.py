"""Benchmark: the run leaderboard on DuckDB against pandas, on one local lake, in one process.

    .venv/bin/python bench/query.py                      # 100 runs x 100,000 fills (lake kept in ./bench-lake)
    .venv/bin/python bench/query.py --runs 10 --fills 10000 --lake /tmp/small-lake

The lake is written once by write_run (synthetic runs; reused when already there).
DuckDB runs sql/queries/leaderboard.sql through the BigQuery-to-DuckDB translation.
pandas computes the same leaderboard the way a notebook would: read every run's
fills, positions and equity files (pyarrow dtypes, so decimals stay exact), concatenate,
group. Both answers are compared before any figure is printed.
Targets: DuckDB at least 10x faster than pandas, and the leaderboard under 1 s.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lake import layout  # noqa: E402


def _write_one(args: tuple[str, str, int, int]) -> str:
    from lake.synthetic import synthetic_run
    from lake.write import write_run

    dest, run_id, n_fills, seed = args
    write_run(synthetic_run(run_id, n_fills, seed), dest)
    return run_id


def build_lake(dest: Path, runs: int, fills: int, workers: int) -> list[str]:
    run_ids = [f"bench-{fills}-{i:03d}" for i in range(runs)]
    todo = [(str(dest), r, fills, i) for i, r in enumerate(run_ids) if not (dest / layout.commit_key(r)).exists()]
    if todo:
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for n, _ in enumerate(pool.map(_write_one, todo), 1):
                print(f"\rwriting runs: {n}/{len(todo)}", end="", file=sys.stderr, flush=True)
        print(f"\rwrote {len(todo)} runs in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return run_ids


# --- pandas: the same leaderboard, from the files ---------------------------------------------


def _read_all(dest: Path, table: str, run_ids: list[str], columns: list[str]) -> pd.DataFrame:
    frames = []
    for run_id in run_ids:
        frame = pd.read_parquet(dest / layout.lake_key(run_id, table), columns=columns, dtype_backend="pyarrow")
        frames.append(frame.assign(run_id=run_id))
    return pd.concat(frames, ignore_index=True)


def pandas_leaderboard(dest: Path, run_ids: list[str]) -> pd.DataFrame:
    committed = [r for r in run_ids if (dest / layout.commit_key(r)).exists()]
    fills = _read_all(dest, "fills", committed, ["last_qty", "last_px", "commission", "commission_currency"])
    positions = _read_all(dest, "positions", committed, ["realized_pnl", "currency", "ts_closed"])
    equity = _read_all(dest, "equity_curve", committed, ["ts", "currency", "equity", "peak_equity"])

    notional = fills["last_qty"].astype(float) * fills["last_px"].astype(float)
    activity = fills.assign(notional=notional).groupby("run_id").agg(trades=("last_px", "size"), turnover=("notional", "sum"))
    commission = fills.groupby(["run_id", "commission_currency"])["commission"].sum().rename("commission")
    commission.index = commission.index.set_names(["run_id", "currency"])

    closed = positions["ts_closed"].notna()
    pnl = positions.assign(
        closed=closed.astype(int), won=(closed & (positions["realized_pnl"] > 0)).astype(int)
    ).groupby(["run_id", "currency"]).agg(net_pnl=("realized_pnl", "sum"), closed_positions=("closed", "sum"), won=("won", "sum"))
    pnl["win_rate"] = pnl["won"] / pnl["closed_positions"].replace(0, np.nan)

    equity = equity.sort_values(["run_id", "currency", "ts"])
    eq = equity["equity"].astype(float)
    peak = equity["peak_equity"].astype(float)  # the stored running peak, as the SQL uses it
    dd = equity.assign(dd=peak - eq, dd_pct=(peak - eq) / peak).groupby(["run_id", "currency"]).agg(
        max_drawdown=("dd", "max"), max_drawdown_pct=("dd_pct", "max")
    )
    daily = equity.assign(day=equity["ts"].dt.date, eq=eq).groupby(["run_id", "currency", "day"])["eq"].last()
    returns = daily.groupby(level=[0, 1]).pct_change()
    by = returns.groupby(level=[0, 1])
    sharpe = (by.mean() / by.std(ddof=1) * math.sqrt(252)).rename("sharpe")

    out = pnl.join(commission, how="outer").join(dd, how="outer").join(sharpe, how="left").reset_index()
    return out.merge(activity.reset_index(), on="run_id", how="left")


# --- comparison and timing ----------------------------------------------------------------------


def same_answers(duck: pd.DataFrame, pand: pd.DataFrame) -> None:
    d = duck.set_index(["run_id", "currency"]).sort_index()
    p = pand.set_index(["run_id", "currency"]).sort_index()
    assert list(d.index) == list(p.index), "different (run, currency) rows"
    for col in ("net_pnl", "commission"):  # exact decimals on both sides
        assert [Decimal(str(x)) for x in d[col]] == [Decimal(str(x)) for x in p[col]], col
    assert (d["trades"].to_numpy() == p["trades"].to_numpy()).all()
    assert (d["closed_positions"].to_numpy() == p["closed_positions"].to_numpy()).all()
    for col in ("win_rate", "max_drawdown", "max_drawdown_pct", "sharpe", "turnover"):
        a, b = d[col].astype(float).to_numpy(), p[col].astype(float).to_numpy()
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), col


def timed(fn, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--lake", default="bench-lake", help="lake folder (kept between runs)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    from lake.catalog.engine import open_engine, run_query
    from lake.catalog.translate import load_query

    dest = Path(args.lake)
    run_ids = build_lake(dest, args.runs, args.fills, args.workers)
    size = sum(f.stat().st_size for f in (dest / "lake").rglob("*.parquet"))
    print(f"lake: {dest} ({len(run_ids)} runs x {args.fills:,} fills, {size / 1e6:,.0f} MB of lake Parquet)")
    leaderboard = load_query("leaderboard")
    params = {"run_ids": run_ids}

    t = time.perf_counter()
    con = open_engine(dest)
    open_s = time.perf_counter() - t
    duck_times, duck = timed(lambda: run_query(con, leaderboard, params), args.repeat)
    pandas_times, pand = timed(lambda: pandas_leaderboard(dest, run_ids), args.repeat)
    same_answers(duck.to_pandas(), pand)

    duck_s, pandas_s = statistics.median(duck_times), statistics.median(pandas_times)
    ratio = pandas_s / duck_s
    print(f"rows: {duck.num_rows} (run, currency); DuckDB and pandas answers agree")
    print(f"duckdb  open lake (views):   {open_s * 1000:8.1f} ms")
    print(f"duckdb  leaderboard:         {duck_s * 1000:8.1f} ms  (median of {args.repeat}: {', '.join(f'{x:.3f}' for x in duck_times)} s)")
    print(f"pandas  read + group:        {pandas_s * 1000:8.1f} ms  (median of {args.repeat}: {', '.join(f'{x:.3f}' for x in pandas_times)} s)")
    print(f"ratio   pandas / duckdb:     {ratio:8.1f}x  (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    print(f"target  leaderboard < 1 s:   {'met' if duck_s < 1 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
