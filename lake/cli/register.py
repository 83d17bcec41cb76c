"""`lake register`: create the BigQuery dataset, external tables and views over a bucket's lake (idempotent)."""

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
    p.add_argument("--dry-run", action="store_true", help="print the statements; call nothing")
    p.set_defaults(func=cmd_register)


def cmd_register(args) -> int:
    from lake.catalog import bigquery as bq
    from lake.catalog.ddl import dataset_sql
    from lake.stores import default_remote

    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    bucket = args.bucket or default_remote()
    lake_root = bq.lake_root_from_bucket(bucket)
    if args.dry_run:
        print(f"-- dry run: what `lake register` sends for {lake_root}; nothing is called")
        print(dataset_sql(project, args.dataset, args.location))
        for stmt in bq.statements(dataset=args.dataset, lake_root=lake_root, project=project):
            print(stmt.sql)
        return 0
    if not project:
        raise LakeError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    client = bq.make_client(project, args.location)
    report = bq.register(client, bucket=bucket, dataset=args.dataset, location=args.location, echo=print)
    n = sum(c.action != "unchanged" for c in report.changes)
    print(f"{n} object{'s' if n != 1 else ''} changed" if n else "nothing changed: already registered")
    return 0
