"""Benchmark: what a query costs as the lake grows, from 20 runs to 5,000 (whole processes, side by side).

    .venv/bin/python bench/scale.py                        # lakes kept in ./bench-lake/scale-{20,5000}
    .venv/bin/python bench/scale.py --runs 20,1000 --written 100

Each lake holds small synthetic runs (200 fills each). `--written` runs go through
write_run; the rest are committed partitions of those runs hard-linked under new
run ids (the runs row names the same file generation, so each copy is a committed
run; spec files are not copied: queries read only the lake tables).
Each figure is one `lake query` process (start-up included), best of --repeat, with
its peak RSS. The raw scan is plain DuckDB reading every file of the four tables
the leaderboard reads, with no engine in between.
Targets (ratios measured in this one process): a one-run query and the 2-run
leaderboard on the large lake at most 1.5x the same on the small one; the full
leaderboard at most 3x the raw scan; peak RSS of a one-run query under 300 MB.
Last, write_run of one 200-fill run (median of 55, in this process): target 30 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lake import layout  # noqa: E402
from schemas import TABLES  # noqa: E402

LAKE = [str(Path(sys.executable).with_name("lake"))]
FILLS = 200
RAW_SCAN = """
import duckdb, sys
con = duckdb.connect()
for table, cols in [("runs", "count(*)"), ("fills", "sum(last_qty), sum(last_px), sum(commission), count(*)"),
                    ("positions", "sum(realized_pnl), count(ts_closed)"), ("equity_curve", "max(equity), max(peak_equity), max(ts)")]:
    con.sql(f"SELECT run_id, {cols} FROM read_parquet('{sys.argv[1]}/lake/{table}/*/*.parquet', "
            "hive_partitioning = true) GROUP BY run_id").fetchall()
"""


def _write_one(args: tuple[str, str, int]) -> None:
    from lake.synthetic import synthetic_run
    from lake.write import write_run

    dest, run_id, seed = args
    write_run(synthetic_run(run_id, FILLS, seed), dest)


def build_lake(dest: Path, runs: int, written: int) -> list[str]:
    """A lake of `runs` committed runs (kept between calls); returns their ids, the written ones first."""
    run_ids = [f"scale-{i:06d}" for i in range(runs)]
    written = min(written, runs)
    todo = [(str(dest), r, i) for i, r in enumerate(run_ids[:written]) if not (dest / layout.commit_key(r)).exists()]
    if todo:
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            list(pool.map(_write_one, todo, chunksize=8))
    for i, run_id in enumerate(run_ids[written:]):
        if (dest / layout.commit_key(run_id)).exists():
            continue
        source = run_ids[i % written]
        for table in TABLES:  # the runs row last: it is the commit
            src = dest / layout.lake_partition_prefix(table) / f"run_id={source}"
            dst = dest / layout.lake_partition_prefix(table) / f"run_id={run_id}"
            if table != "runs":
                shutil.copytree(src, dst, copy_function=os.link, dirs_exist_ok=True)
        dst = dest / layout.commit_key(run_id)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(dest / layout.commit_key(source), dst)
    return run_ids


def measure(argv: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time (s) of `argv` as its own process, and its peak RSS (MB) in that run."""
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err}")
        if best is None or wall < best[0]:
            best = (wall, usage.ru_maxrss / 1024)
    return best


def figures(dest: Path, run_ids: list[str], repeat: int) -> dict[str, tuple[float, float]]:
    query = [*LAKE, "query", "--dest", str(dest), "--format", "csv"]
    one = run_ids[len(run_ids) // 2]
    two = f"{run_ids[0]},{run_ids[-1]}"
    return {
        "open + SELECT 1": measure([*query, "SELECT 1"], repeat),
        "one-run query": measure([*query, f"SELECT COUNT(*) AS n FROM execution.fills WHERE run_id = '{one}'"], repeat),
        "leaderboard, 2 runs": measure([*query, "leaderboard", "--param", f"run_ids={two}"], repeat),
        "leaderboard, all runs": measure([*query, "leaderboard"], repeat),
        "raw DuckDB scan, 4 tables": measure([sys.executable, "-c", RAW_SCAN, str(dest)], repeat),
    }


def small_write_ms(count: int = 60) -> tuple[float, float, float]:
    """Median ms per run of write_run for a 200-fill run into a fresh local lake, and of its two halves:
    plan (conform, checks, encodings) and commit (the store operations)."""
    import statistics
    import tempfile

    from lake.stores import open_store
    from lake.synthetic import synthetic_run
    from lake.write import Transaction, plan_run, write_run

    runs = [synthetic_run(f"small-{i:03d}", FILLS, i) for i in range(2 * count)]
    whole, plan, commit = [], [], []
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        store = open_store(tmp)
        for i, run in enumerate(runs[:count]):
            t = time.perf_counter()
            write_run(run, tmp)
            whole.append(time.perf_counter() - t)
            other = runs[count + i]
            t = time.perf_counter()
            planned = plan_run(other)
            plan.append(time.perf_counter() - t)
            t = time.perf_counter()
            Transaction(store).commit(planned)
            commit.append(time.perf_counter() - t)
    return tuple(statistics.median(x[5:]) * 1000 for x in (whole, plan, commit))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="20,5000", help="small,large lake sizes (default 20,5000)")
    ap.add_argument("--written", type=int, default=300, help="runs written by write_run in each lake; the rest are copies")
    ap.add_argument("--lake", type=Path, default=Path("bench-lake"), help="folder that keeps the lakes")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    small, large = (int(n) for n in args.runs.split(","))
    results = {}
    for n in (small, large):
        dest = args.lake / f"scale-{n}"
        t = time.perf_counter()
        run_ids = build_lake(dest, n, args.written)
        print(f"lake of {n} runs ({min(args.written, n)} written): ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        results[n] = figures(dest, run_ids, args.repeat)

    print(f"\n{'':28}{small:>8} runs{large:>8} runs{'ratio':>8}   peak RSS ({large} runs)")
    for name in results[small]:
        (a, _), (b, rss) = results[small][name], results[large][name]
        print(f"{name:28}{a:>11.2f} s{b:>11.2f} s{b / a:>8.2f}   {rss:.0f} MB")
    whole, plan, commit = small_write_ms()
    print(f"\nwrite_run of a {FILLS}-fill run: {whole:.1f} ms (plan {plan:.1f} ms + commit {commit:.1f} ms; target <= 30 ms)")
    raw = results[large]["raw DuckDB scan, 4 tables"][0]
    full = results[large]["leaderboard, all runs"][0]
    print(
        f"\ntargets on {large} runs: one-run query {results[large]['one-run query'][0] / results[small]['one-run query'][0]:.2f}x "
        f"(<= 1.5), 2-run leaderboard {results[large]['leaderboard, 2 runs'][0] / results[small]['leaderboard, 2 runs'][0]:.2f}x "
        f"(<= 1.5), full leaderboard / raw scan {full / raw:.2f}x (<= 3), "
        f"one-run query peak RSS {results[large]['one-run query'][1]:.0f} MB (< 300)"
    )


if __name__ == "__main__":
    main()
