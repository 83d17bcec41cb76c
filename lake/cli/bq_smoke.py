"""`lake bq-smoke`: run every shipped query on real BigQuery and on DuckDB over the same scratch files; compare."""

from __future__ import annotations

import argparse
import os

from lake.errors import LakeError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bq-smoke",
        help="check that BigQuery and DuckDB give the same answers to the shipped queries (scratch data, cleaned up)",
        description="Writes synthetic runs with edge values under a fresh scratch prefix of the bucket, registers "
        "external tables and views over them in a scratch dataset, runs every shipped query on BigQuery and on "
        "DuckDB, compares the answers (exact, FLOAT64 within 1e-9 relative) and deletes what it made. Needs "
        "Application Default Credentials. Exit code 0 when every query agrees, 1 otherwise.",
    )
    p.add_argument("--project", default=None, help="BigQuery project (default: $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--dataset", default="execution_smoke", help="scratch dataset (default: execution_smoke)")
    p.add_argument(
        "--bucket",
        default=None,
        help="bucket or gs://bucket/prefix to put the scratch prefix under (default: $EXECUTION_STORE_GCS_BUCKET); "
        "the data goes to <bucket>/bq-smoke/<time>-<random>/ and nowhere else",
    )
    p.add_argument("--location", default=None, help="location of the scratch dataset (default: the bucket's location)")
    p.add_argument("--keep", action="store_true", help="keep the dataset and the scratch objects (to inspect them)")
    p.set_defaults(func=cmd_bq_smoke)


def cmd_bq_smoke(args) -> int:
    from lake.catalog import bigquery as bq
    from lake.catalog import smoke
    from lake.stores import default_remote

    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise LakeError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    lake_root = smoke.scratch_root(args.bucket or default_remote())
    location = args.location or smoke.bucket_location(lake_root, project)
    client = bq.make_client(project, location)
    report = smoke.run_smoke(client, lake_root=lake_root, dataset=args.dataset, location=location, keep=args.keep, echo=print)
    print(smoke.format_report(report))
    return 0 if report.ok else 1
