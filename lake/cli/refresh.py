"""`lake refresh`: refresh the metadata caches of the BigLake tables, data tables first and lake_runs last.

BigLake tables registered with `lake register --connection` list the lake's files from a cache that only
this command refreshes: runs written since the last refresh are not in BigQuery's views until it runs.
"""

from __future__ import annotations

import argparse
import os

from lake.errors import LakeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "refresh", help="refresh the BigLake tables' metadata caches so BigQuery sees new runs (data first, runs last)"
    )
    p.add_argument("--project", default=None, help="BigQuery project (default: $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--dataset", default="execution", help="dataset (default: execution)")
    p.add_argument(
        "--run", dest="run_ids", action="append", default=None, metavar="RUN_ID",
        help="refresh only this run's folders (repeatable; right after writing it); default: every file",
    )  # fmt: skip
    p.add_argument(
        "--bucket", default=None,
        help="with --dry-run and --run: the lake the tables read (default: $EXECUTION_STORE_GCS_BUCKET); "
        "otherwise each table's own prefix is used",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the CALL statements in order; call nothing")
    p.set_defaults(func=cmd_refresh)


def cmd_refresh(args) -> int:
    from lake.catalog import bigquery as bq
    from lake.catalog.ddl import table_data_prefix
    from lake.stores import default_remote

    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise LakeError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    if args.dry_run:
        lake_root = bq.lake_root_from_bucket(args.bucket or default_remote())
        prefixes = {table: table_data_prefix(table[len("lake_") :], lake_root) for table in bq.REFRESH_ORDER}
        print("-- dry run: what `lake refresh` sends, in this order; nothing is called")
        for _table, sql in bq.refresh_statements(project=project, dataset=args.dataset, prefixes=prefixes, run_ids=args.run_ids):
            print(sql)
        return 0
    client = bq.make_client(project)
    report = bq.refresh(client, dataset=args.dataset, run_ids=args.run_ids, echo=print)
    what = f"{len(report.run_ids)} run(s)" if report.run_ids else "every file"
    print(f"{len(report.tables)} metadata cache(s) refreshed ({what}); BigQuery's views now show what was committed before")
    return 0
