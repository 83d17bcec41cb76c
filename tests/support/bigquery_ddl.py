"""Read a CREATE EXTERNAL TABLE statement back into its parts, and check them against the contract.

sqlglot cannot model `CREATE EXTERNAL TABLE ... WITH PARTITION COLUMNS` (it falls back to an opaque
Command), so "it parses" proves nothing for the DDL. Two independent readers turn the statement into
an `ExternalTable` (name, columns with type / NOT NULL / description, partition columns, options):

- `read_external_table`: a small parser of BigQuery's documented grammar
    CREATE [OR REPLACE] EXTERNAL TABLE name ( column type [NOT NULL] [OPTIONS(...)], ... )
    [WITH PARTITION COLUMNS [( name type, ... )]] [WITH CONNECTION name] [OPTIONS ( name = value, ... )]
  over sqlglot's BigQuery tokenizer (which reads BigQuery's string escapes); anything else is an error;
- `googlesql_external_table`: the parse tree of Google's own GoogleSQL parser (ZetaSQL compiled to
  WebAssembly, the `zetasql` package), when it is installed.

`contract_problems` then compares the parts with the Table they were generated from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot.dialects.bigquery import BigQuery
from sqlglot.tokens import Token, TokenType

from lake import layout
from schemas import Table

# The options a CREATE EXTERNAL TABLE may carry (BigQuery's external_table_option_list) that this
# project uses; anything else in the generated DDL is a problem. The cache options only in the BigLake form.
USED_OPTIONS = ("format", "uris", "hive_partition_uri_prefix", "require_hive_partition_filter", "description", "labels")
CACHE_OPTIONS = ("max_staleness", "metadata_cache_mode")
_UNITS = ("MINUTE", "HOUR", "DAY")  # the INTERVAL units a staleness is written in


class DDLSyntaxError(ValueError):
    pass


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExternalTable:
    or_replace: bool
    name: list[str]  # path parts: [dataset, table] or [project, dataset, table]
    columns: list[Column]
    partition_columns: list[tuple[str, str]] | None  # None: no WITH PARTITION COLUMNS clause
    connection: str | None
    options: dict[str, Any]


class _Reader:
    def __init__(self, text: str):
        self.tokens = [t for t in BigQuery().tokenize(text)]
        self.i = 0

    def peek(self, k: int = 0) -> Token | None:
        return self.tokens[self.i + k] if self.i + k < len(self.tokens) else None

    def word(self, k: int = 0) -> str:
        tok = self.peek(k)
        return tok.text.upper() if tok is not None and tok.token_type not in (TokenType.STRING,) else ""

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise DDLSyntaxError("unexpected end of statement")
        self.i += 1
        return tok

    def expect(self, *words: str) -> None:
        for w in words:
            tok = self.take()
            if tok.token_type == TokenType.STRING or tok.text.upper() != w:
                raise DDLSyntaxError(f"expected {w} at {tok.text!r} (line {tok.line})")

    def accept(self, *words: str) -> bool:
        if all(self.word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def identifier(self) -> str:
        tok = self.take()
        if tok.token_type == TokenType.STRING or not (tok.text[:1].isalpha() or tok.text[:1] == "_"):
            raise DDLSyntaxError(f"expected a name at {tok.text!r} (line {tok.line})")
        return tok.text

    def path(self) -> list[str]:
        tok = self.peek()
        if tok is not None and tok.token_type == TokenType.IDENTIFIER:  # `project.dataset.table`
            self.take()
            return tok.text.split(".")
        parts = [self.identifier()]
        while self.word() == ".":
            self.take()
            parts.append(self.identifier())
        return parts

    def value(self) -> Any:
        tok = self.take()
        if tok.token_type == TokenType.STRING:
            return tok.text
        if tok.token_type in (TokenType.TRUE, TokenType.FALSE):
            return tok.token_type == TokenType.TRUE
        if tok.token_type == TokenType.NUMBER:
            return int(tok.text) if tok.text.isdigit() else float(tok.text)
        if tok.token_type == TokenType.INTERVAL:  # INTERVAL <integer> <unit>, as "INTERVAL 4 HOUR"
            amount, unit = self.take(), self.take()
            if amount.token_type != TokenType.NUMBER or not amount.text.isdigit() or unit.text.upper() not in _UNITS:
                raise DDLSyntaxError(f"expected INTERVAL <integer> MINUTE|HOUR|DAY at {amount.text!r} (line {amount.line})")
            return f"INTERVAL {amount.text} {unit.text.upper()}"
        if tok.token_type == TokenType.L_BRACKET:
            items = []
            while self.word() != "]":
                items.append(self.value())
                if self.word() == ",":
                    self.take()
            self.take()
            return items
        if tok.token_type == TokenType.L_PAREN:  # a (key, value) pair of labels
            items = []
            while self.word() != ")":
                items.append(self.value())
                if self.word() == ",":
                    self.take()
            self.take()
            return tuple(items)
        raise DDLSyntaxError(f"expected a value at {tok.text!r} (line {tok.line})")

    def options(self) -> dict[str, Any]:
        self.expect("OPTIONS", "(")
        out: dict[str, Any] = {}
        while self.word() != ")":
            name = self.identifier().lower()
            if name in out:
                raise DDLSyntaxError(f"option {name} given twice")
            self.expect("=")
            out[name] = self.value()
            if self.word() == ",":
                self.take()
            elif self.word() != ")":
                raise DDLSyntaxError(f"expected , or ) after option {name}")
        self.take()
        return out


def read_external_table(text: str) -> ExternalTable:
    """The parts of one CREATE EXTERNAL TABLE statement (comments and a final ';' allowed)."""
    r = _Reader(text)
    r.expect("CREATE")
    or_replace = r.accept("OR", "REPLACE")
    r.expect("EXTERNAL", "TABLE")
    name = r.path()
    columns: list[Column] = []
    if r.word() == "(":
        r.take()
        while True:
            cname = r.identifier()
            ctype = r.take().text.upper()
            not_null = r.accept("NOT", "NULL")
            opts = r.options() if r.word() == "OPTIONS" else {}
            columns.append(Column(cname, ctype, not_null, opts))
            if r.word() == ",":
                r.take()
                continue
            r.expect(")")
            break
    partition: list[tuple[str, str]] | None = None
    connection = None
    while r.word() == "WITH":
        if r.accept("WITH", "PARTITION", "COLUMNS"):
            partition = []
            if r.word() == "(":
                r.take()
                while True:
                    partition.append((r.identifier(), r.take().text.upper()))
                    if r.word() == ",":
                        r.take()
                        continue
                    r.expect(")")
                    break
        elif r.accept("WITH", "CONNECTION"):
            connection = ".".join(r.path())
        else:
            raise DDLSyntaxError(f"unexpected WITH {r.word(1)}")
    options = r.options() if r.word() == "OPTIONS" else {}
    if r.word() == ";":
        r.take()
    if r.peek() is not None:
        raise DDLSyntaxError(f"unexpected {r.peek().text!r} after the statement")
    return ExternalTable(or_replace, name, columns, partition, connection, options)


def contract_problems(
    ddl: ExternalTable, table: Table, *, lake_root: str, name: list[str], labels: dict | None = None, biglake=None
) -> list[str]:
    """Where the statement differs from what the contract says the external table is.
    `biglake` (lake.catalog.ddl.BigLake): the BigLake form, with its connection and cache options."""
    problems = []
    if not ddl.or_replace:
        problems.append("not CREATE OR REPLACE")
    if ddl.name != name:
        problems.append(f"name {'.'.join(ddl.name)}, expected {'.'.join(name)}")
    want = [(c.name, c.kind.bigquery, c.description) for c in table.physical_columns]
    got = [(c.name, c.type, c.options.get("description")) for c in ddl.columns]
    if got != want:
        missing = [w[0] for w in want if w[0] not in [g[0] for g in got]]
        extra = [g[0] for g in got if g[0] not in [w[0] for w in want]]
        wrong = [f"{g[0]} {g[1]}" for g, w in zip(got, want) if g[0] == w[0] and g[1:] != w[1:]]
        problems.append(f"columns differ from the contract (missing {missing}, extra {extra}, type or description of {wrong}, or order)")
    if "run_id" in [c.name for c in ddl.columns]:
        problems.append("run_id is a file column: BigQuery forbids a partition key that is also a column")
    required = [c.name for c in ddl.columns if c.not_null]
    if required:  # not documented for external tables: requiredness lives in the Parquet schema (docs/sql.md)
        problems.append(f"NOT NULL on external-table columns {required}")
    other = [f"{c.name}: {sorted(set(c.options) - {'description'})}" for c in ddl.columns if set(c.options) - {"description"}]
    if other:
        problems.append(f"column options other than description: {other}")
    if ddl.partition_columns != [("run_id", "STRING")]:
        problems.append(f"partition columns {ddl.partition_columns}, expected [('run_id', 'STRING')]")
    if biglake is None:
        if ddl.connection is not None:
            problems.append(f"unexpected WITH CONNECTION {ddl.connection}")
        cache = sorted(set(ddl.options) & set(CACHE_OPTIONS))
        if cache:
            problems.append(f"metadata cache options {cache} on a plain external table")
    else:
        if ddl.connection != biglake.connection:
            problems.append(f"WITH CONNECTION {ddl.connection}, expected {biglake.connection}")
        if ddl.options.get("max_staleness") != biglake.max_staleness:
            problems.append(f"option max_staleness = {ddl.options.get('max_staleness')!r}, expected {biglake.max_staleness!r}")
        if ddl.options.get("metadata_cache_mode") != "MANUAL":
            problems.append(f"option metadata_cache_mode = {ddl.options.get('metadata_cache_mode')!r}, expected 'MANUAL'")
    prefix = f"{lake_root}/{layout.lake_partition_prefix(table.name).rstrip('/')}"
    expected_options = {
        "format": "PARQUET",
        "uris": [prefix + "/*"],
        "hive_partition_uri_prefix": prefix,
        "require_hive_partition_filter": False,
    }
    for key, value in expected_options.items():
        if ddl.options.get(key) != value:
            problems.append(f"option {key} = {ddl.options.get(key)!r}, expected {value!r}")
    description = ddl.options.get("description", "")
    if not (isinstance(description, str) and description.startswith(table.description) and f"Contract version {table.version}." in description):
        problems.append(f"table description {description!r} does not start with the contract's and name version {table.version}")
    unknown = sorted(set(ddl.options) - set(USED_OPTIONS) - set(CACHE_OPTIONS))
    if unknown:
        problems.append(f"unexpected options {unknown}")
    got_labels = dict(ddl.options.get("labels", []))
    if got_labels != (labels or {}):
        problems.append(f"labels {got_labels}, expected {labels or {}}")
    return problems


# --- Google's own parser (ZetaSQL in WebAssembly), when installed --------------------------------


def googlesql_available() -> bool:
    try:
        import zetasql  # noqa: F401
    except ImportError:
        return False
    return True


def _cached_wasm_module() -> None:
    """Compile ZetaSQL's WebAssembly once per machine (about 30 s), then load the compiled module (< 1 s).

    The compiled module is kept under $XDG_CACHE_HOME (or ~/.cache)/execution-lake/, keyed by the
    zetasql and wasmtime versions; wasmtime refuses a module compiled by another version or engine.
    """
    from importlib.metadata import version

    import wasmtime
    from zetasql.core import wasm_client

    if getattr(wasm_client.Module, "_lake_cached", False):
        return
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "execution-lake"
    cache = cache_dir / f"zetasql-{version('zetasql')}-wasmtime-{version('wasmtime')}.cwasm"
    compile_from_file = wasmtime.Module.from_file

    class CachedModule:  # wasm_client calls only Module.from_file(engine, path)
        _lake_cached = True

        @staticmethod
        def from_file(engine, path):
            if cache.is_file():
                try:
                    return wasmtime.Module.deserialize_file(engine, str(cache))
                except Exception:
                    cache.unlink(missing_ok=True)
            module = compile_from_file(engine, path)
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp-{os.getpid()}")
            tmp.write_bytes(module.serialize())
            tmp.replace(cache)
            return module

    wasm_client.Module = CachedModule


def googlesql_parse(text: str):
    """Google's GoogleSQL parse tree of one statement (raises on a syntax error)."""
    _cached_wasm_module()
    from zetasql.api import Parser

    return Parser().parse_statement(text)


