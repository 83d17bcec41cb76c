"""`lake validate`: check that every committed run of a destination is complete and valid (CI calls this)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check that every committed run in DEST is complete and valid")
    p.add_argument("dest", help="folder or gs://bucket[/prefix]")
    p.add_argument("--run-id", default=None, help="check only this run")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args) -> int:
    from tqdm import tqdm

    from lake.verify import verify_destination

    with tqdm(desc="checking runs", unit="run", file=sys.stderr) as bar:
        report = verify_destination(args.dest, args.run_id, progress=lambda _: bar.update(1))
    print(report)
    return 0 if report.ok else 1
