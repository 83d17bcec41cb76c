"""A writer process for crash and concurrency tests: python -m tests.support.proc_writer DEST RUN_ID... [options].

Prints 'ready' once its runs are built, one line per object written, and
'done RUN_ID' or 'conflict RUN_ID' per run. With --swap-go-file it prints
'at-swap' when it is about to switch a runs row and waits for that file: two
overwriters held there have both read the commit they mean to replace.
"""

import argparse
import sys
import time
from pathlib import Path

import lake
from lake.stores import open_store
from lake.synthetic import synthetic_run
from lake.write import write_run_to_store


class HeldSwaps:
    """A store whose swaps wait for a file: a barrier between processes right before the commit switches."""

    def __init__(self, store, go: Path):
        self._store, self._go = store, go

    def __getattr__(self, name):
        return getattr(self._store, name)

    def swap(self, key, data, content_type, *, expect):
        print("at-swap", flush=True)
        while not self._go.exists():
            time.sleep(0.001)
        return self._store.swap(key, data, content_type, expect=expect)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("dest")
    p.add_argument("run_ids", nargs="+")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fills", type=int, default=200)
    p.add_argument("--go-file", default=None, help="wait until this file exists before writing")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--swap-go-file", default=None, help="before switching a runs row, wait until this file exists")
    args = p.parse_args()
    store = open_store(args.dest)
    if args.swap_go_file:
        store = HeldSwaps(store, Path(args.swap_go_file))
    runs = [synthetic_run(r, args.fills, args.seed + i) for i, r in enumerate(args.run_ids)]
    print("ready", flush=True)
    if args.go_file:
        while not Path(args.go_file).exists():
            time.sleep(0.001)
    status = 0
    for run in runs:
        try:
            write_run_to_store(run, store, overwrite=args.overwrite, progress=lambda o: print("wrote", o.key, flush=True))
            print("done", run.run_id, flush=True)
        except lake.ConflictError as exc:
            print("conflict", run.run_id, exc, flush=True)
            status = 3
    return status


if __name__ == "__main__":
    sys.exit(main())
