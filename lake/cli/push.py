"""`lake push`: send the runs of a local lake to the results bucket."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "push",
        help="upload the runs of a local lake (or a folder of spec files) to gs://, skipping runs already there",
    )
    p.add_argument("src", help="local lake folder, or a folder of backtest_results/, config/, logs/ spec files")
    p.add_argument(
        "dest",
        nargs="?",
        default=None,
        help="gs://bucket[/prefix] (default: gs://$EXECUTION_STORE_GCS_BUCKET, else the execution store)",
    )
    p.set_defaults(func=cmd_push)


def cmd_push(args) -> int:
    from tqdm import tqdm

    from lake.stores import LocalStore, default_remote, resolve
    from lake.verify import keys_by_run
    from lake.write.push import push

    dest = args.dest or default_remote()
    src = resolve(args.src)
    total = len(keys_by_run(LocalStore(src.path))) if not src.is_gcs and src.path.is_dir() else None
    with tqdm(total=total, desc=f"pushing to {dest}", unit="run", file=sys.stderr) as bar:
        report = push(args.src, dest, progress=lambda run_id, outcome: (bar.set_postfix_str(f"{run_id}: {outcome}"), bar.update(1)))
    print(report)
    return 0 if report.ok else 1
