"""`lake compare`: a leaderboard of chosen runs side by side, and a PNG of their equity curves."""

from __future__ import annotations

import argparse

from lake.errors import LakeError

# Leaderboard columns shown as rows, one column per run (and currency); the leaderboard's `sharpe` (of daily
# equity returns) is shown as equity_sharpe, beside NautilusTrader's position-return Sharpe from the runs row,
# so the two are never taken for one another.
FIELDS = [
    "net_pnl", "commission", "trades", "closed_positions", "win_rate", "max_drawdown", "max_drawdown_pct",
    "equity_sharpe", "return_days", "position_returns_sharpe", "turnover",
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
    from lake.cli.format import column_labels, side_by_side, table
    from lake.cli.plot import plot_equity
    from lake.cli.runs import position_returns_sharpe
    from lake.run import check_run_id
    from lake.stores import default_dest

    runs = list(dict.fromkeys(check_run_id(r) for r in args.runs))
    if len(runs) < 2:
        raise LakeError("compare needs at least two different run ids")
    dest = args.dest or default_dest()
    con = open_engine(dest, runs=runs)  # only these runs' files are opened
    try:
        found = {r["run_id"]: r for r in run_query(con, command_query("runs"), {"run_ids": runs}).to_pylist()}
        missing = [r for r in runs if r not in found]
        if missing:
            raise LakeError(f"not committed in {dest}: {', '.join(missing)}")
        board = run_query(con, "leaderboard", {"run_ids": runs}).to_pylist()
        order = {r: i for i, r in enumerate(runs)}
        board.sort(key=lambda row: (order[row["run_id"]], row["currency"]))
        records = [
            {**row, "equity_sharpe": row["sharpe"], "position_returns_sharpe": position_returns_sharpe(found[row["run_id"]])}
            for row in board
        ]
        labels, legend = column_labels([f"{r['run_id']} ({r['currency']})" for r in board])
        print("\n".join([*legend, side_by_side("metric", labels, records, FIELDS)]))
        print("(equity_sharpe: of daily equity returns; position_returns_sharpe: NautilusTrader's, of position returns "
              "gross of commission)")
        if len(runs) == 2:
            per_instrument = run_query(con, "run_vs_run", {"run_a": runs[0], "run_b": runs[1]})
            print(f"\nper instrument (a = {runs[0]}, b = {runs[1]}):")
            print(table(per_instrument.select(PER_INSTRUMENT)))
        samples = run_query(con, command_query("equity_samples"), {"run_ids": runs})
    finally:
        con.close()
    picture = plot_equity(samples, args.png, "equity: " + " vs ".join(runs))
    print(f"\nequity curves saved to {picture.path.resolve()}")
    return 0

