"""`lake contract`: every export format read back by its own reader, and docs/contract.md in step with schemas/."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.cloud.bigquery import SchemaField
from jsonschema import Draft202012Validator, FormatChecker

from lake.cli import main
from lake.synthetic import synthetic_run
from lake.write.plan import plan_run
from schemas import TABLES
from schemas.contract import Kind
from schemas.export import FORMATS, REGENERATE, export, json_schema

DOCS = Path(__file__).resolve().parents[1] / "docs" / "contract.md"


@pytest.fixture(scope="module")
def contract_rows() -> dict[str, list[dict]]:
    """Real rows of every table (the runs row included), as JSON carries them."""
    plan = plan_run(synthetic_run("export-rows", 80, 3))
    tables = dict(plan.tables)
    tables["runs"] = pq.read_table(pa.BufferReader(plan.commit_row(dt.datetime.now(dt.timezone.utc)).data))
    return {name: json.loads(json.dumps(t.to_pylist(), default=_json_value)) for name, t in tables.items()}


def _json_value(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(type(value))


# -- BigQuery JSON schema --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TABLES))
def test_bigquery_json_is_read_by_the_bigquery_client(name):
    fields = [SchemaField.from_api_repr(f) for f in json.loads(export("bigquery-json", name))]
    table = TABLES[name]
    assert [(f.name, f.field_type, f.mode, f.description) for f in fields] == [
        (c.name, c.kind.bigquery, "NULLABLE" if c.nullable else "REQUIRED", c.description) for c in table.physical_columns
    ]


def test_bigquery_json_of_every_table_is_keyed_by_table():
    assert list(json.loads(export("bigquery-json"))) == list(TABLES)


# -- JSON Schema -----------------------------------------------------------------------------


def validator(name: str) -> Draft202012Validator:
    schema = json.loads(export("json-schema", name))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


@pytest.mark.parametrize("name", list(TABLES))
def test_json_schema_accepts_real_rows(name, contract_rows):
    check = validator(name)
    assert contract_rows[name]
    for row in contract_rows[name]:
        errors = [e.message for e in check.iter_errors(row)]
        assert errors == [], (row, errors)


def test_the_date_time_format_is_really_checked():
    # Without a format checker (rfc3339-validator), "date-time" would be an annotation only.
    assert not FormatChecker().conforms("2024-01-01 00:00", "date-time")
    assert FormatChecker().conforms("2024-01-01T00:00:00.123456+00:00", "date-time")


@pytest.mark.parametrize(
    "table, column, value, ok",
    [
        ("fills", "last_px", "101.123456789", True),
        ("fills", "last_px", "101.1234567891", False),  # 10 decimals would be rounded
        ("fills", "last_px", "0.000000000", False),  # prices > 0
        ("fills", "last_px", "-1", False),
        ("fills", "last_px", 101.5, False),  # a JSON number would lose digits: decimals are strings
        ("fills", "commission", "-0.25", True),  # a rebate
        ("orders", "filled_qty", "0", True),  # >= 0
        ("orders", "filled_qty", "-0.1", False),
        ("fills", "order_side", "HOLD", False),
        ("orders", "price", None, True),  # nullable
        ("fills", "last_px", None, False),
        ("fills", "ts_event", "2024-01-01 00:00", False),
        ("fills", "ts_event", "2024-01-01T00:00:00Z", True),
        ("fills", "ts_event_ns", 2**63, False),
        ("positions", "is_snapshot", "false", False),
        ("runs", "order_count", -1, False),
        ("runs", "win_rate", None, True),
    ],
)
def test_json_schema_rejects_what_the_contract_rejects(contract_rows, table, column, value, ok):
    row = {**contract_rows[table][0], column: value}
    assert validator(table).is_valid(row) is ok


def test_json_schema_requires_non_null_columns_and_refuses_unknown_ones(contract_rows):
    check = validator("fills")
    row = dict(contract_rows["fills"][0])
    del row["trade_id"]
    assert "'trade_id' is a required property" in [e.message for e in check.iter_errors(row)]
    assert not check.is_valid({**contract_rows["fills"][0], "surprise": 1})
    assert json_schema(TABLES["orders"])["required"] == [c.name for c in TABLES["orders"].physical_columns if not c.nullable]


# -- Arrow -----------------------------------------------------------------------------------


def parse_arrow_text(text: str) -> dict[str, tuple[int, list[tuple[str, str, bool]]]]:
    """'# table (contract version N)' sections of 'column: type [not null]' lines."""
    out: dict[str, tuple[int, list]] = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        header = re.fullmatch(r"# (\w+) \(contract version (\d+)\)", line)
        if header:
            current = header.group(1)
            out[current] = (int(header.group(2)), [])
            continue
        name, _, rest = line.partition(": ")
        not_null = rest.endswith(" not null")
        out[current][1].append((name, rest.removesuffix(" not null"), not not_null))
    return out


def test_arrow_text_matches_the_contracts_arrow_schemas():
    parsed = parse_arrow_text(export("arrow"))
    assert list(parsed) == list(TABLES)
    for name, table in TABLES.items():
        version, fields = parsed[name]
        assert version == table.version
        assert fields == [(f.name, str(f.type), f.nullable) for f in table.arrow_schema]
    assert ("last_px", "decimal128(38, 9)", False) in parsed["fills"][1]
    assert ("ts_event", "timestamp[us, tz=UTC]", False) in parsed["fills"][1]


# -- Markdown data dictionary ----------------------------------------------------------------


def test_docs_contract_md_does_not_drift_from_schemas():
    assert DOCS.read_text() == export("markdown"), f"docs/contract.md is stale: run `{REGENERATE}` and commit it"


def test_the_data_dictionary_lists_every_column_with_type_nullability_checks_and_since():
    text = export("markdown")
    for name, table in TABLES.items():
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")]
        assert [(r[0].strip("| `"), r[1], r[2]) for r in rows] == [
            (c.name, c.kind.bigquery, "yes" if c.nullable else "no") for c in table.physical_columns
        ]
        assert [r[-1].strip(" |") for r in rows] == [str(c.since) for c in table.physical_columns]
        for check in table.row_checks:
            assert f"`{check.name}`: {check.description}" in section
    orders = text.split("\n## orders\n", 1)[1]
    assert "| `order_side` | STRING | no | BUY or SELL. | one of BUY, SELL | 1 |" in orders
    assert "| `quantity` | NUMERIC | no | Ordered quantity in base units. | > 0 | 1 |" in orders
    assert "unique per run" in orders and "exact nanoseconds in `ts_init_ns`" in orders
    runs = text.split("\n## runs\n", 1)[1]
    assert "- exactly one row per run" in runs and "| `data_file` | STRING | yes |" in runs
    assert "| NUMERIC | `decimal128(38, 9)` |" in text
    assert {k.bigquery for k in Kind} <= set(re.findall(r"^\| (\w+) \| `", text, re.M))


# -- the command -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_lake_contract_prints_each_format(fmt, capsys):
    assert main(["contract", "--format", fmt, "--table", "fills"]) == 0
    assert capsys.readouterr().out == export(fmt, "fills")


def test_lake_contract_defaults_to_the_data_dictionary(capsys):
    assert main(["contract"]) == 0
    assert capsys.readouterr().out == DOCS.read_text()


def test_lake_contract_refuses_an_unknown_table_or_format(capsys):
    for args in (["contract", "--table", "trades"], ["contract", "--format", "yaml"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
