"""`lake write-synthetic`: consistent synthetic runs written to a lake, for trials and benchmarks."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("write-synthetic", help="write consistent synthetic runs (for trials and benchmarks)")
    p.add_argument("--dest", default=None, help="folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--runs", type=int, default=1, help="how many runs")
    p.add_argument("--fills", type=int, default=10_000, help="fills per run")
    p.add_argument("--seed", type=int, default=0, help="seed of the first run (next runs use seed+1, ...)")
    p.add_argument("--prefix", default="synthetic", help="run ids are <UTC time>Z-PREFIX-<seed>-<random suffix>")
    p.set_defaults(func=cmd_write_synthetic)


def cmd_write_synthetic(args) -> int:
    from tqdm import tqdm

    from lake.run import new_run_id
    from lake.stores import default_dest
    from lake.synthetic import synthetic_run
    from lake.write import write_run

    dest = args.dest or default_dest()
    with tqdm(total=args.runs, desc="writing runs", unit="run", file=sys.stderr) as bar:
        for i in range(args.runs):
            seed = args.seed + i
            run = synthetic_run(new_run_id(f"{args.prefix}-{seed}"), args.fills, seed)
            report = write_run(run, dest)
            bar.update(1)
            tqdm.write(f"{report.run_id}: {len(report.objects)} objects, {report.total_bytes:,} bytes", file=sys.stderr)
    return 0
