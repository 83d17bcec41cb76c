"""`lake validate`: check that every committed run of a destination is complete and valid (CI calls this)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check that every committed run in DEST is complete and valid")
    p.add_argument("dest", help="folder or gs://bucket[/prefix]")
    p.add_argument(
        "--run", "--run-id", dest="run_id", default=None, metavar="RUN_ID",
        help="check only this run, listing only its own folders (right after a write)",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="processes checking runs in parallel, for lakes of 1,000 runs or more (default: one per core; 1: none)",
    )  # fmt: skip
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="a progress bar on stderr (default: only when stderr is a terminal)",
    )  # fmt: skip
    p.set_defaults(func=cmd_validate)


def cmd_validate(args) -> int:
    from tqdm import tqdm

    from lake.errors import LakeError
    from lake.verify import available_cores, verify_destination

    if args.workers is not None and args.workers < 1:
        raise LakeError(f"--workers must be 1 or more, not {args.workers}")
    workers = available_cores() if args.workers is None else args.workers
    show = sys.stderr.isatty() if args.progress is None else args.progress
    with tqdm(desc="checking runs", unit="run", file=sys.stderr, disable=not show) as bar:

        def started(total: int) -> None:
            bar.total = total
            bar.refresh()

        report = verify_destination(args.dest, args.run_id, progress=lambda _: bar.update(1), workers=workers, started=started)
    print(report)
    return 0 if report.ok else 1
