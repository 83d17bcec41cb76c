"""Runs saved as the storage spec's files, read back into lake.Run (for `lake push` and `lake check`).

A run's spec files are backtest_results/{run_id}/summary.json and
{orders,fills,positions,equity_curve}.parquet, config/{run_id}/backtest_config.json
and logs/{run_id}/execution.log. A table file that is absent reads as an empty
table (as push has always treated it); a file that cannot be parsed is a
SpecFileError naming it.

`find_spec_runs(path)` finds the runs under a local folder laid out like a
store (one or more runs; a committed lake's own files are allowed too), or in
a single run folder (summary.json beside the table files; the folder's name is
the run_id). It reads nothing but file names, and writes nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from lake import layout
from lake.errors import Failure, InvalidRunIdError, LakeError, ValidationError
from lake.run import Run, check_run_id
from lake.stores import LocalStore, ObjectNotFoundError, resolve
from lake.write.encode import read_parquet_bytes
from schemas import RUN_TABLES

_ROOTS = (layout.SPEC_ROOT, "config", "logs", layout.LAKE_ROOT)


class SpecFileError(ValidationError):
    """Spec files of a run that cannot be read back: each Failure names its file."""


class Readable(Protocol):
    def get(self, key: str) -> bytes: ...


def read_spec_run(store: Readable, run_id: str, keys: set[str] | frozenset[str]) -> Run:
    """The run saved as spec files under `keys` of `store`, or SpecFileError listing every unreadable file."""
    run_id = check_run_id(run_id)
    failures: list[Failure] = []
    summary_key = layout.summary_key(run_id)
    if summary_key not in keys:
        raise SpecFileError(run_id, [Failure("summary", None, "missing_file", f"{summary_key} is missing")])
    summary = _json(store, summary_key, "summary", failures)
    tables = {}
    for name, table in RUN_TABLES.items():
        key = layout.spec_table_key(run_id, name)
        tables[name] = _parquet(store, key, name, failures) if key in keys else table.arrow_schema.empty_table()
    config_key, log_key = layout.config_key(run_id), layout.log_key(run_id)
    config = _json(store, config_key, "config", failures) if config_key in keys else None
    log = store.get(log_key) if log_key in keys else None
    if failures:
        raise SpecFileError(run_id, failures)
    return Run(run_id, summary, config=config, log=log, **tables)


def _json(store: Readable, key: str, what: str, failures: list[Failure]):
    try:
        return json.loads(store.get(key))
    except ValueError as exc:  # invalid JSON and invalid UTF-8 alike
        failures.append(Failure(what, None, "json_file", f"{key} is not valid JSON ({exc})"))
    except RecursionError:
        failures.append(Failure(what, None, "json_file", f"{key} is nested too deeply to read"))
    return None


def _parquet(store: Readable, key: str, table: str, failures: list[Failure]) -> pa.Table | None:
    try:
        return read_parquet_bytes(store.get(key))
    except (pa.ArrowException, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        failures.append(Failure(table, None, "parquet_file", f"{key} is not readable as Parquet ({reason})"))
        return None


@dataclass
class SpecRuns:
    """The runs found under a folder: a store to read them from, each run's keys, and files that belong to none."""

    path: str
    store: Readable
    runs: dict[str, set[str]] = field(default_factory=dict)
    unexpected: dict[str | None, list[str]] = field(default_factory=dict)  # run_id (None: no run) -> file names


def find_spec_runs(path: str | os.PathLike) -> SpecRuns:
    """The runs of spec files under `path` (a store-like folder or one run folder), or LakeError saying why none."""
    where = resolve(path)
    if where.is_gcs:
        raise LakeError(f"{where.url}: give a local folder (copy the run down first); for a store, `lake validate` checks it")
    root = where.path
    if not root.exists():
        raise LakeError(f"{root}: no such file or folder")
    if not root.is_dir():
        raise LakeError(f"{root} is a file; give a folder of spec files ({layout.SPEC_ROOT}/{{run_id}}/...) "
                        "or a run folder holding summary.json")
    if (root / "summary.json").is_file():
        return _run_folder(root)
    return _store_folder(root)


def _store_folder(root: Path) -> SpecRuns:
    store = LocalStore(root)
    found = SpecRuns(str(root), store)
    for top in _ROOTS:
        for key in store.list(top + "/"):
            run_id = layout.run_id_from_key(key)
            if Path(key).name.startswith("."):
                continue  # .DS_Store and friends
            if run_id is None:
                found.unexpected.setdefault(None, []).append(_shown(key))
            elif key in layout.run_keys(run_id):
                found.runs.setdefault(run_id, set()).add(key)
            else:
                found.unexpected.setdefault(run_id, []).append(_shown(key))
    for run_id in found.unexpected:
        if run_id is not None:
            found.runs.setdefault(run_id, set())  # a run with only stray files is still reported
    if not found.runs:
        stray = found.unexpected.get(None, [])
        hint = f" ({len(stray)} file(s) outside any run, e.g. {stray[0]})" if stray else ""
        run_folders = sorted(p.name for p in root.iterdir() if (p / "summary.json").is_file())
        if run_folders:  # e.g. PATH is the backtest_results folder itself
            hint = f" (it holds run folders (e.g. {run_folders[0]}): give one of them, or the folder above {root.name})"
        raise LakeError(
            f"no runs found under {root}{hint}: expected {layout.SPEC_ROOT}/{{run_id}}/summary.json and table files, "
            "or a run folder holding summary.json"
        )
    return found


class _RunFolder:
    """One run's folder read under the store keys of that run (summary.json, orders.parquet, ...)."""

    def __init__(self, root: Path, run_id: str):
        self.root = root
        self.files = {
            key: root / key.rsplit("/", 1)[1]
            for key in layout.run_keys(run_id)
            if not key.startswith(layout.LAKE_ROOT + "/") and (root / key.rsplit("/", 1)[1]).is_file()
        }

    def get(self, key: str) -> bytes:
        try:
            return self.files[key].read_bytes()
        except KeyError:
            raise ObjectNotFoundError(key) from None
        except OSError as exc:
            raise LakeError(f"cannot read {self.files[key]}: {exc}") from exc


def _run_folder(root: Path) -> SpecRuns:
    root = root.resolve()
    try:
        run_id = check_run_id(root.name)
    except InvalidRunIdError as exc:
        raise LakeError(f"{root} holds summary.json, so its name must be the run_id: {exc}") from None
    folder = _RunFolder(root, run_id)
    known = {p.name for p in folder.files.values()}
    stray = sorted(_shown(p.name) + ("/" if p.is_dir() else "") for p in root.iterdir()
                   if p.name not in known and not p.name.startswith("."))
    found = SpecRuns(str(root), folder, {run_id: set(folder.files)})
    if stray:
        found.unexpected[run_id] = stray
    return found


def _shown(name: str) -> str:
    """A file name fit to print: bytes that are not UTF-8 (kept by Python as surrogates) shown as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
