"""The contract exported for other tools, derived from the Table definitions only.

- markdown: the data dictionary analysts read (docs/contract.md is this, generated)
- bigquery-json: each table's column list as `bq mk --schema` and Terraform take it
- json-schema: JSON Schema (draft 2020-12) of one row of each table, as JSON carries it
  (decimals and timestamps as strings, so nothing is rounded)
- arrow: the pyarrow schema of each table's files, as text

`lake contract --format F [--table T]` prints them.
"""

from __future__ import annotations

import json
from typing import Iterable

from schemas import TABLES
from schemas.contract import DECIMAL_PRECISION, DECIMAL_SCALE, Column, Kind, Table

FORMATS = ("markdown", "bigquery-json", "json-schema", "arrow")
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "make contract-docs"  # or: lake contract --format markdown > docs/contract.md

_INT_DIGITS = DECIMAL_PRECISION - DECIMAL_SCALE
_DECIMAL_BODY = rf"[0-9]{{1,{_INT_DIGITS}}}(\.[0-9]{{1,{DECIMAL_SCALE}}})?"
_JSON_TYPES = {
    Kind.STRING: "string",
    Kind.DECIMAL: "string",
    Kind.TIMESTAMP: "string",
    Kind.INT64: "integer",
    Kind.FLOAT64: "number",
    Kind.BOOL: "boolean",
}


