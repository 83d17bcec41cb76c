"""`lake query`: a BigQuery query (shipped in sql/queries, a file, or SQL text) run on the lake with DuckDB."""

from __future__ import annotations

import argparse

from lake.cli.format import FORMATS
from lake.errors import LakeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="run a BigQuery query from sql/queries (or a file, or SQL text) on the lake with DuckDB")
    p.add_argument("query", nargs="?", metavar="FILE_OR_SQL", help="a shipped query name (leaderboard, ...), a .sql file, or SQL text")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a @parameter; arrays: a,b,c")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout (required for parquet)")
    p.add_argument("--list", action="store_true", help="list the shipped queries and their parameters, then exit")
    p.set_defaults(func=cmd_query)


def parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("@")
        if not sep or not name:
            raise LakeError(f"--param {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def cmd_query(args) -> int:
    from lake.catalog.engine import query_lake
    from lake.catalog.translate import load_query, shipped_queries
    from lake.cli.format import write_result
    from lake.stores import default_dest

    if args.list:
        for name in shipped_queries():
            q = load_query(name)
            params = " ".join(f"@{p.name}:{p.type}" for p in q.params.values())
            print(f"{name:22} {q.title}" + (f"\n{'':22} parameters: {params}" if params else ""))
        return 0
    if not args.query:
        raise LakeError("give a query: a shipped name (see --list), a .sql file, or SQL text")
    if args.format == "parquet" and not args.output:
        raise LakeError("--format parquet needs --output FILE")
    result = query_lake(args.dest or default_dest(), load_query(args.query), parse_params(args.param))
    write_result(result, args.format, args.output)
    return 0
