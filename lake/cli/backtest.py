"""`lake backtest`: run real NautilusTrader backtests on synthetic data and write each run to the lake."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help="run N real NautilusTrader backtests (EMACross variants on seeded synthetic bars), one subprocess each",
    )
    p.add_argument("--dest", default=None, help="folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--runs", type=int, default=4, help="how many backtests (parameter variants cycle)")
    p.add_argument("--symbols", default="BTCUSDT,ETHUSDT", help="comma-separated, of BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT")
    p.add_argument("--bars", type=int, default=2880, help="bars per symbol")
    p.add_argument("--bar-minutes", type=int, default=5, help="minutes per bar (2880 5-minute bars = ten days)")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic prices")
    p.add_argument("--jobs", type=int, default=2, help="backtests at a time")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_backtest)


def cmd_backtest(args) -> int:
    from lake.nautilus.backtest.market_data import SPECS
    from lake.nautilus.backtest.runner import run_backtests, variants
    from lake.errors import LakeError
    from lake.stores import default_dest

    dest = args.dest or default_dest()
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    unknown = [s for s in symbols if s not in SPECS]
    if unknown or not symbols:
        raise LakeError(f"unknown symbols {unknown}; choose from {sorted(SPECS)}")
    if args.runs < 1 or args.bars < 100 or args.bar_minutes < 1:
        raise LakeError("--runs must be >= 1, --bars >= 100 and --bar-minutes >= 1")
    reports = run_backtests(
        variants(args.runs, symbols=symbols, bars=args.bars, bar_minutes=args.bar_minutes, seed=args.seed),
        dest,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    for r in reports:
        pnl = ", ".join(f"{k} {v:,.2f}" for k, v in sorted(r["pnl"].items()) if v)
        print(f"{r['run_id']}: {r['orders']} orders, {r['fills']} fills, PnL {pnl or '0'}")
    print(f"{len(reports)} runs written to {dest}", file=sys.stderr)
    return 0