def googlesql_external_table(text: str) -> ExternalTable:
    """The parts of a CREATE EXTERNAL TABLE statement, read from GoogleSQL's own parse tree."""
    tree = googlesql_parse(text)
    if type(tree).__name__ != "ASTCreateExternalTableStatement":
        raise DDLSyntaxError(f"GoogleSQL reads this as {type(tree).__name__}")

    def path(node) -> list[str]:
        return [n.id_string for n in node.names]

    def options(node) -> dict[str, Any]:
        return {e.name.id_string.lower(): value(e.value) for e in (node.options_entries if node else [])}

    def value(node) -> Any:
        kind = type(node).__name__
        if kind == "ASTStringLiteral":
            return node.string_value
        if kind == "ASTBooleanLiteral":
            return bool(node.value)
        if kind in ("ASTIntLiteral", "ASTFloatLiteral"):
            return node.image
        if kind == "ASTArrayConstructor":
            return [value(e) for e in node.elements]
        if kind == "ASTStructConstructorWithParens":
            return tuple(value(e) for e in node.field_expressions)
        if kind == "ASTIntervalExpr" and node.date_part_name_to is None:
            return f"INTERVAL {value(node.interval_value)} {node.date_part_name.id_string.upper()}"
        raise DDLSyntaxError(f"GoogleSQL option value of kind {kind}")

    columns = []
    for element in tree.table_element_list.elements:
        schema = element.schema
        attributes = schema.attributes.values if schema.attributes is not None else []
        not_null = any(type(a).__name__ == "ASTNotNullColumnAttribute" for a in attributes)
        columns.append(Column(element.name.id_string, ".".join(path(schema.type_name)).upper(), not_null, options(schema.options_list)))
    partition = None
    clause = tree.with_partition_columns_clause
    if clause is not None:
        partition = []
        if clause.table_element_list is not None:
            for element in clause.table_element_list.elements:
                partition.append((element.name.id_string, ".".join(path(element.schema.type_name)).upper()))
    connection = ".".join(path(tree.with_connection_clause.connection_clause.connection_path)) if tree.with_connection_clause else None
    return ExternalTable(bool(tree.is_or_replace), path(tree.name), columns, partition, connection, options(tree.options_list))


