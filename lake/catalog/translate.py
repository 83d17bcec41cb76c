"""BigQuery Standard SQL -> DuckDB SQL, with named @parameters bound as typed literals.

The queries under sql/queries/ are written for BigQuery. Each starts with a comment
saying what it answers and declaring its parameters:

    -- Run leaderboard: which committed run made most after commission?
    -- ...
    -- Parameters:
    --   @run_ids ARRAY<STRING>  runs to rank; empty ranks every committed run

A parameter line is `@name TYPE description`; `(default: VALUE)` in the description
makes a scalar optional (a STRING default may be quoted: `(default: '')`), and ARRAY
parameters default to an empty array.

Binding replaces each @name in the parsed statement by `CAST(literal AS TYPE)`,
built by sqlglot (which quotes strings itself), before the statement is written
out in DuckDB's dialect; values never pass through string formatting.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from lake.errors import LakeError
from sql import SQL_DIR

QUERIES_DIR = SQL_DIR / "queries"
COMMANDS_DIR = SQL_DIR / "commands"  # the lake commands' own queries, not listed among the analysts'

_PARAM_LINE = re.compile(r"^--\s+@([A-Za-z_][A-Za-z0-9_]*)\s+([A-Z][A-Z0-9_]*(?:<[A-Z0-9_]+>)?)\s*:?\s*(.*)$")
_DEFAULT = re.compile(r"\(default:\s*(.*?)\)\s*\.?\s*$")
_SCALAR_TYPES = ("STRING", "INT64", "FLOAT64", "NUMERIC", "BOOL", "DATE", "TIMESTAMP")


class QueryError(LakeError):
    """A query that cannot be parsed, translated or bound (names the query and the problem)."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # BigQuery type: STRING, INT64, ..., ARRAY<STRING>
    description: str = ""
    default: Any = None
    required: bool = True


@dataclass(frozen=True)
class Query:
    """A BigQuery query with its header: title (first line), description and declared parameters."""

    name: str
    text: str
    title: str = ""
    description: str = ""
    params: dict[str, Param] = field(default_factory=dict)


def _element_type(bq_type: str) -> str | None:
    m = re.fullmatch(r"ARRAY<([A-Z0-9_]+)>", bq_type)
    return m.group(1) if m else None


def _check_type(bq_type: str, where: str) -> None:
    elem = _element_type(bq_type)
    if (elem or bq_type) not in _SCALAR_TYPES:
        raise QueryError(f"{where}: unsupported parameter type {bq_type} (use one of {', '.join(_SCALAR_TYPES)} or ARRAY<...>)")


def parse_header(text: str, name: str = "<sql>") -> Query:
    """Read the leading comment block: title, description and `@name TYPE description` lines."""
    comments: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        comments.append(stripped)
    title = comments[0][2:].strip() if comments else ""
    params: dict[str, Param] = {}
    description: list[str] = []
    for line in comments[1:]:
        m = _PARAM_LINE.match(line)
        if m:
            pname, ptype, pdesc = m.group(1), m.group(2), m.group(3).strip()
            _check_type(ptype, f"{name}: @{pname}")
            dm = _DEFAULT.search(pdesc)
            if dm:
                default, required = coerce(_unquoted(dm.group(1)), ptype, f"{name}: default of @{pname}"), False
            elif _element_type(ptype):
                default, required = [], False
            else:
                default, required = None, True
            params[pname] = Param(pname, ptype, pdesc, default, required)
        elif not line.strip("- ").lower().startswith("parameters"):
            description.append(line[2:].strip())
    return Query(name, text, title, "\n".join(d for d in description if d), params)


def _unquoted(text: str) -> str:
    """A default written as a SQL string literal ('' for the empty string) is its text."""
    return text[1:-1].replace("''", "'") if len(text) >= 2 and text[0] == text[-1] == "'" else text


def shipped_queries() -> dict[str, Path]:
    """Name -> path of every query shipped under sql/queries/."""
    return {p.stem: p for p in sorted(QUERIES_DIR.glob("*.sql"))}


