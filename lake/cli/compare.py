"""`lake compare`: a leaderboard of chosen runs side by side, and a PNG of their equity curves."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from lake.errors import LakeError

# Leaderboard columns shown as rows, one column per run (and currency).
FIELDS = [
    "net_pnl", "commission", "trades", "closed_positions", "win_rate", "max_drawdown", "max_drawdown_pct",
    "sharpe", "return_days", "turnover",
]
# run_vs_run columns shown when exactly two runs are compared.
PER_INSTRUMENT = [
    "instrument_id", "currency", "net_pnl_a", "net_pnl_b", "net_pnl_diff", "commission_a", "commission_b", "fills_a", "fills_b",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="leaderboard of runs side by side and a PNG of their equity curves")
    p.add_argument("runs", nargs="+", metavar="RUN_ID", help="two or more committed runs")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--png", default="lake-compare.png", help="where to save the equity curves (default: ./lake-compare.png)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from lake.catalog.engine import open_engine, run_query
    from lake.catalog.translate import command_query
    from lake.cli.format import side_by_side, table
    from lake.run import check_run_id
    from lake.stores import default_dest

    runs = list(dict.fromkeys(check_run_id(r) for r in args.runs))
    if len(runs) < 2:
        raise LakeError("compare needs at least two different run ids")
    dest = args.dest or default_dest()
    con = open_engine(dest, runs=runs)  # only these runs' files are opened
    try:
        found = set(run_query(con, command_query("runs"), {"run_ids": runs}).column("run_id").to_pylist())
        missing = [r for r in runs if r not in found]
        if missing:
            raise LakeError(f"not committed in {dest}: {', '.join(missing)}")
        board = run_query(con, "leaderboard", {"run_ids": runs}).to_pylist()
        order = {r: i for i, r in enumerate(runs)}
        board.sort(key=lambda row: (order[row["run_id"]], row["currency"]))
        print(side_by_side("metric", [f"{r['run_id']} ({r['currency']})" for r in board], board, FIELDS))
        if len(runs) == 2:
            per_instrument = run_query(con, "run_vs_run", {"run_a": runs[0], "run_b": runs[1]})
            print(f"\nper instrument (a = {runs[0]}, b = {runs[1]}):")
            print(table(per_instrument.select(PER_INSTRUMENT)))
        samples = run_query(con, command_query("equity_samples"), {"run_ids": runs})
    finally:
        con.close()
    out = plot_equity(samples, args.png, "equity: " + " vs ".join(runs))
    print(f"\nequity curves saved to {out.resolve()}")
    return 0


def plot_equity(samples, path: str | os.PathLike, title: str) -> Path:
    """Equity, and equity over its first sample, one line per run and currency; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    frame = samples.to_pandas()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), dpi=100, sharex=True)
    try:
        for (run_id, currency), group in frame.groupby(["run_id", "currency"], sort=True):
            label = f"{run_id} ({currency})"
            top.plot(group["ts"], group["equity"], label=label, linewidth=1.2)
            first = group["equity"].iloc[0]
            if first:
                bottom.plot(group["ts"], group["equity"] / first, label=label, linewidth=1.2)
        top.set_title(title)
        top.set_ylabel("equity")
        bottom.set_ylabel("equity / first sample")
        bottom.set_xlabel("time (UTC)")
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        top.legend(loc="best")
        fig.autofmt_xdate()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out
