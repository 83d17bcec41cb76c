"""Contract evolution: the record of every released version of each table, its rules, and older versions' schemas.

The rules (docs/contract-rules.md#evolution):
  - a new version of a table may add columns, and every added column is nullable;
  - a column's type never changes; a column is never renamed or removed;
  - a column may go from required to nullable (that is how one is deprecated: it stays, nullable),
    never back;
  - added columns come after the existing ones, and say which version added them (`Column.since`);
  - any change to the columns is a new version: version N+1 follows N.

The record lives in schemas/history/{table}.json: every released version's physical columns (name,
BigQuery type, nullable). `python -m schemas.evolution record` (`make contract-history`) appends
the current contract's version to it, and refuses a change that breaks the rules;
`python -m schemas.evolution check` (and tests/test_evolution.py, in `make test`) compares the
contract with the record.

Readers use the record for older files: `table_at(name, version)` is the Table as it was at that
version (its columns, nullability and checks), `schema_of` its pyarrow schema and `pandera_of` its
Pandera schema, so a file is read and validated under the version it was written with.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import pyarrow as pa

import schemas
from schemas.contract import Column, Table

HISTORY_DIR = Path(__file__).resolve().parent / "history"
REGENERATE = "make contract-history"  # or: python -m schemas.evolution record


class EvolutionError(ValueError):
    """A contract change that breaks the evolution rules, or a version nobody recorded."""


@dataclass(frozen=True)
class RecordedColumn:
    name: str
    type: str  # BigQuery type name (Kind.bigquery)
    nullable: bool


@dataclass(frozen=True)
class RecordedVersion:
    version: int
    columns: tuple[RecordedColumn, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> RecordedColumn | None:
        return next((c for c in self.columns if c.name == name), None)


def current_record(table: Table) -> RecordedVersion:
    """The table's current contract as a record."""
    return RecordedVersion(table.version, tuple(RecordedColumn(c.name, c.kind.bigquery, c.nullable) for c in table.physical_columns))


def records_from_since(table: Table) -> list[RecordedVersion]:
    """Versions 1..current built from Column.since (how the record starts when there is none).

    A `{name}_ns` companion carries its timestamp's `since` (Table.physical_columns).
    """
    pairs = list(zip(table.physical_columns, current_record(table).columns))
    return [RecordedVersion(v, tuple(rec for col, rec in pairs if col.since <= v)) for v in range(1, table.version + 1)]


# --- the checked-in record ----------------------------------------------------------------------


def history_path(name: str, history_dir: Path | None = None) -> Path:
    return Path(history_dir or HISTORY_DIR) / f"{name}.json"


def load_history(name: str, history_dir: Path | None = None) -> list[RecordedVersion]:
    """The recorded versions of a table, oldest first ([] when nothing is recorded)."""
    path = history_path(name, history_dir)
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    if data.get("table") != name:
        raise EvolutionError(f"{path}: records table {data.get('table')!r}, not {name!r}")
    return [
        RecordedVersion(v["version"], tuple(RecordedColumn(c["name"], c["type"], c["nullable"]) for c in v["columns"]))
        for v in data["versions"]
    ]


def history_text(name: str, versions: Iterable[RecordedVersion]) -> str:
    """The record as JSON, one column a line (so a diff shows each added column)."""
    note = f"Every released version of the {name} contract; appended by `{REGENERATE}`, never edited by hand."
    blocks = []
    for v in versions:
        cols = ",\n".join(f"    {json.dumps(dataclasses.asdict(c))}" for c in v.columns)
        blocks.append(f'  {{"version": {v.version}, "columns": [\n{cols}\n  ]}}')
    return f'{{"table": {json.dumps(name)}, "note": {json.dumps(note)}, "versions": [\n' + ",\n".join(blocks) + "\n]}\n"


# --- the rules ----------------------------------------------------------------------------------