def load_query(ref: str) -> Query:
    """A shipped query by name ('leaderboard'), a .sql file path, or SQL text."""
    shipped = shipped_queries()
    if ref in shipped:
        return parse_header(shipped[ref].read_text(), ref)
    if ref.endswith(".sql") and "\n" not in ref:
        path = Path(ref)
        if not path.is_file():
            raise QueryError(f"no such query file: {ref} (shipped queries: {', '.join(shipped)})")
        return parse_header(path.read_text(), path.stem)
    if not re.search(r"\b(select|with|create|describe|show|from)\b", ref, re.IGNORECASE):
        raise QueryError(f"{ref!r} is neither a shipped query ({', '.join(shipped)}), a .sql file, nor SQL")
    return parse_header(ref, "<sql>")


def command_query(name: str) -> Query:
    """A query that a lake command runs itself (sql/commands/{name}.sql), e.g. 'runs'."""
    return parse_header((COMMANDS_DIR / f"{name}.sql").read_text(), name)


# --- values ----------------------------------------------------------------------------------


def coerce(value: Any, bq_type: str, where: str = "parameter") -> Any:
    """A Python value of `bq_type` from a CLI string (or an already typed value)."""
    elem = _element_type(bq_type)
    if elem:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise QueryError(f"{where}: {value!r} is not a JSON array: {exc}") from None
            else:
                items = [v.strip() for v in text.split(",") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise QueryError(f"{where}: expected a list for {bq_type}, got {value!r}")
        return [coerce(v, elem, where) for v in items]
    if value is None:
        return None
    try:
        if bq_type == "STRING":
            return str(value)
        if bq_type == "INT64":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if bq_type == "FLOAT64":
            return float(value)
        if bq_type == "NUMERIC":
            return Decimal(str(value))
        if bq_type == "BOOL":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes"):
                return True
            if text in ("false", "0", "no"):
                return False
            raise ValueError
        if bq_type == "DATE":
            return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value))
        if bq_type == "TIMESTAMP":
            ts = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
            return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    except (ValueError, TypeError, InvalidOperation):
        raise QueryError(f"{where}: {value!r} is not a valid {bq_type}") from None
    raise QueryError(f"{where}: unsupported type {bq_type}")


def _literal(value: Any, bq_type: str) -> exp.Expression:
    elem = _element_type(bq_type)
    if elem:
        array = exp.Array(expressions=[_literal(v, elem) for v in value])
        return exp.cast(array, exp.DataType.build(bq_type, dialect="bigquery"))
    if value is None:
        return exp.cast(exp.null(), exp.DataType.build(bq_type, dialect="bigquery"))
    if bq_type == "BOOL":
        return exp.Boolean(this=bool(value))
    if bq_type == "INT64":
        return exp.cast(exp.Literal.number(int(value)), exp.DataType.build("INT64", dialect="bigquery"))
    if bq_type in ("FLOAT64", "NUMERIC"):
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.build(bq_type, dialect="bigquery"))
    if bq_type == "TIMESTAMP":
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("TIMESTAMP", dialect="bigquery"))
    if bq_type == "DATE":
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE", dialect="bigquery"))
    return exp.Literal.string(str(value))


