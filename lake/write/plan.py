"""plan_run: everything a run will write, built and checked before the first byte.

A Plan holds the encoded bytes of every object of one run and the keys each
goes to: the four tables (the spec file and the lake partition share one
encoding), config and log, summary.json, and the runs row that commits the
run. If anything in the run breaks the contract, plan_run raises and nothing
has been written anywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

import pyarrow as pa

from lake import layout
from lake.checksum import crc32c_b64
from lake.errors import Failure, LakeError, ValidationError
from lake.run import Run, RunId
from lake.write.checks import conform_run, submit_checks
from lake.write.encode import JSON_CONTENT_TYPE, PARQUET_CONTENT_TYPE, TEXT_CONTENT_TYPE, json_bytes, parquet_bytes, to_jsonable
from lake.write.equity_stats import equity_stats
from lake.write.params import plain_params, runs_columns
from lake.write.redact import redact, redact_log, scrub_bytes, scrub_value, scrubbable
from lake.write.runs_row import RunSummary, build_runs_row, parse_summary, row_failures, run_money
from schemas import RUN_TABLES, RUNS


@dataclass(frozen=True)
class Blob:
    """Bytes encoded once and stored under one or more keys; their CRC32C computed once too."""

    keys: tuple[str, ...]
    data: bytes
    content_type: str
    rows: int | None = None
    crc32c: str = ""  # of data: computed here when not given

    def __post_init__(self) -> None:
        if not self.crc32c:
            object.__setattr__(self, "crc32c", crc32c_b64(self.data))

    def with_keys(self, keys: tuple[str, ...]) -> "Blob":
        """The same bytes (and checksum) under other keys."""
        return replace(self, keys=keys)

    def split(self) -> tuple["Blob | None", "Blob | None"]:
        """(this blob's lake data keys, its other keys), each None when it has none."""
        lake = tuple(filter(layout.is_lake_data_key, self.keys))
        rest = tuple(k for k in self.keys if k not in lake)
        return (self.with_keys(lake) if lake else None), (self.with_keys(rest) if rest else None)


@dataclass(frozen=True)
class Plan:
    """One run's objects in commit order: data, then summary, then the runs row (the commit).

    Lake data files are named by `data_file` (a write starts with
    part-00000.parquet; an overwrite renames them to its generation with
    `named`, so the new files go beside the committed ones). `commit_row`
    encodes the runs row for the creation time the commit settles on (a rerun
    keeps the first write's); it was built once at plan time, so it cannot fail
    later. `manifest` is set when the manifest's bytes are given (push copies a
    committed run verbatim); otherwise the commit writes one from `entries()`.
    """

    run_id: RunId
    data: list[Blob]
    summary: Blob
    build_row: Callable[[dt.datetime, str], Blob]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    manifest: bytes | None = None
    data_file: str = layout.PART_FILE

    def commit_row(self, created_at: dt.datetime) -> Blob:
        return self.build_row(created_at, self.data_file)

    def entries(self) -> dict[str, dict]:
        """The manifest's objects: size, CRC32C and rows of every key but the manifest and the runs row."""
        entries = {}
        for blob in [*self.data, self.summary]:
            entry = {"size": len(blob.data), "crc32c": blob.crc32c, "rows": blob.rows}
            entries.update(dict.fromkeys(blob.keys, entry))
        return entries

    def generation(self) -> str:
        """16 hex digits naming the content of the lake data files (from their tables, sizes and CRC32C)."""
        digest = hashlib.sha256()
        for blob in self.data:
            for key in filter(layout.is_lake_data_key, blob.keys):
                digest.update(f"{key.split('/')[1]}:{len(blob.data)}:{blob.crc32c};".encode())
        return digest.hexdigest()[:16]

    def named(self, data_file: str) -> "Plan":
        """The same plan with its lake data files named data_file."""
        data = [b.with_keys(tuple(layout.with_data_file(k, data_file) for k in b.keys)) for b in self.data]
        return replace(self, data=data, data_file=data_file)


def _table_versions() -> str:
    """The contract version each data table's file is written under (readers group files by it)."""
    return json.dumps({name: table.version for name, table in RUN_TABLES.items()}, sort_keys=True)


def plan_run(run: Run) -> Plan:
    """Validate the run and encode every object of it, or raise before anything is written.

    Every problem is collected (summary, config and log as well as the tables)
    and raised together as one ValidationError. Each table's Parquet encoding
    runs beside its Pandera checks (both release the GIL); if any check fails
    the encoded bytes are simply dropped. check_run is this function with the
    error turned into a report, so the two can never disagree.
    """
    if not isinstance(run, Run):
        raise LakeError(f"write_run expects a lake.Run, got {type(run).__name__}")
    failures: list[Failure] = []
    summary, documents, summary_blob, identity = _documents(run, failures)
    tables, table_failures = conform_run(run)
    failures += table_failures
    order = sorted(tables, key=lambda n: -tables[n].num_rows)  # largest first keeps both workers busy
    with _pool(sum(t.num_rows for t in tables.values())) as pool:
        encoded = {n: pool.submit(parquet_bytes, tables[n], RUN_TABLES[n], run.run_id) for n in order}
        checks = submit_checks(pool, {n: tables[n] for n in order})
        if summary is not None:
            checks.append(pool.submit(_runs_row_failures, summary, tables))
        for future in checks:
            failures += future.result()
        if failures:
            for future in encoded.values():
                future.cancel()
            raise ValidationError(run.run_id, failures)
        data = [
            Blob(
                (layout.spec_table_key(run.run_id, n), layout.lake_key(run.run_id, n)),
                encoded[n].result(),
                PARQUET_CONTENT_TYPE,
                tables[n].num_rows,
            )
            for n in RUN_TABLES
        ]

    money = run_money(tables)  # once for every build of the row (a rerun or overwrite builds it again)
    columns = {**identity, **equity_stats(tables["equity_curve"], money.currency).columns(), "table_versions": _table_versions()}

    def build_row(created_at: dt.datetime, data_file: str) -> Blob:
        row = build_runs_row(summary, tables, created_at, money=money, data_file=data_file, **columns)
        return Blob((layout.commit_key(run.run_id),), parquet_bytes(row, RUNS, run.run_id), PARQUET_CONTENT_TYPE, 1)

    # No failures: _runs_row_failures has built the runs row from these very tables and summary,
    # so commit_row cannot fail once writing has begun.
    return Plan(run.run_id, data + documents, summary_blob, build_row, tables)


SMALL_RUN_ROWS = 10_000  # below this, a run's tasks take less time than handing them to threads costs


def _pool(rows: int) -> Executor:
    """Threads for the encodings and checks of a run (they release the GIL); inline for a small run."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1) if rows >= SMALL_RUN_ROWS else _Inline()


class _Inline(Executor):
    """An executor that runs each task as it is submitted."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered by result(), as a pool would
            future.set_exception(exc)
        return future


def _runs_row_failures(summary: RunSummary, tables: dict[str, pa.Table]) -> list[Failure]:
    """What keeps the runs row from being built from the parsed summary and these tables.

    The summary's fields were parsed already (each bad one a Failure naming
    summary.<field>); here the tables' totals must fit the row's NUMERIC
    columns, and the row is built once, so commit_row cannot fail after the
    first byte is written. Tables that failed stand in as empty ones, so this
    is reported in the same pass as bad tables.
    """
    stand_in = {n: tables[n] if n in tables else t.arrow_schema.empty_table() for n, t in RUN_TABLES.items()}
    money = run_money(stand_in)  # summed once for both (a pass over fills and positions)
    equity = equity_stats(stand_in["equity_curve"], money.currency)
    failures = row_failures(money, equity)
    if not failures:
        try:
            build_runs_row(summary, stand_in, dt.datetime.now(dt.timezone.utc), money=money, **equity.columns())
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:  # a gap in parse_summary
            failures.append(Failure("runs", None, "runs_row", f"the runs row cannot be built ({type(exc).__name__}: {exc})"))
    return failures


def _documents(run: Run, failures: list[Failure]) -> tuple[RunSummary | None, list[Blob], Blob | None, dict]:
    """Summary, config, log and parameters: secrets redacted from the JSON and scrubbed from every text.

    Each document is first turned into the plain JSON it will be written as
    (configs, dataclasses, msgspec Structs ... walked field by field); then
    secret-looking keys and passwords in strings are redacted, and every value
    so found (in the summary, the config, the log or the parameters) is scrubbed
    from all of them and from the runs row's summary_json, in every encoding each
    is written in. A document that cannot be written adds Failures (every
    offending value by its JSON path) and comes back as None. The last item is
    the runs row's experiment, tags_json and params_json.
    """
    secrets: set[str] = set()
    summary = _json_document("summary", run.summary, secrets, failures)
    config = _json_document("config", run.config, secrets, failures) if run.config is not None else None
    log = _log_bytes(run.log, secrets, failures) if run.log is not None else None
    params = plain_params(run.params, secrets, failures) if run.params is not None else None
    found = scrubbable(secrets)
    identity = runs_columns(run.experiment, run.tags, params, found, failures)
    blobs = []
    if config is not None:
        blobs.append(Blob((layout.config_key(run.run_id),), json_bytes(scrub_value(config, found), "config"), JSON_CONTENT_TYPE))
    if log is not None:
        blobs.append(Blob((layout.log_key(run.run_id),), scrub_bytes(log, found), TEXT_CONTENT_TYPE))
    if summary is None:
        return None, blobs, None, identity
    summary = _with_run_id(scrub_value(summary, found), run.run_id, failures)
    parsed = parse_summary(summary, failures)
    summary_blob = Blob((layout.summary_key(run.run_id),), json_bytes(summary, "summary"), JSON_CONTENT_TYPE)
    return parsed, blobs, summary_blob, identity


def _with_run_id(summary: dict, run_id: str, failures: list[Failure]) -> dict:
    """The summary with `run_id` the lake's run_id: one name, one meaning, in the path and in summary.json.

    NautilusTrader's BacktestResult calls its own run UUID `run_id`; a summary that brings a different one
    keeps it as `nautilus_run_id` (refused when that is given too, and differs).
    """
    given = summary.get("run_id")
    if given is None or given == run_id:
        return {**summary, "run_id": run_id}
    if summary.get("nautilus_run_id", given) != given:
        failures.append(Failure(
            "summary", "run_id", "run_id",
            f"{given!r} is not the run's run_id {run_id!r}, and nautilus_run_id holds another value "
            f"{summary['nautilus_run_id']!r}: summary.run_id is the lake's run_id (leave it out, or make it {run_id!r})",
        ))
        return summary
    return {**summary, "run_id": run_id, "nautilus_run_id": given}


def _json_document(name: str, value, secrets: set[str], failures: list[Failure]) -> dict | None:
    """The document as the plain JSON dict it will be written as, redacted; or None after appending Failures."""
    errors: list[str] = []
    plain = to_jsonable(value, name, secrets, errors)
    if not isinstance(plain, dict):
        failures.append(Failure(name, None, "type", f"{name} must be a dict, got {type(value).__name__}"))
        return None
    failures += [_json_failure(name, error) for error in errors]
    return None if errors else redact(plain, secrets)


def _json_failure(name: str, error: str) -> Failure:
    """to_jsonable says '<path>: <problem>'; the path below the document becomes the column."""
    path, _, problem = error.partition(": ")
    column = path[len(name) :].lstrip(".") if path.startswith(name) else path
    return Failure(name, column or None, "json", problem or error)


def _log_bytes(log, secrets: set[str], failures: list[Failure]) -> bytes | None:
    """The log's bytes with the passwords it shows redacted (their values added to `secrets`), or None after
    appending a Failure."""
    if isinstance(log, (bytes, str)):
        try:
            return redact_log(log, secrets)
        except UnicodeEncodeError as exc:  # text only
            failures.append(Failure(
                "log", None, "utf8",
                f"log text cannot be encoded as UTF-8: a lone surrogate {log[exc.start]!r} at character {exc.start}",
            ))
            return None
    failures.append(Failure("log", None, "type", f"log must be str or bytes, got {type(log).__name__}"))
    return None