# --- GoogleSQL's analyzer: the types BigQuery's SQL gives each output column ----------------------

_KINDS = {"STRING": "TYPE_STRING", "NUMERIC": "TYPE_NUMERIC", "INT64": "TYPE_INT64", "FLOAT64": "TYPE_DOUBLE",
          "TIMESTAMP": "TYPE_TIMESTAMP", "BOOL": "TYPE_BOOL", "DATE": "TYPE_DATE"}  # fmt: skip
_NAMES = {v: k for k, v in _KINDS.items()}


def googlesql_catalog(project: str, dataset: str):
    """A GoogleSQL catalog of the contract: the views and the lake_ external tables (with _FILE_NAME), in project.dataset."""
    _cached_wasm_module()
    import zetasql.types as zt
    from zetasql.api.builders import CatalogBuilder, TableBuilder

    from lake.catalog.ddl import DATASET
    from lake.catalog.translate import contract_schema

    language = zt.LanguageOptions.maximum_features()
    builder = CatalogBuilder("bigquery")
    for obj, columns in contract_schema()[DATASET].items():  # the schema sqlglot types the NUMERIC check with
        tb = TableBuilder(f"{project}.{dataset}.{obj}")
        for name, bq_type in columns.items():
            tb.add_column(name, getattr(zt.TypeKind, _KINDS[bq_type]))
        builder.add_table(tb.build())
    builder = builder.with_builtin_functions(zt.ZetaSQLBuiltinFunctionOptions(language_options=language))
    return builder.build(), language


