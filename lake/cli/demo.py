"""`lake demo`: the main job end to end: real backtests into a local lake, validated, shown side by side."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: real backtests into a local lake, validated, shown side by side")
    p.add_argument("--dest", default=None, help="local lake folder (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--runs", type=int, default=4, help="how many backtests")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    """Run a few NautilusTrader backtests, write each with write_run, validate the lake, show the new runs."""
    from lake import layout
    from lake.cli.runs import runs_side_by_side
    from lake.nautilus.backtest.runner import run_demo_backtests
    from lake.stores import default_dest
    from lake.verify import verify_destination

    dest = args.dest or default_dest()
    run_ids = run_demo_backtests(dest, n_runs=args.runs, progress=True)
    report = verify_destination(dest)
    print(report)
    print()
    print(f"the {len(run_ids)} new runs, from {dest}/{layout.lake_partition_prefix('runs')} via DuckDB:")
    print(runs_side_by_side(dest, run_ids=run_ids))
    return 0 if report.ok else 1