def step_problems(name: str, old: RecordedVersion, new: RecordedVersion) -> list[str]:
    """What breaks the rules going from `old` to `new` (the next version of the same table)."""
    where = f"{name} v{old.version} -> v{new.version}"
    problems = []
    if new.version != old.version + 1:
        problems.append(f"{where}: versions go up by one")
    for col in old.columns:
        now = new.column(col.name)
        if now is None:
            problems.append(
                f"{where}: column {col.name} is removed or renamed (a column is never removed or renamed; "
                "to deprecate it, keep it and make it nullable)"
            )
            continue
        if now.type != col.type:
            problems.append(f"{where}: type of {col.name} changed from {col.type} to {now.type} (a type never changes)")
        if col.nullable and not now.nullable:
            problems.append(f"{where}: {col.name} went from nullable to required (old files may hold nulls)")
    kept = [c for c in new.names if old.column(c) is not None]
    if kept != [c for c in old.names if new.column(c) is not None]:
        problems.append(f"{where}: the existing columns changed order")
    added = [c for c in new.columns if old.column(c.name) is None]
    if added and new.names[: len(new.names) - len(added)] != tuple(kept):
        problems.append(f"{where}: added columns {[c.name for c in added]} must come after the existing ones")
    for col in added:
        if not col.nullable:
            problems.append(f"{where}: added column {col.name} is not nullable (files written before v{new.version} lack it)")
    return problems


def table_problems(table: Table, history: list[RecordedVersion], *, require_recorded: bool = True) -> list[str]:
    """Everything wrong between a table's contract and its record (empty: the contract may ship)."""
    name = table.name
    problems = []
    if not history:
        return [f"{name}: no recorded versions in {history_path(name)} (run `{REGENERATE}`)"]
    if [v.version for v in history] != list(range(1, len(history) + 1)):
        problems.append(f"{name}: recorded versions {[v.version for v in history]} are not 1, 2, 3, ...")
    for old, new in zip(history, history[1:]):
        problems += step_problems(name, old, new)
    current = current_record(table)
    last = history[-1]
    if table.version < last.version:
        problems.append(f"{name}: contract version {table.version} is older than the recorded v{last.version}")
    elif table.version == last.version:
        if current != last:
            changed = _difference(last, current)
            problems.append(
                f"{name}: the columns differ from released version {last.version} ({changed}) but the version was not "
                f"bumped: set version={last.version + 1} in schemas/{name}.py, `since={last.version + 1}` on added "
                f"columns, then `{REGENERATE}`"
            )
    else:
        problems += step_problems(name, last, current)
        if current.columns == last.columns:
            problems.append(f"{name}: version bumped to {table.version} without a change to the columns")
        if require_recorded:
            problems.append(f"{name}: version {table.version} is not recorded in {history_path(name)} (run `{REGENERATE}`)")
    # since: the version that first recorded the column (or the current version, if not recorded yet)
    first_seen: dict[str, int] = {}
    for v in [*history, current] if table.version > last.version else history:
        for c in v.names:
            first_seen.setdefault(c, v.version)
    for col in table.columns:
        expected = first_seen.get(col.name, table.version)
        if col.since != expected:
            problems.append(f"{name}: column {col.name} says since={col.since}, but version {expected} added it")
    return problems


def _difference(old: RecordedVersion, new: RecordedVersion) -> str:
    parts = []
    added = [c.name for c in new.columns if old.column(c.name) is None]
    removed = [c.name for c in old.columns if new.column(c.name) is None]
    changed = [c.name for c in new.columns if old.column(c.name) not in (None, c)]
    if added:
        parts.append(f"added {added}")
    if removed:
        parts.append(f"removed {removed}")
    if changed:
        parts.append(f"changed {changed}")
    return ", ".join(parts) or "order"


def check(tables: Mapping[str, Table] | None = None, history_dir: Path | None = None) -> list[str]:
    """Problems of every table against the checked-in record."""
    tables = schemas.TABLES if tables is None else tables
    problems = [p for t in tables.values() for p in table_problems(t, load_history(t.name, history_dir))]
    recorded = {p.stem for p in Path(history_dir or HISTORY_DIR).glob("*.json")}
    problems += [f"{n}: recorded in {history_path(n, history_dir)} but not in the contract (a table is never removed)" for n in sorted(recorded - set(tables))]
    return problems