def googlesql_output_types(text: str, params: dict[str, str], catalog, language) -> list[tuple[str, str]]:
    """(name, BigQuery type) of each output column of a query, as GoogleSQL's analyzer resolves it.

    `params` maps @name -> declared type. MAX_BY (a BigQuery function the open-source analyzer
    lacks) is analyzed as its documented equivalent ANY_VALUE(x HAVING MAX y), which has its type.
    """
    import re

    import zetasql.types as zt
    from zetasql.api import Analyzer

    def typ(name: str):
        if name.startswith("ARRAY<"):
            return zt.Type(type_kind=zt.TypeKind.TYPE_ARRAY, array_type=zt.ArrayType(element_type=typ(name[6:-1])))
        return zt.Type(type_kind=getattr(zt.TypeKind, _KINDS[name]))

    options = zt.AnalyzerOptions(
        language_options=language,
        query_parameters=[zt.AnalyzerOptions.QueryParameter(name=n, type=typ(t)) for n, t in params.items()],
    )
    text = re.sub(r"\bMAX_BY\(([^,()]+), ([^,()]+)\)", r"ANY_VALUE(\1 HAVING MAX \2)", text)
    resolved = Analyzer(options, catalog).analyze_statement(text)
    return [(c.name, _NAMES.get(c.column.type.type_kind.name, c.column.type.type_kind.name)) for c in resolved.output_column_list]
