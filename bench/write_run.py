"""write_run against a bare pyarrow.parquet.write_table of the same Arrow tables.

A synthetic run of 1,000,000 fills, 1,000,000 orders, 200,000 positions and
500,000 equity points. Both sides write to a local folder with the same
compression; write_run also validates (conform + Pandera + references), writes
the manifest, the summary, the runs row and a second name for every table
(hard link). Target: ratio <= 1.5.

    .venv/bin/python bench/write_run.py [--fills N] [--repeat R]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq

from lake import write_run
from lake.write.encode import PARQUET_COMPRESSION
from lake.synthetic import synthetic_run
from lake.write import plan_run


class PeakRSS:
    """Peak resident memory of this process while the block runs (sampled every 5 ms)."""

    def __enter__(self):
        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def bare_write(run, folder: Path) -> None:
    for name, table in run.tables().items():
        pq.write_table(table, folder / f"{name}.parquet", compression=PARQUET_COMPRESSION)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.fills
    run = synthetic_run("bench-write", n, seed=7)  # n orders, n/5 positions, n/2 equity points
    rows = {k: v.num_rows for k, v in run.tables().items()}
    print(f"run: {rows}")

    times = {"write_run": [], "write_table": [], "validate+encode": []}
    peaks = {"write_run": 0, "write_table": 0}
    base_rss = psutil.Process().memory_info().rss
    for i in range(args.repeat):
        for label in ("write_table", "write_run"):  # alternate, so drift hits both
            folder = Path(tempfile.mkdtemp(prefix="bench-write-"))
            try:
                with PeakRSS() as mem:
                    t0 = time.perf_counter()
                    if label == "write_run":
                        write_run(run, folder)
                    else:
                        bare_write(run, folder)
                    times[label].append(time.perf_counter() - t0)
                peaks[label] = max(peaks[label], mem.peak)
            finally:
                shutil.rmtree(folder)
        t0 = time.perf_counter()
        plan_run(run)
        times["validate+encode"].append(time.perf_counter() - t0)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"median of {args.repeat}:")
    for label, value in med.items():
        print(f"  {label:<14} {value:7.3f} s")
    print(f"ratio write_run / write_table: {med['write_run'] / med['write_table']:.2f} (target <= 1.5)")
    print(f"RSS before: {base_rss / 2**20:,.0f} MiB; peak during write_table: {peaks['write_table'] / 2**20:,.0f} MiB; "
          f"during write_run: {peaks['write_run'] / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
