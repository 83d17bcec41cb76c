"""`lake push`: send the runs of a local lake to the results bucket."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm


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
    from lake.inspect import keys_by_run
    from lake.push import push
    from lake.stores import LocalStore
    from lake.stores.gcs import default_bucket

    dest = args.dest or f"gs://{default_bucket()}"
    total = len(keys_by_run(LocalStore(args.src))) if _is_dir(args.src) else None
    with tqdm(total=total, desc=f"pushing to {dest}", unit="run", file=sys.stderr) as bar:
        report = push(args.src, dest, progress=lambda run_id, outcome: (bar.set_postfix_str(f"{run_id}: {outcome}"), bar.update(1)))
    print(report)
    return 0 if report.ok else 1


def _is_dir(path: str) -> bool:
    import os

    return os.path.isdir(path)
