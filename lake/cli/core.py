"""Core subcommands: write-synthetic, validate, runs, demo."""

from __future__ import annotations

import argparse
import os
import sys
import uuid

from tqdm import tqdm

DEFAULT_DEST = "./lakehouse"


def default_dest() -> str:
    return os.environ.get("LAKE_DEST", DEFAULT_DEST)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("write-synthetic", help="write consistent synthetic runs (for trials and benchmarks)")
    p.add_argument("--dest", default=None, help="folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--runs", type=int, default=1, help="how many runs")
    p.add_argument("--fills", type=int, default=10_000, help="fills per run")
    p.add_argument("--seed", type=int, default=0, help="seed of the first run (next runs use seed+1, ...)")
    p.add_argument("--prefix", default="synthetic", help="run ids are PREFIX-<seed>-<random suffix>")
    p.set_defaults(func=cmd_write_synthetic)

    p = sub.add_parser("validate", help="check that every committed run in DEST is complete and valid")
    p.add_argument("dest", help="folder or gs://bucket[/prefix]")
    p.add_argument("--run-id", default=None, help="check only this run")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("runs", help="committed runs side by side, read from the lake with DuckDB")
    p.add_argument("--dest", default=None, help="local lake folder (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--last", type=int, default=6, help="show the N most recent runs")
    p.set_defaults(func=cmd_runs)

    register_demo(sub)


def cmd_write_synthetic(args) -> int:
    from lake.synthetic import synthetic_run
    from lake.writer import write_run

    dest = args.dest or default_dest()
    with tqdm(total=args.runs, desc="writing runs", unit="run", file=sys.stderr) as bar:
        for i in range(args.runs):
            seed = args.seed + i
            run = synthetic_run(f"{args.prefix}-{seed}-{uuid.uuid4().hex[:8]}", args.fills, seed)
            report = write_run(run, dest)
            bar.update(1)
            tqdm.write(f"{report.run_id}: {len(report.objects)} objects, {report.total_bytes:,} bytes", file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    from lake.inspect import validate_destination

    with tqdm(desc="checking runs", unit="run", file=sys.stderr) as bar:
        report = validate_destination(args.dest, args.run_id, progress=lambda _: bar.update(1))
    print(report)
    return 0 if report.ok else 1


def cmd_runs(args) -> int:
    print(runs_side_by_side(args.dest or default_dest(), args.last))
    return 0


# The runs-table columns worth comparing at a glance, in display order.
SIDE_BY_SIDE = [
    "strategy_ids", "instrument_ids", "backtest_start", "backtest_end", "order_count", "fill_count",
    "position_count", "pnl_currency", "realized_pnl", "commission", "win_rate", "sharpe_ratio", "created_at",
]


def runs_side_by_side(dest: str, last: int = 6, run_ids: list[str] | None = None) -> str:
    """Committed runs as columns, one row per field: the easiest way to compare a few runs."""
    from lake.catalog.duckdb import connect

    con = connect(dest)
    select = f"SELECT run_id, {', '.join(SIDE_BY_SIDE)} FROM runs"
    if run_ids is not None:
        rows = con.execute(f"{select} WHERE run_id IN (SELECT unnest(?)) ORDER BY run_id", [run_ids]).fetchall()
    else:
        rows = con.execute(f"{select} ORDER BY created_at DESC, run_id LIMIT ?", [last]).fetchall()[::-1]
    if not rows:
        return f"no committed runs in {dest}"
    ids = [r[0] for r in rows]
    short = max(map(len, ids)) > 24  # long ids would make the table too wide: number the columns instead
    header = ["field"] + ([f"run {i}" for i in range(1, len(ids) + 1)] if short else ids)
    legend = [f"run {i}: {rid}" for i, rid in enumerate(ids, 1)] + [""] if short else []
    body = [[name] + [_cell(r[i + 1]) for r in rows] for i, name in enumerate(SIDE_BY_SIDE)]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def fmt(line: list[str]) -> str:
        return "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(line, widths)))

    return "\n".join([*legend, fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)])


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: real backtests into a local lake, validated, shown side by side")
    p.add_argument("--dest", default=None, help="local lake folder (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--runs", type=int, default=4, help="how many backtests")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    """Run a few NautilusTrader backtests, write each with write_run, validate the lake, show the new runs."""
    from lake.backtest.runner import run_demo_backtests
    from lake.inspect import validate_destination

    dest = args.dest or default_dest()
    run_ids = run_demo_backtests(dest, n_runs=args.runs, progress=True)
    report = validate_destination(dest)
    print(report)
    print()
    print(f"the {len(run_ids)} new runs, from {dest}/lake/runs via DuckDB:")
    print(runs_side_by_side(dest, run_ids=run_ids))
    return 0 if report.ok else 1
