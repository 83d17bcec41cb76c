"""`lake backtest`: run real NautilusTrader backtests on synthetic data and write each run to the lake."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help="run real NautilusTrader backtests (EMACross variants, or a parameter grid) on seeded synthetic bars, "
        "one subprocess each",
    )
    p.add_argument("--dest", default=None, help="folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--runs", type=int, default=None, help="how many backtests, parameter variants cycling (default 4; not with --grid)")
    p.add_argument(
        "--grid", action="append", default=[], metavar="SETTING=V1,V2,...",
        help="a setting and its values (repeatable): one backtest per combination of all --grid values, "
        "e.g. --grid fast_period=5,10,20 --grid slow_period=30,60",
    )
    p.add_argument("--experiment", default=None,
                   help="the experiment every run belongs to (a --grid without it gets a fresh name: sweep-<UTC time>)")
    p.add_argument("--symbols", default=None,
                   help="comma-separated, of BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT (default: BTCUSDT,ETHUSDT, cycled by the "
                   "variants; with --grid every run trades all of them, default BTCUSDT)")
    p.add_argument("--bars", type=int, default=2880, help="bars per symbol")
    p.add_argument("--bar-minutes", type=int, default=5, help="minutes per bar (2880 5-minute bars = ten days)")
    p.add_argument("--seed", type=int, default=1, help="seed of the synthetic prices")
    p.add_argument("--jobs", type=int, default=2, help="backtests at a time")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_backtest)


def cmd_backtest(args) -> int:
    from lake.errors import LakeError
    from lake.nautilus.backtest.runner import BacktestSpec, default_experiment, grid, run_backtests, variants
    from lake.run import check_experiment
    from lake.stores import default_dest

    dest = args.dest or default_dest()
    experiment = check_experiment(args.experiment)
    if args.grid:
        if args.runs is not None:
            raise LakeError("--runs and --grid do not go together: a grid runs one backtest per combination")
        symbols = _symbols(args.symbols or "BTCUSDT")
        experiment = experiment or default_experiment()
        base = BacktestSpec(symbols=symbols, bars=args.bars, bar_minutes=args.bar_minutes, seed=args.seed, experiment=experiment)
        specs = grid(base, parse_grid(args.grid))
    else:
        runs = 4 if args.runs is None else args.runs
        if runs < 1:
            raise LakeError("--runs must be >= 1")
        specs = variants(runs, symbols=_symbols(args.symbols or "BTCUSDT,ETHUSDT"), bars=args.bars,
                         bar_minutes=args.bar_minutes, seed=args.seed)
        specs = [dataclasses.replace(s, experiment=experiment) for s in specs]
    reports = run_backtests(specs, dest, jobs=args.jobs, progress=not args.no_progress)
    for r in reports:
        pnl = ", ".join(f"{k} {v:,.2f}" for k, v in sorted(r["pnl"].items()) if v)
        print(f"{r['run_id']}: {r['orders']} orders, {r['fills']} fills, PnL {pnl or '0'}")
    where = f" under experiment {experiment} (lake sweep {experiment})" if experiment else ""
    print(f"{len(reports)} runs written to {dest}{where}", file=sys.stderr)
    return 0


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """`--grid name=v1,v2` arguments as {name: [v1, v2]}: every name once, each with at least one value."""
    from lake.errors import LakeError

    axes: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        listed = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not name or not listed:
            raise LakeError(f"--grid {item!r}: expected SETTING=V1,V2,... (e.g. fast_period=5,10,20)")
        if name in axes:
            raise LakeError(f"--grid {name} is given twice: list all its values once ({name}=V1,V2,...)")
        axes[name] = listed
    return axes


def _symbols(text: str) -> tuple[str, ...]:
    return tuple(s.strip().upper() for s in text.split(",") if s.strip())