def record(tables: Mapping[str, Table] | None = None, history_dir: Path | None = None) -> list[str]:
    """Append each table's current version to its record; refuse (EvolutionError) a change that breaks the rules.

    A table without a record gets versions 1..current built from Column.since. Returns
    the tables whose record changed. Nothing is written unless every table passes.
    """
    tables = schemas.TABLES if tables is None else tables
    writes: dict[Path, str] = {}
    problems: list[str] = []
    for table in tables.values():
        history = load_history(table.name, history_dir)
        if not history:
            history = records_from_since(table)
        elif table.version > history[-1].version:
            history = [*history, current_record(table)]
        found = table_problems(table, history, require_recorded=True)
        problems += found
        path = history_path(table.name, history_dir)
        text = history_text(table.name, history)
        if not found and (not path.is_file() or path.read_text() != text):
            writes[path] = text
    if problems:
        raise EvolutionError("the contract breaks the evolution rules; nothing recorded:\n  " + "\n  ".join(problems))
    for path, text in writes.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(p.stem for p in writes)


# --- older versions, for readers ----------------------------------------------------------------


def versions(name: str, history_dir: Path | None = None) -> list[int]:
    """Every version a reader may meet: the recorded ones and the current contract's."""
    current = schemas.TABLES[name].version
    return sorted({v.version for v in load_history(name, history_dir)} | {current})


def table_at(name: str, version: int, history_dir: Path | None = None) -> Table:
    """The table as it was at `version`: the columns it had then (with their nullability then), and the checks on them.

    The current version is the contract itself. An older one comes from the record;
    descriptions and checks come from the current contract (they may be reworded,
    never change what a column holds).
    """
    table = schemas.TABLES[name]
    if version == table.version:
        return table
    recorded = next((v for v in load_history(name, history_dir) if v.version == version), None)
    if recorded is None:
        known = ", ".join(map(str, versions(name, history_dir)))
        raise EvolutionError(f"{name} has no contract version {version} (known: {known})")
    columns: list[Column] = []
    for col in table.columns:
        then = recorded.column(col.name)
        if then is not None:
            columns.append(dataclasses.replace(col, nullable=then.nullable))
    old = dataclasses.replace(
        table,
        version=version,
        columns=tuple(columns),
        row_checks=tuple(c for c in table.row_checks if set(c.columns) <= set(recorded.names)),
        unique_together=table.unique_together if set(table.unique_together) <= set(recorded.names) else (),
    )
    got = current_record(old)
    if got.names != recorded.names or got.columns != recorded.columns:
        raise EvolutionError(f"{name} v{version}: the record {recorded.names} cannot be rebuilt from the contract ({got.names})")
    return old


def schema_of(name: str, version: int) -> pa.Schema:
    """The pyarrow schema of `name` files written under contract `version`."""
    return table_at(name, version).arrow_schema


def pandera_of(name: str, version: int):
    """The Pandera schema that validates `name` files written under contract `version`."""
    from schemas.pandera_schema import pandera_schema

    return pandera_schema(table_at(name, version))


def file_version(metadata: Mapping[bytes, bytes] | None) -> int | None:
    """The contract version a Parquet file was written under (its key-value metadata), None if absent or unreadable."""
    raw = (metadata or {}).get(b"schema_version")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def table_of_file(name: str, metadata: Mapping[bytes, bytes] | None) -> Table:
    """The Table a file of `name` is checked against: the version its metadata names (unknown: the current one)."""
    version = file_version(metadata)
    if version is None or version not in versions(name):
        return schemas.TABLES[name]
    return table_at(name, version)


def run_table_versions(table_versions: str | None) -> dict[str, int]:
    """A runs row's `table_versions` (JSON {table: version}); NULL (rows before runs v2) means version 1 everywhere."""
    if table_versions is None:
        return {name: 1 for name in schemas.RUN_TABLES}
    data = json.loads(table_versions)
    if not isinstance(data, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in data.values()):
        raise EvolutionError(f"table_versions {table_versions!r} is not a JSON object of table -> version")
    return {name: data.get(name, 1) for name in schemas.RUN_TABLES}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["record"]:
        try:
            changed = record()
        except EvolutionError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"recorded {', '.join(changed)}" if changed else "schemas/history already records every table's version")
        return 0
    if args == ["check"]:
        problems = check()
        for p in problems:
            print(p, file=sys.stderr)
        if not problems:
            print("the contract follows the evolution rules and every version is recorded")
        return 1 if problems else 0
    print("usage: python -m schemas.evolution record|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
