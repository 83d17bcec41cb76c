"""Verify a destination: every committed run complete and valid, everything else accounted for.

This is what `lake validate` runs, and what a CI job calls to check a store.
It reads through the Store protocol, so it works on any store.

What it trusts is what readers trust: a run is committed by its runs row
(lake/runs/run_id={id}/part-00000.parquet), which names the run's lake data
files (its `data_file`; NULL or absent in rows written before: part-00000.parquet),
and the run's manifest lists every other object with its size and CRC32C. So a
committed run must consist of exactly those objects, and the manifest must list
exactly the objects present (but itself and the runs row). Everything else is
reported:
  - in a committed run's folders, an object its commit does not name: a stray
    (a copy, a second runs row; a problem of the run), or a lake data file of an
    older generation (an interrupted overwrite's leftovers: not named by the
    commit, safe to delete; readers ignore it);
  - keys under lake/, backtest_results/, config/, logs/ that belong to no valid
    run_id (a problem of the destination);
  - uncommitted partial runs and leftover temp files (invisible to readers).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pyarrow as pa

from lake import layout
from lake.checksum import crc32c_b64
from lake.errors import DestinationError, LakeError
from lake.run import check_run_id
from lake.runs_row_check import runs_row_differences, second_reader_differences
from lake.stores import ObjectNotFoundError, Store, open_store, resolve
from lake.write.checks import pandera_failures, reference_failures
from lake.write.encode import read_parquet_bytes
from lake.write.manifest import Manifest, read_manifest
from schemas import RUN_TABLES, TABLES, Table
from schemas.evolution import EvolutionError, run_table_versions, table_at, versions

_ROOTS = (layout.SPEC_ROOT, "config", "logs", layout.LAKE_ROOT)
_SHOWN = 20  # keys listed per section before "... and N more"
# With workers > 1, runs are checked in worker processes once there are this many: below it, starting
# the workers (1.5-2 s each: they import pyarrow, polars and pandera) may cost more than they save
# (docs/benchmarks.md#validate).
PROCESS_MIN_RUNS = 1000
_CHUNK = 8  # runs per task sent to a worker process


@dataclass
class RunCheck:
    run_id: str
    problems: list[str] = field(default_factory=list)
    data_file: str | None = None  # the lake data file name the run's commit names
    garbage: list[str] = field(default_factory=list)  # older generations' lake files: not named by the commit

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class DestinationReport:
    dest: str
    runs: list[RunCheck] = field(default_factory=list)
    uncommitted: dict[str, list[str]] = field(default_factory=dict)  # run_id -> keys present
    leftover_temp_files: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # keys under the run folders that belong to no valid run_id
    problems: list[str] = field(default_factory=list)  # of the destination itself (a folder that cannot be listed)

    @property
    def ok(self) -> bool:
        """Every committed run valid and nothing unexpected. Uncommitted runs, older generations'
        files and temp files are invisible to readers and do not count (a crash leaves them)."""
        return all(r.ok for r in self.runs) and not self.strays and not self.problems

    @property
    def garbage(self) -> list[str]:
        return sorted(k for r in self.runs for k in r.garbage)

    def __str__(self) -> str:
        good = sum(r.ok for r in self.runs)
        lines = [f"{self.dest}: {len(self.runs)} committed run(s), {good} valid, {len(self.runs) - good} invalid"]
        for r in self.runs:
            lines.append(f"  {'ok ' if r.ok else 'BAD'} {r.run_id}")
            lines += [f"        - {p}" for p in r.problems]
        if self.problems:
            lines.append(f"  {len(self.problems)} problem(s) with the destination itself:")
            lines += [f"    - {p}" for p in self.problems]
        if self.strays:
            lines.append(
                f"  {len(self.strays)} object(s) outside any run (no valid run_id in the key, so no run owns them; "
                "a reader that lists the folders would read them): delete or move them:"
            )
            lines += _shown(self.strays, "    ")
        if self.garbage:
            lines.append(
                f"  {len(self.garbage)} lake file(s) of older generations of committed runs, left by interrupted "
                "overwrites: not named by the commit; safe to delete:"
            )
            lines += _shown(self.garbage, "    ")
        if self.uncommitted:
            lines.append(f"  {len(self.uncommitted)} uncommitted partial run(s) (no runs row; invisible to readers; "
                         "writing the run again finishes it):")
            lines += [f"    {run_id}: {len(keys)} object(s)" for run_id, keys in sorted(self.uncommitted.items())]
        if self.leftover_temp_files:
            lines.append(f"  {len(self.leftover_temp_files)} temp file(s) left by interrupted writers in .tmp/")
        return "\n".join(lines)


def _shown(keys: list[str], indent: str) -> list[str]:
    lines = [f"{indent}{k}" for k in keys[:_SHOWN]]
    if len(keys) > _SHOWN:
        lines.append(f"{indent}... and {len(keys) - _SHOWN} more")
    return lines


def scan(store: Store, problems: list[str] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """(run_id -> its keys, keys under the run folders that belong to no valid run_id).

    A top folder that cannot be listed (e.g. a symbolic link, which a store never
    follows) raises, or with `problems` is recorded there and skipped.
    """
    found: dict[str, list[str]] = defaultdict(list)
    strays: list[str] = []
    for root in _ROOTS:
        try:
            keys = list(store.list(root + "/"))
        except LakeError as exc:
            if problems is None:
                raise
            problems.append(f"{root}/ cannot be listed: {exc}")
            continue
        for key in keys:
            run_id = layout.run_id_from_key(key)
            if run_id is None:
                strays.append(key)
            else:
                found[run_id].append(key)
    return found, sorted(strays)


def keys_by_run(store: Store) -> dict[str, list[str]]:
    return scan(store)[0]


def scan_run(store: Store, run_id: str, problems: list[str] | None = None) -> list[str]:
    """The keys of one run, listed under its own folders only (the cost of one run, whatever the lake holds).

    A folder that cannot be listed raises, or with `problems` is recorded there and skipped. Keys in
    lake table folders the contract does not know are not seen here; a whole-lake scan reports them.
    """
    keys: list[str] = []
    prefixes = [f"{root}/{run_id}/" for root in _ROOTS[:-1]]
    prefixes += [f"{layout.lake_partition_prefix(t)}run_id={run_id}/" for t in TABLES]
    for prefix in prefixes:
        try:
            keys += [k for k in store.list(prefix) if layout.run_id_from_key(k) == run_id]
        except LakeError as exc:
            if problems is None:
                raise
            problems.append(f"{prefix} cannot be listed: {exc}")
    return sorted(keys)


def verify_destination(
    dest,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    started: Callable[[int], None] | None = None,
) -> DestinationReport:
    """Check every committed run of `dest` (or only `run_id`, listing only that run's folders).

    `workers`: processes that check runs in parallel, used when there are PROCESS_MIN_RUNS committed
    runs or more (`lake validate` passes one per core). Default 1: threads of this process only, since
    worker processes are started with "spawn", which imports the caller's main module again (a script
    calling this with workers > 1 needs the `if __name__ == "__main__":` guard). The report is the
    same whatever the number of workers: runs in run_id order, each run's problems in a fixed order.
    `started(n)` is told how many committed runs will be checked; `progress(run_id)` after each one.
    """
    where = resolve(dest)
    if not where.is_gcs and not where.path.is_dir():  # a typo must not read as "0 runs, all valid"
        raise DestinationError(f"no lake at {where.url!r}: not a folder")
    store = open_store(where)
    report = DestinationReport(store.url)
    problems: list[str] = []
    if run_id is not None:
        run_id = check_run_id(run_id)
        found = {run_id: scan_run(store, run_id, problems)}
    else:
        found, report.strays = scan(store, problems)
    report.problems = problems
    committed = sorted(r for r, keys in found.items() if layout.commit_key(r) in keys)
    for rid, keys in sorted(found.items()):
        if rid in committed:
            continue
        if keys:
            report.uncommitted[rid] = sorted(keys)
        elif run_id is not None:
            report.runs.append(RunCheck(rid, [f"no run {rid!r} in this destination"]))
    if started:
        started(len(committed))
    for check in _check_runs(store, where.url, [(rid, found[rid]) for rid in committed], workers):
        report.runs.append(check)
        if progress:
            progress(check.run_id)
    if hasattr(store, "leftover_temp_files"):
        try:
            report.leftover_temp_files = store.leftover_temp_files()
        except LakeError as exc:
            report.problems.append(f"the temp folder cannot be listed: {exc}")
    return report


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_runs(store: Store, url: str, runs: list[tuple[str, list[str]]], workers: int | None) -> Iterator[RunCheck]:
    """Each run's RunCheck, in the order given. Runs are independent: checked in worker processes when
    there are enough of them (the checks are CPU-bound Python), else in threads of this process."""
    workers = min(max(1, int(workers or 1)), -(-len(runs) // _CHUNK))
    if workers > 1 and len(runs) >= PROCESS_MIN_RUNS:
        yield from _in_processes(url, runs, workers)
        return
    # Threads overlap the reads of remote stores; a local folder's reads are cheap.
    with ThreadPoolExecutor(max_workers=max(1, min(store.max_concurrency, 4))) as pool:
        yield from pool.map(lambda run: verify_run(store, run[0], set(run[1])), runs)


def _in_processes(url: str, runs: list[tuple[str, list[str]]], workers: int) -> Iterator[RunCheck]:
    # spawn, not fork: polars' and Arrow's thread pools do not survive a fork.
    context = multiprocessing.get_context("spawn")
    chunks = [runs[i : i + _CHUNK] for i in range(0, len(runs), _CHUNK)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_open, initargs=(url,)) as pool:
        try:
            for checks in pool.map(_worker_check, chunks):
                yield from checks
        except BrokenProcessPool as exc:
            raise LakeError(f"a worker process validating {url} stopped ({exc}); run again with --workers 1") from exc


_worker_store: Store | None = None


def _worker_open(url: str) -> None:
    global _worker_store
    _worker_store = open_store(resolve(url))


def _worker_check(chunk: list[tuple[str, list[str]]]) -> list[RunCheck]:
    store = _worker_store
    assert store is not None
    if store.max_concurrency > 2:  # a remote store: overlap the reads of the chunk's runs
        with ThreadPoolExecutor(max_workers=min(store.max_concurrency, 4)) as pool:
            return list(pool.map(lambda run: verify_run(store, run[0], set(run[1])), chunk))
    return [verify_run(store, rid, set(keys)) for rid, keys in chunk]


# -- one committed run ------------------------------------------------------------------------


def verify_run(store: Store, run_id: str, keys: set[str]) -> RunCheck:
    """Check a committed run: exactly the objects its commit and manifest name, each one valid."""
    check = RunCheck(run_id)
    commit = layout.commit_key(run_id)
    manifest_key = layout.manifest_key(run_id)

    parsed: dict[bytes, pa.Table | None] = {}  # a spec file and its lake file are usually the same bytes
    row_bytes = _get(store, commit, check)
    row = _read_parquet(commit, row_bytes, check) if row_bytes is not None else None
    if row_bytes is not None:
        parsed[row_bytes] = row
    data_file, versions_named = _named_by_commit(run_id, row, check)
    check.data_file = data_file

    required = [manifest_key, layout.summary_key(run_id), commit]
    required += [layout.spec_table_key(run_id, t) for t in RUN_TABLES]
    required += [layout.lake_key(run_id, t, data_file) for t in RUN_TABLES]
    mine = {*required, layout.config_key(run_id), layout.log_key(run_id)}
    check.problems += [f"missing {k}" for k in required if k not in keys]
    for key in sorted(keys - mine):
        if _other_generation(run_id, key):
            check.garbage.append(key)
        else:
            check.problems.append(
                f"{key}: unexpected object, named by neither the run's commit nor its manifest "
                "(a reader that lists the folder would read it): delete it"
            )

    present = (keys & mine) - {manifest_key, commit}
    manifest = _manifest(store, run_id, check) if manifest_key in keys else None
    listed = manifest.objects if manifest is not None else None
    if listed is not None:
        for key in sorted(set(listed) - present):
            if key in (manifest_key, commit):
                check.problems.append(f"{manifest_key}: lists {key}, which a manifest never lists")
            elif key in mine:
                if key not in required:  # a required key already reads "missing ..."
                    check.problems.append(f"missing {key} (listed in the manifest)")
            else:
                check.problems.append(
                    f"{manifest_key}: lists {key}, which is not an object of this run (the commit names {data_file})"
                )
        for key in sorted(present - set(listed)):
            check.problems.append(f"{key}: not listed in the manifest {manifest_key}")

    tables: dict[str, pa.Table] = {}
    summary: object = None  # summary.json's document
    vouched: set[str] = set()  # keys whose bytes the manifest lists, size and CRC32C
    conformed: dict[bytes, pa.Table | None] = {}  # checked once per content; the problems name the first key
    for key in sorted(present | ({commit} if row_bytes is not None else set())):
        data = row_bytes if key == commit else _get(store, key, check)
        if data is None:
            continue
        entry = (listed or {}).get(key) if key != commit else None  # a manifest never lists the runs row
        if entry is not None and (entry["size"] != len(data) or entry["crc32c"] != crc32c_b64(data)):
            check.problems.append(f"{key}: bytes differ from the manifest (size or CRC32C)")
            entry = None
        if entry is not None:
            vouched.add(key)
        name = _table_of(run_id, key, data_file)
        if name is None:
            if key == layout.summary_key(run_id):
                summary = _check_json(key, data, check)
            continue
        if data not in parsed:
            parsed[data] = _read_parquet(key, data, check)
        table = parsed[data]
        if table is None:
            continue
        if entry is not None and entry["rows"] is not None and entry["rows"] != table.num_rows:
            check.problems.append(f"{key}: {table.num_rows} rows, the manifest says {entry['rows']}")
        if data not in conformed:
            conformed[data] = _check_table(run_id, key, name, table, versions_named.get(name), check)
        if conformed[data] is not None and key.startswith(layout.LAKE_ROOT + "/"):
            tables[name] = conformed[data]
    # its schema the contract's, so its values can be read (a row count other than one is a contract check)
    one_row = "runs" in tables and tables["runs"].num_rows == 1
    if one_row:
        check.problems += second_reader_differences(run_id, row_bytes, row)
    if len(tables) == len(TABLES):
        check.problems += [str(f) for f in reference_failures(tables)]
        sources = [layout.summary_key(run_id), *(layout.lake_key(run_id, t, data_file) for t in RUN_TABLES)]
        if one_row and all(k in vouched for k in sources) and manifest.created_at is not None:
            # rebuilt only from objects the manifest vouches for (so it was read): a changed one is named above
            check.problems += runs_row_differences(run_id, row, tables["runs"], summary, tables, manifest.created_at)
    return check


def _get(store: Store, key: str, check: RunCheck) -> bytes | None:
    try:
        return store.get(key)
    except ObjectNotFoundError:
        check.problems.append(f"missing {key} (it vanished while being checked)")
    except LakeError as exc:  # a link, a folder where the object should be, an unreadable file
        check.problems.append(f"{key}: cannot be read ({exc})")
    return None


def _named_by_commit(run_id: str, row: pa.Table | None, check: RunCheck) -> tuple[str, dict[str, int]]:
    """(the data file name the runs row names, table -> contract version of the run's files)."""
    commit = layout.commit_key(run_id)
    data_file, named_versions = layout.PART_FILE, {}
    if row is None or row.num_rows == 0:
        return data_file, named_versions  # unreadable or empty: reported by the Parquet and row checks
    # only these columns: the others are read once the row matches its contract (a damaged time zone
    # would fail in to_pylist)
    first = row.select([c for c in ("data_file", "table_versions") if c in row.column_names]).slice(0, 1).to_pylist()[0]
    value = first.get("data_file")
    if value is not None:
        try:
            data_file = layout.check_data_file(value)
        except LakeError as exc:
            check.problems.append(f"{commit}: data_file names no lake file ({exc}); assuming {layout.PART_FILE}")
    if "table_versions" in first:
        try:
            named_versions = run_table_versions(first["table_versions"])
        except (EvolutionError, ValueError, TypeError) as exc:
            check.problems.append(f"{commit}: table_versions is unreadable ({exc})")
    return data_file, named_versions


def _other_generation(run_id: str, key: str) -> bool:
    """A lake data file of the run under a data file name the commit does not name (an older generation)."""
    folder, _, name = key.rpartition("/")
    return layout.is_data_file(name) and any(
        folder == layout.lake_key(run_id, t).rpartition("/")[0] for t in RUN_TABLES
    )


def _table_of(run_id: str, key: str, data_file: str) -> str | None:
    for name in TABLES:
        if key == layout.lake_key(run_id, name, data_file) or (name in RUN_TABLES and key == layout.spec_table_key(run_id, name)):
            return name
    return None


# -- the manifest -------------------------------------------------------------------------------


def _manifest(store: Store, run_id: str, check: RunCheck) -> Manifest | None:
    """The manifest (its objects None when it is unusable), or None when it cannot be read."""
    data = _get(store, layout.manifest_key(run_id), check)
    if data is None:
        return None
    manifest = read_manifest(data, run_id)
    check.problems += manifest.problems
    return manifest


# -- files -----------------------------------------------------------------------------------------


def _read_parquet(key: str, data: bytes, check: RunCheck) -> pa.Table | None:
    try:
        return read_parquet_bytes(data)
    except (pa.ArrowException, OSError) as exc:
        check.problems.append(f"{key}: not readable as Parquet ({exc})")
        return None


def _check_table(run_id: str, key: str, name: str, parsed: pa.Table, named: int | None, check: RunCheck) -> pa.Table | None:
    """Check a file against the contract version it was written under; the table with current columns, or None."""
    meta = parsed.schema.metadata or {}
    if meta.get(b"run_id") != run_id.encode():
        check.problems.append(f"{key}: metadata run_id is {meta.get(b'run_id')!r}, expected {run_id!r}")
    current = TABLES[name]
    raw = meta.get(b"schema_version")
    try:
        version = int(raw) if raw is not None else None
        known = _versions(name)
        if version is None or version not in known:
            check.problems.append(
                f"{key}: metadata schema_version is {raw!r}, not a version of the {name} contract ({', '.join(map(str, known))})"
            )
            return None
        table: Table = _table_at(name, version)
    except ValueError as exc:  # not a number; or EvolutionError: a contract record that cannot be read
        check.problems.append(f"{key}: metadata schema_version is {raw!r}, which cannot be checked ({exc})")
        return None
    if named is not None and version != named:
        check.problems.append(f"{key}: written under {name} contract version {version}, the runs row says {named}")
    if not parsed.schema.equals(table.arrow_schema, check_metadata=False):
        diff = _schema_difference(parsed.schema, table.arrow_schema)
        label = f"the {name} contract" if version == current.version else f"the {name} contract version {version}"
        check.problems.append(f"{key}: schema differs from {label}: {diff}")
        return None
    check.problems += [f"{key}: {f}" for f in pandera_failures(table, parsed)]
    return _as_current(name, parsed)


@functools.lru_cache(maxsize=None)
def _versions(name: str) -> tuple[int, ...]:
    return tuple(versions(name))


@functools.lru_cache(maxsize=None)
def _table_at(name: str, version: int) -> Table:
    return table_at(name, version)


def _as_current(name: str, parsed: pa.Table) -> pa.Table | None:
    """A file of an older contract version with the columns added since as NULL (how readers see it)."""
    target = TABLES[name].arrow_schema
    if parsed.schema.names == target.names:
        return parsed
    columns = []
    for f in target:
        if f.name in parsed.schema.names:
            columns.append(parsed.column(f.name))
        elif f.nullable:
            columns.append(pa.nulls(parsed.num_rows, f.type))
        else:
            return None  # not a file of any version: reported by the schema check
    return pa.Table.from_arrays(columns, schema=target)


def _schema_difference(actual: pa.Schema, expected: pa.Schema) -> str:
    diffs = []
    for f in expected:
        if f.name not in actual.names:
            diffs.append(f"missing {f.name}")
        elif not actual.field(f.name).equals(f, check_metadata=False):
            got = actual.field(f.name)
            diffs.append(f"{f.name} is {got.type}{'' if got.nullable else ' not null'}, expected {f.type}{'' if f.nullable else ' not null'}")
    diffs += [f"extra {n}" for n in actual.names if n not in expected.names]
    if not diffs and actual.names != expected.names:
        diffs.append("column order differs")
    return "; ".join(diffs)


def _check_json(key: str, data: bytes, check: RunCheck) -> object:
    """The JSON document in data; None (and a problem) when it is not UTF-8 JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        check.problems.append(f"{key}: not valid UTF-8 JSON ({exc})")
        return None
