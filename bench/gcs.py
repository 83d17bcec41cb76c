"""write_run to gs:// against a raw google-cloud-storage upload of the same bytes, on fake-gcs-server.

A synthetic run of 1,000,000 fills, 1,000,000 orders, 200,000 positions and
500,000 equity points, in one process, on one in-memory emulator:

  write_run          validate + encode + the GCS commit protocol (manifest, data
                     uploaded once and copied server-side, summary, runs row;
                     create-only, crc32c-checked, 8 puts at a time)
  gcs phase          the part of write_run spent in the store: first store call to last
  raw, sequential    blob.upload_from_string of every object write_run produced (the same
                     bytes, same keys, same content types), one after another, as the
                     storage spec's uploader does
  raw, 8 threads     the same uploads from 8 threads
  spec-style         what the storage spec's uploader does: pq.write_table of each input table
                     to memory (same compression, no validation), then the raw sequential uploads

Target: write_run / raw <= 1.2.

    .venv/bin/python bench/gcs.py [--fills N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the emulator launcher lives with the tests

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from lake import layout, write_run  # noqa: E402
from lake.write.encode import PARQUET_COMPRESSION, PARQUET_CONTENT_TYPE  # noqa: E402
from lake.stores.gcs import GCSStore  # noqa: E402
from lake.synthetic import synthetic_run  # noqa: E402
from tests.support.gcs_emulator import Emulator  # noqa: E402

BUCKET = "execution-store-bench"


class TimedStore(GCSStore):
    """A GCSStore that records when its first call starts and its last call ends."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.first = self.last = None
        self._t = threading.Lock()

    def _timed(self, method, *args, **kw):
        start = time.perf_counter()
        with self._t:
            self.first = start if self.first is None else min(self.first, start)
        try:
            return method(*args, **kw)
        finally:
            end = time.perf_counter()
            with self._t:
                self.last = end if self.last is None else max(self.last, end)

    def put(self, *a, **kw):
        return self._timed(super().put, *a, **kw)

    def get(self, *a, **kw):
        return self._timed(super().get, *a, **kw)

    def exists(self, *a, **kw):
        return self._timed(super().exists, *a, **kw)

    def delete(self, *a, **kw):
        return self._timed(super().delete, *a, **kw)


def raw_upload(bucket, prefix: str, objects, threads: int) -> None:
    def one(item):
        key, data, content_type = item
        bucket.blob(f"{prefix}/{key}").upload_from_string(data, content_type=content_type)

    if threads == 1:
        for item in objects:
            one(item)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, objects))


def spec_style(bucket, prefix: str, run, objects) -> None:
    """Encode each table without validation, then upload it to its spec and lake paths, one by one."""
    for name, table in run.tables().items():
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression=PARQUET_COMPRESSION)
        data = sink.getvalue().to_pybytes()
        for key in (layout.spec_table_key(run.run_id, name), layout.lake_key(run.run_id, name)):
            bucket.blob(f"{prefix}/{key}").upload_from_string(data, content_type=PARQUET_CONTENT_TYPE)
    rest = [o for o in objects if not o[0].endswith(".parquet") or o[0].startswith(layout.lake_partition_prefix("runs"))]
    raw_upload(bucket, prefix, rest, 1)


def clear(client, prefix: str) -> None:
    for blob in client.list_blobs(BUCKET, prefix=prefix + "/"):
        blob.delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.fills
    run = synthetic_run("bench-gcs", n, seed=7)  # n orders, n/5 positions, n/2 equity points
    print(f"run: { {k: v.num_rows for k, v in run.tables().items()} }")

    with Emulator("memory") as emulator:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
        client = emulator.client()
        emulator.create_bucket(BUCKET)
        bucket = client.bucket(BUCKET)

        # The exact objects write_run produces, read back once: the raw side uploads these bytes.
        write_run(run, f"gs://{BUCKET}/warmup")
        objects = [
            (b.name[len("warmup/") :], b.download_as_bytes(), b.content_type)
            for b in client.list_blobs(BUCKET, prefix="warmup/")
        ]
        clear(client, "warmup")
        total = sum(len(d) for _, d, _ in objects)
        print(f"objects: {len(objects)}, {total / 1e6:,.1f} MB "
              f"({sum(len(d) for k, d, _ in objects if k.startswith('lake/')) / 1e6:,.1f} MB of it lake partitions)")

        times: dict[str, list[float]] = {
            "write_run": [], "gcs phase": [], "raw, sequential": [], "raw, 8 threads": [], "spec-style": []
        }  # fmt: skip
        for i in range(args.repeat):
            store = TimedStore(BUCKET, f"w{i}")
            t0 = time.perf_counter()
            write_run(run, store)
            times["write_run"].append(time.perf_counter() - t0)
            times["gcs phase"].append(store.last - store.first)
            clear(client, f"w{i}")

            for label, threads in (("raw, sequential", 1), ("raw, 8 threads", 8)):
                t0 = time.perf_counter()
                raw_upload(bucket, f"r{i}", objects, threads)
                times[label].append(time.perf_counter() - t0)
                clear(client, f"r{i}")

            t0 = time.perf_counter()
            spec_style(bucket, f"s{i}", run, objects)
            times["spec-style"].append(time.perf_counter() - t0)
            clear(client, f"s{i}")

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"median of {args.repeat} (seconds):")
    for label, value in med.items():
        print(f"  {label:<16} {value:7.3f}")
    print(f"  {'validate+encode':<16} {med['write_run'] - med['gcs phase']:7.3f}  (write_run minus gcs phase)")
    for a, b in (("write_run", "raw, sequential"), ("write_run", "raw, 8 threads"),
                 ("gcs phase", "raw, sequential"), ("gcs phase", "raw, 8 threads"), ("write_run", "spec-style")):
        print(f"ratio {a} / {b}: {med[a] / med[b]:.2f}")
    print("target: write_run / raw <= 1.2")


if __name__ == "__main__":
    main()
