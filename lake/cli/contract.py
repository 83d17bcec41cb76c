"""`lake contract`: the data contract for other tools (Markdown data dictionary, BigQuery JSON, JSON Schema, Arrow)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from schemas import TABLES
    from schemas.export import FORMATS

    p = sub.add_parser(
        "contract",
        help="print the data contract: a Markdown data dictionary, BigQuery JSON schema, JSON Schema or Arrow schema",
        description="Print the data contract, derived from schemas/. Without --table, every table: the JSON formats "
        "then give an object keyed by table name; with --table, that table's schema alone (e.g. for `bq mk --schema`).",
    )
    p.add_argument("--table", choices=list(TABLES), default=None, help="one table (default: all)")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="default: markdown (docs/contract.md)")
    p.set_defaults(func=cmd_contract)


def cmd_contract(args) -> int:
    from schemas.export import export

    sys.stdout.write(export(args.format, args.table))
    return 0
