"""`lake sql generate`: write sql/ddl and sql/views from schemas/, or check that they match."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="the SQL shipped in sql/: generate the DDL and views from schemas/")
    sql_sub = p.add_subparsers(dest="sql_command", required=True, metavar="SQL_COMMAND")
    g = sql_sub.add_parser("generate", help="write sql/ddl/*.sql and sql/views/*.sql from schemas/")
    g.add_argument("--out", default=None, help="folder to write ddl/ and views/ into (default: the sql package)")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files differ from schemas/")
    g.set_defaults(func=cmd_sql_generate)


def cmd_sql_generate(args) -> int:
    from lake.catalog.ddl import drifted_files, write_generated_files
    from sql import SQL_DIR

    out = Path(args.out) if args.out else SQL_DIR
    if args.check:
        drift = drifted_files(out)
        if drift:
            print("out of date with schemas/ (run `lake sql generate`): " + ", ".join(drift))
            return 1
        print("sql/ddl and sql/views match schemas/")
        return 0
    changed = write_generated_files(out)
    print(f"wrote {', '.join(changed)}" if changed else "sql/ddl and sql/views already match schemas/")
    return 0
