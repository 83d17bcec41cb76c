"""`lake register`: create the BigQuery dataset, external tables and views over a bucket's lake (idempotent).

With --connection the external tables are BigLake tables whose file lists BigQuery caches; `lake refresh`
(lake/cli/refresh.py) refreshes the caches after writes.
"""

from __future__ import annotations

import argparse
import os

from lake.errors import LakeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("register", help="create the BigQuery dataset, external tables and views (idempotent)")
    p.add_argument("--project", default=None, help="BigQuery project (default: $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--dataset", default="execution", help="dataset (default: execution)")
    p.add_argument("--location", default=None, help="dataset location, needed when the dataset is created (e.g. US, europe-west1)")
    p.add_argument("--bucket", default=None, help="bucket of the lake, or gs://bucket/prefix (default: $EXECUTION_STORE_GCS_BUCKET)")
    p.add_argument(
        "--connection", default=None, metavar="PROJECT.LOCATION.CONNECTION",
        help="create BigLake tables over this connection, with a metadata cache refreshed by `lake refresh` (for large lakes)",
    )  # fmt: skip
    p.add_argument(
        "--max-staleness", default=None, metavar="AGE",
        help="with --connection: how old a cache may be and still be used, 30m to 7d (default: 1d)",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the statements; call nothing")
    p.set_defaults(func=cmd_register)


def cmd_register(args) -> int:
    from lake.catalog import bigquery as bq
    from lake.catalog.ddl import dataset_sql
    from lake.stores import default_remote

    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    bucket = args.bucket or default_remote()
    lake_root = bq.lake_root_from_bucket(bucket)
    biglake = bq.biglake_form(args.connection, args.max_staleness)
    if args.dry_run:
        print(f"-- dry run: what `lake register` sends for {lake_root}; nothing is called")
        print(dataset_sql(project, args.dataset, args.location))
        for stmt in bq.statements(dataset=args.dataset, lake_root=lake_root, project=project, biglake=biglake):
            print(stmt.sql)
        if biglake is not None and project:
            print("-- then, when an external table was created or replaced, its metadata cache is filled (`lake refresh`):")
            for _table, sql in bq.refresh_statements(project=project, dataset=args.dataset):
                print(sql)
        return 0
    if not project:
        raise LakeError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    client = bq.make_client(project, args.location)
    report = bq.register(client, bucket=bucket, dataset=args.dataset, location=args.location, echo=print, biglake=biglake)
    n = sum(c.action != "unchanged" for c in report.changes)
    print(f"{n} object{'s' if n != 1 else ''} changed" if n else "nothing changed: already registered")
    return 0
