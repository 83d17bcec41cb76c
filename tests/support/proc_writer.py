"""A writer process for crash and concurrency tests: python -m tests.support.proc_writer DEST RUN_ID... [options].

Prints 'ready' once its runs are built, one line per object written, and
'done RUN_ID' or 'conflict RUN_ID' per run.
"""

import argparse
import sys
import time
from pathlib import Path

import lake
from lake.synthetic import synthetic_run


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("dest")
    p.add_argument("run_ids", nargs="+")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fills", type=int, default=200)
    p.add_argument("--go-file", default=None, help="wait until this file exists before writing")
    args = p.parse_args()
    runs = [synthetic_run(r, args.fills, args.seed + i) for i, r in enumerate(args.run_ids)]
    print("ready", flush=True)
    if args.go_file:
        while not Path(args.go_file).exists():
            time.sleep(0.001)
    status = 0
    for run in runs:
        try:
            lake.write_run(run, args.dest, progress=lambda o: print("wrote", o.key, flush=True))
            print("done", run.run_id, flush=True)
        except lake.ConflictError as exc:
            print("conflict", run.run_id, exc, flush=True)
            status = 3
    return status


if __name__ == "__main__":
    sys.exit(main())