def export(fmt: str, table: str | None = None) -> str:
    """The contract (every table, or one) in one of FORMATS, as the text to print."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    tables = [TABLES[table]] if table else list(TABLES.values())
    if fmt == "markdown":
        return markdown(tables)
    if fmt == "arrow":
        return "\n".join(arrow_text(t) for t in tables)
    make = bigquery_json if fmt == "bigquery-json" else json_schema
    value = make(tables[0]) if table else {t.name: make(t) for t in tables}
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _companions(table: Table) -> dict[str, Column]:
    """`{name}_ns` companion column name -> the timestamp column it belongs to."""
    return {c.ns_name: c for c in table.columns if c.exact_ns}


# -- BigQuery --------------------------------------------------------------------------------


def bigquery_json(table: Table) -> list[dict[str, str]]:
    """[{name, type, mode, description}] as `bq mk --schema FILE` wants it (run_id is the partition column)."""
    return table.bigquery_columns()


# -- JSON Schema -----------------------------------------------------------------------------


def json_schema(table: Table) -> dict:
    """JSON Schema of one row: the constraints JSON Schema can express (types, nulls, domains, signs, decimals)."""
    notes = [f"{c.name}: {c.description}" for c in table.row_checks]
    if table.unique_together:
        notes.append(f"unique together per run: {', '.join(table.unique_together)}")
    notes += [f"{c.name} unique per run" for c in table.physical_columns if c.unique]
    description = table.description
    if notes:
        description += " Checked across rows (not expressible here): " + "; ".join(notes) + "."
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:execution-lake:contract:{table.name}:v{table.version}",
        "title": table.name,
        "description": description,
        "type": "object",
        "properties": {c.name: _json_property(c) for c in table.physical_columns},
        "required": [c.name for c in table.physical_columns if not c.nullable],
        "additionalProperties": False,
    }


def _json_property(col: Column) -> dict:
    base = _JSON_TYPES[col.kind]
    prop: dict = {"type": [base, "null"] if col.nullable else base, "description": col.description}
    if col.kind is Kind.DECIMAL:
        prop["pattern"] = _decimal_pattern(col)
        prop["description"] += (
            f" A decimal as a string: at most {DECIMAL_SCALE} decimals (NUMERIC, never rounded)."
        )
    elif col.kind is Kind.TIMESTAMP:
        prop["format"] = "date-time"
        prop["description"] += " RFC 3339 (e.g. 2024-01-02T03:04:05.123456Z); stored to the microsecond."
    elif col.kind is Kind.INT64:
        prop["minimum"], prop["maximum"] = -(2**63), 2**63 - 1
    if col.kind in (Kind.INT64, Kind.FLOAT64):
        if col.positive:
            prop.pop("minimum", None)
            prop["exclusiveMinimum"] = 0
        elif col.non_negative:
            prop["minimum"] = 0
    if col.domain is not None:
        prop["enum"] = [*col.domain, None] if col.nullable else list(col.domain)
    return prop


def _decimal_pattern(col: Column) -> str:
    if col.positive:  # no sign, and some non-zero digit
        return rf"^(?=[0-9.]*[1-9]){_DECIMAL_BODY}$"
    if col.non_negative:
        return rf"^{_DECIMAL_BODY}$"
    return rf"^-?{_DECIMAL_BODY}$"


# -- Arrow -----------------------------------------------------------------------------------


def arrow_text(table: Table) -> str:
    """'# name (contract version N)' then the pyarrow schema, one 'column: type [not null]' per line."""
    schema = table.arrow_schema.to_string(show_field_metadata=False, show_schema_metadata=False)
    return f"# {table.name} (contract version {table.version})\n{schema}\n"


# -- Markdown data dictionary ----------------------------------------------------------------


def markdown(tables: Iterable[Table]) -> str:
    tables = list(tables)
    lines = [
        "# Data dictionary",
        "",
        "<!-- Generated from schemas/ by `lake contract --format markdown`; do not edit by hand. "
        f"Regenerate: `{REGENERATE}`. -->",
        "",
        "Every table of the execution lake, column by column: its type, whether it may be null, what it means, the checks"
        " every run must pass before it is written, and the contract version that added it. The rules around it (and the"
        " checks across tables) are in [contract-rules.md](contract-rules.md).",
        "",
        "Each run is one partition: `lake/{table}/run_id={run_id}/part-00000.parquet`. `run_id` (STRING) comes from the"
        " path and is not stored in the files.",
        "",
        "| type | Parquet / Arrow | JSON (`lake contract --format json-schema`) |",
        "|---|---|---|",
    ]
    for kind in Kind:
        lines.append(f"| {kind.bigquery} | `{kind.arrow}` | {_json_form(kind)} |")
    lines += ["", "Tables: " + " · ".join(f"[{t.name}](#{t.name})" for t in tables), ""]
    for table in tables:
        lines += _markdown_table(table)
    return "\n".join(lines).rstrip("\n") + "\n"


def _json_form(kind: Kind) -> str:
    if kind is Kind.DECIMAL:
        return f"string, at most {DECIMAL_SCALE} decimals"
    if kind is Kind.TIMESTAMP:
        return "string, RFC 3339"
    return _JSON_TYPES[kind]


def _markdown_table(table: Table) -> list[str]:
    companions = _companions(table)
    lines = [
        f"## {table.name}",
        "",
        f"{table.description} Contract version {table.version}.",
        "",
        "| column | type | nullable | meaning | checks | since |",
        "|---|---|---|---|---|---|",
    ]
    for col in table.physical_columns:
        parent = companions.get(col.name)
        cells = [
            f"`{col.name}`",
            col.kind.bigquery,
            "yes" if col.nullable else "no",
            _cell(col.description),
            _cell("; ".join(_column_checks(col, parent))),
            str(col.since),  # a `{name}_ns` companion carries its timestamp's
        ]
        lines.append("| " + " | ".join(cells) + " |")
    rules = [f"- `{c.name}`: {c.description} (reads {', '.join(f'`{n}`' for n in c.columns)})" for c in table.row_checks]
    if table.unique_together:
        rules.append(f"- unique together per run: {', '.join(f'`{n}`' for n in table.unique_together)}")
    if table.exactly_one_row:
        rules.append("- exactly one row per run")
    if rules:
        lines += ["", "Row checks:", "", *rules]
    return lines + [""]


def _column_checks(col: Column, parent: Column | None) -> list[str]:
    checks = []
    if col.unique:
        checks.append("unique per run")
    if col.positive:
        checks.append("> 0")
    if col.non_negative:
        checks.append(">= 0")
    if col.domain is not None:
        checks.append("one of " + ", ".join(col.domain))
    if col.exact_ns:
        checks.append(f"exact nanoseconds in `{col.ns_name}`")
    if parent is not None:
        checks.append(f"within the microsecond of `{parent.name}`; derived from it when not supplied")
    if col.derive is not None:
        checks.append("computed by the writer when not supplied, checked when supplied")
    return checks


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
