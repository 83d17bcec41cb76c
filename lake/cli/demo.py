"""`lake demo`: the main job end to end: a sweep of real backtests into a local lake, validated, ranked, pictured."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: a sweep of real backtests into a local lake, validated, ranked and pictured")
    p.add_argument("--dest", default=None, help="local lake folder (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--png", default="lake-sweep.png", help="where to save the sweep's heatmap (default: ./lake-sweep.png)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    """Run the demo sweep (EMA periods 5/10/20 x 30/60 under one new experiment), write each run with write_run,
    validate the lake, then show the sweep table and its heatmap of net PnL."""
    from lake.cli.sweep import sweep_report
    from lake.nautilus.backtest.runner import default_experiment, run_demo_sweep
    from lake.stores import default_dest
    from lake.verify import verify_destination

    dest = args.dest or default_dest()
    experiment = default_experiment("demo")
    run_demo_sweep(dest, experiment, progress=True)
    report = verify_destination(dest)
    print(report)
    print()
    print(sweep_report(dest, experiment, png=args.png).text)
    print(f"\nmore: lake runs --experiment {experiment}; lake query param_effect --param experiment={experiment} "
          "--param param=EMACross-BTCUSDT.fast_period")
    return 0 if report.ok else 1