def resolve_params(query: Query, values: Mapping[str, Any] | None) -> dict[str, tuple[Any, str]]:
    """name -> (typed value, BigQuery type) for every declared parameter; unknown or missing ones are errors."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(query.params))
    if unknown:
        declared = ", ".join(f"@{p}" for p in query.params) or "none"
        raise QueryError(f"{query.name}: unknown parameter(s) {', '.join('@' + u for u in unknown)} (declared: {declared})")
    out: dict[str, tuple[Any, str]] = {}
    for name, param in query.params.items():
        if name in values:
            out[name] = (coerce(values[name], param.type, f"{query.name}: @{name}"), param.type)
        elif param.required:
            raise QueryError(f"{query.name}: missing parameter @{name} ({param.type}): {param.description}")
        else:
            out[name] = (param.default, param.type)
    return out


# --- translation -----------------------------------------------------------------------------


def parse_bigquery(text: str, name: str = "<sql>") -> list[exp.Expression]:
    """Statements of a BigQuery script; a statement sqlglot cannot model is an error, not a fallback."""
    try:
        parsed = [e for e in sqlglot.parse(text, read="bigquery") if e is not None]
    except ParseError as exc:
        raise QueryError(f"{name}: not valid BigQuery SQL: {exc}") from None
    for stmt in parsed:
        if isinstance(stmt, exp.Command):
            raise QueryError(f"{name}: sqlglot cannot parse this statement: {stmt.sql(dialect='bigquery')[:200]}")
    if not parsed:
        raise QueryError(f"{name}: no SQL statement")
    return parsed


def parameters_used(text: str, name: str = "<sql>") -> set[str]:
    return {p.name for stmt in parse_bigquery(text, name) for p in stmt.find_all(exp.Parameter)}


def bind(stmt: exp.Expression, bound: Mapping[str, tuple[Any, str]], name: str) -> exp.Expression:
    """Parameters as literals. An array parameter's `x IN UNNEST(@p)` becomes `x IN (v1, v2, ...)` (FALSE when
    empty) and `ARRAY_LENGTH(@p)` its length: constants DuckDB folds and pushes into the scan (pruning a run_id
    filter to those runs' files), where the generic translation evaluates a CASE over the array on every row."""

    def value_of(node: exp.Expression) -> tuple[Any, str]:
        pname = node.name
        if pname not in bound:
            raise QueryError(f"{name}: @{pname} is used but not declared in the query's header comment")
        return bound[pname]

    def array(node: exp.Expression | None) -> list | None:
        if isinstance(node, exp.Parameter):
            value, bq_type = value_of(node)
            if bq_type.startswith("ARRAY<") and value is not None:
                return [_literal(v, bq_type[len("ARRAY<") : -1]) for v in value]
        return None

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.In) and isinstance(node.args.get("unnest"), exp.Unnest):
            items = array(node.args["unnest"].expressions[0] if node.args["unnest"].expressions else None)
            if items is not None:
                return exp.In(this=node.this.transform(replace), expressions=items) if items else exp.false()
        if isinstance(node, exp.ArraySize) and (items := array(node.this)) is not None:
            return exp.Literal.number(len(items))
        if isinstance(node, exp.Parameter):
            return _literal(*value_of(node))
        return node

    return stmt.transform(replace)


def _duckdb_types(stmt: exp.Expression) -> exp.Expression:
    """BigQuery's types in DuckDB, in one pass over the statement.

    NUMERIC is DECIMAL(38, 9) (DuckDB's bare DECIMAL would be DECIMAL(18, 3)); COUNTIF is
    INT64 (DuckDB's COUNT_IF is a HUGEINT): cast back to BIGINT, around the window if any
    (a replaced node's children are not visited, so a windowed COUNTIF is cast once).
    """

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
            return exp.DataType.build("DECIMAL(38, 9)")
        if isinstance(node, exp.Window) and isinstance(node.this, exp.CountIf) or isinstance(node, exp.CountIf):
            return exp.cast(node, exp.DataType.build("BIGINT"))
        return node

    return stmt.transform(fix)


def to_duckdb(query: Query | str, params: Mapping[str, Any] | None = None) -> list[str]:
    """DuckDB statements for a BigQuery query (text or Query), parameters bound."""
    if isinstance(query, str):
        query = parse_header(query)
    bound = resolve_params(query, params)
    out = []
    for stmt in parse_bigquery(query.text, query.name):
        stmt = _duckdb_types(bind(stmt, bound, query.name))
        if isinstance(stmt, exp.Create):
            stmt.set("properties", None)  # BigQuery OPTIONS(description, labels): no DuckDB equivalent
        try:
            out.append(stmt.sql(dialect="duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE))
        except sqlglot.errors.UnsupportedError as exc:
            raise QueryError(f"{query.name}: cannot translate to DuckDB: {exc}") from None
    return out


# --- NUMERIC arithmetic that BigQuery and DuckDB compute differently ----------------------------


def contract_schema() -> dict[str, dict[str, dict[str, str]]]:
    """{dataset: {object: {column: BigQuery type}}} of the views and lake_ tables, for sqlglot's type annotation."""
    from lake.catalog.ddl import DATASET, external_table_name, view_name
    from schemas import TABLES

    objects: dict[str, dict[str, str]] = {}
    for name, table in TABLES.items():
        columns = {c.name: c.kind.bigquery for c in table.physical_columns}
        objects[view_name(name)] = {**columns, "run_id": "STRING"}
        objects[external_table_name(name)] = {**columns, "run_id": "STRING", "_FILE_NAME": "STRING"}
    return {DATASET: objects}


def numeric_hazards(text: str, name: str = "<sql>") -> list[str]:
    """NUMERIC arithmetic whose result BigQuery and DuckDB compute differently, unless cast per row.

    BigQuery rounds every NUMERIC product and quotient to 9 decimals (half away from
    zero); DuckDB keeps a DECIMAL(38, 9) product exact at scale 18, divides decimals in
    DOUBLE, and averages a DECIMAL into a DOUBLE. So:
      - a product of two NUMERIC operands must sit directly inside CAST(... AS NUMERIC)
        (DuckDB's cast to scale 9 rounds half away from zero, like BigQuery);
      - a quotient with a NUMERIC operand (and no FLOAT64 one) likewise (and even then
        DuckDB's quotient is a DOUBLE: divide FLOAT64s where you can);
      - AVG of a NUMERIC is refused: BigQuery returns NUMERIC, DuckDB DOUBLE (cast the
        argument to FLOAT64, or divide a SUM by a COUNT).
    Types come from sqlglot's annotation with the contract's columns (through CTEs and
    subqueries). Returns one message per hazard, naming the expression.
    """
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    schema = contract_schema()
    problems: list[str] = []
    for stmt in parse_bigquery(text, name):
        try:
            tree = qualify(stmt.copy(), schema=schema, dialect="bigquery", validate_qualify_columns=False)
            tree = annotate_types(tree, schema=schema, dialect="bigquery")
        except Exception as exc:  # sqlglot could not resolve the statement: say so, do not pass it silently
            problems.append(f"{name}: cannot type the statement to check its NUMERIC arithmetic: {exc}")
            continue
        for node in tree.find_all(exp.Mul, exp.Div, exp.SafeDivide, exp.Avg):
            if isinstance(node, exp.Avg):
                if _is_numeric(node.this):
                    problems.append(f"{name}: AVG of NUMERIC is NUMERIC in BigQuery, DOUBLE in DuckDB: {node.sql(dialect='bigquery')}")
                continue
            left, right = node.this, node.expression
            if isinstance(node, exp.Mul):
                hazard = _is_numeric(left) and _is_numeric(right)
            else:
                hazard = (_is_numeric(left) or _is_numeric(right)) and not (_is_float(left) or _is_float(right))
            if hazard and not _cast_to_numeric(node.parent):
                what = "product" if isinstance(node, exp.Mul) else "quotient"
                problems.append(
                    f"{name}: NUMERIC {what} not rounded per row: {node.sql(dialect='bigquery')} "
                    f"(write CAST({node.sql(dialect='bigquery')} AS NUMERIC))"
                )
    return problems


def _is_numeric(node: exp.Expression) -> bool:
    return node.type is not None and node.type.this in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL)


def _is_float(node: exp.Expression) -> bool:
    return node.type is not None and node.type.this in (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)


def _cast_to_numeric(node: exp.Expression | None) -> bool:
    while isinstance(node, exp.Paren):
        node = node.parent
    return isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL)
