"""A local recorder of the real google-cloud-bigquery client's REST calls, answering like BigQuery v2.

No BigQuery emulator can create or query external tables, so the tests check
the conversation instead: the real `bigquery.Client` talks to a local HTTP
server (`fake_bigquery` fixture) that keeps datasets, tables (created by DDL
query jobs) and jobs, and records every call (method, path, query string, body).

Query jobs that are not DDL are answered by `FakeBigQuery.answer`, a callable
(sql, parameters) -> (schema fields, rows as Python values) that a test sets
(e.g. the same query run on DuckDB); rows are encoded as the REST API encodes
them, so the real client decodes them as it would BigQuery's.

An external table's resource carries what its DDL says, read back by the DDL
reader of tests/support/bigquery_ddl.py, under the REST API's field names
(externalDataConfiguration: sourceUris, hivePartitioningOptions, connectionId,
metadataCacheMode; maxStaleness). `CALL BQ.REFRESH_EXTERNAL_METADATA_CACHE(...)`
jobs are recorded in `refreshes`; like BigQuery, the call fails on a table
whose cache is not refreshed manually, and `refresh_failures[table]` makes the
next N calls for that table fail (BigQuery lets one of concurrent refreshes win).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

PROJECT = "lake-test-project"
PREFIX = "/bigquery/v2"

CREATE = re.compile(r"CREATE OR REPLACE (EXTERNAL TABLE|VIEW) `([^`]+)`")
REFRESH = re.compile(r"^CALL BQ\.REFRESH_EXTERNAL_METADATA_CACHE\('([^']+)'(?:, \[(.*)\])?\);?$", re.DOTALL)
LABEL = re.compile(r"labels = \[\('([a-z0-9_-]+)', '([a-z0-9_-]+)'\)\]")

# (sql, {name: (BigQuery type, value)}) -> ([{"name", "type"}], [tuple of Python values])
Answer = Callable[[str, dict[str, tuple[str, Any]]], tuple[list[dict], list[tuple]]]


class FakeBigQuery:
    """State and call log of the fake API: datasets, tables (created by DDL jobs) and jobs."""

    def __init__(self):
        self.calls: list[dict] = []
        self.datasets: dict[str, dict] = {}
        self.tables: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.results: dict[str, tuple[list[dict], list[tuple]]] = {}
        self.reject: set[str] = set()  # object names whose DDL job fails
        self.refreshes: list[tuple[str, list[str]]] = []  # (project.dataset.table, subdirectories) of each refresh
        self.refresh_failures: dict[str, int] = {}  # table name -> how many of its next refreshes fail
        self.answer: Answer | None = None
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict | None]:
        with self.lock:
            self.calls.append({"method": method, "path": path, "query": query, "body": body})
            parts = path[len(PREFIX) :].strip("/").split("/")
            # projects/{p}/datasets[/{d}[/tables/{t}]] | projects/{p}/jobs[/{id}] | projects/{p}/queries/{id}
            if parts[:1] != ["projects"] or len(parts) < 3:
                return 404, error(404, f"no route {path}")
            project, kind, rest = parts[1], parts[2], parts[3:]
            if kind == "datasets" and method == "POST" and not rest:
                ref = body["datasetReference"]
                resource = {**body, "id": f"{ref['projectId']}:{ref['datasetId']}", "kind": "bigquery#dataset"}
                self.datasets[ref["datasetId"]] = resource
                return 200, resource
            if kind == "datasets" and method == "GET" and len(rest) == 1:
                ds = self.datasets.get(rest[0])
                return (200, ds) if ds else (404, error(404, f"Not found: Dataset {project}:{rest[0]}"))
            if kind == "datasets" and method == "DELETE" and len(rest) == 1:
                if rest[0] not in self.datasets:
                    return 404, error(404, f"Not found: Dataset {project}:{rest[0]}")
                inside = [name for name in self.tables if name.startswith(rest[0] + ".")]
                if inside and query.get("deleteContents") != ["true"]:
                    return 400, error(400, f"Dataset {project}:{rest[0]} is still in use", "resourceInUse")
                for name in inside:
                    del self.tables[name]
                del self.datasets[rest[0]]
                return 204, None
            if kind == "datasets" and len(rest) == 3 and rest[1] == "tables":
                name = f"{rest[0]}.{rest[2]}"
                table = self.tables.get(name)
                if table is None:
                    return 404, error(404, f"Not found: Table {project}:{name}")
                if method == "GET":
                    return 200, table
                if method == "DELETE":
                    del self.tables[name]
                    return 204, None
            if kind == "jobs" and method == "POST" and not rest:
                return 200, self._run_job(project, body)
            if kind == "jobs" and method == "GET" and len(rest) == 1:
                return 200, self.jobs[rest[0]]
            if kind == "queries" and method == "GET" and len(rest) == 1:
                return 200, self._query_results(rest[0])
            return 404, error(404, f"no route {method} {path}")

    def _run_job(self, project: str, body: dict) -> dict:
        ref = dict(body.get("jobReference") or {})
        ref.setdefault("projectId", project)
        ref.setdefault("jobId", uuid.uuid4().hex)
        query = body["configuration"]["query"]
        sql = query["query"]
        job = {
            "kind": "bigquery#job",
            "id": f"{project}:{ref['jobId']}",
            "jobReference": ref,
            "configuration": body["configuration"],
            "status": {"state": "DONE"},
            "statistics": {"creationTime": "1700000000000", "startTime": "1700000000000", "endTime": "1700000000001"},
        }
        m = CREATE.search(sql)
        name = m.group(2).split(".", 1)[1] if m else None
        refresh = REFRESH.match(sql.strip())
        if refresh:
            failure = self._refresh(refresh.group(1), refresh.group(2))
            if failure:
                job["status"] = {"state": "DONE", "errorResult": {"reason": "invalidQuery", "message": failure}}
                job["status"]["errors"] = [job["status"]["errorResult"]]
        elif name and name.split(".")[-1] in self.reject:
            job["status"] = {"state": "DONE", "errorResult": {"reason": "invalidQuery", "message": f"rejected DDL for {name}"}}
            job["status"]["errors"] = [job["status"]["errorResult"]]
        elif m:
            labels = dict(LABEL.findall(sql))
            ds, table = name.split(".")
            self.tables[name] = {
                "kind": "bigquery#table",
                "tableReference": {"projectId": project, "datasetId": ds, "tableId": table},
                "type": "EXTERNAL" if m.group(1) == "EXTERNAL TABLE" else "VIEW",
                "labels": labels,
                **(external_resource(sql) if m.group(1) == "EXTERNAL TABLE" else {}),
            }
        elif self.answer is not None:
            try:
                self.results[ref["jobId"]] = self.answer(sql, decode_parameters(query.get("queryParameters", [])))
            except Exception as exc:  # the test's stand-in failed: a query error, as BigQuery would report one
                job["status"] = {"state": "DONE", "errorResult": {"reason": "invalidQuery", "message": str(exc)}}
                job["status"]["errors"] = [job["status"]["errorResult"]]
        self.jobs[ref["jobId"]] = job
        return job

    def _refresh(self, target: str, subdirectories: str | None) -> str | None:
        """Record a refresh of `target` (project.dataset.table); an error message when BigQuery would fail it."""
        _, ds, table = target.split(".")
        resource = self.tables.get(f"{ds}.{table}")
        if resource is None:
            return f"Not found: Table {target}"
        mode = resource.get("externalDataConfiguration", {}).get("metadataCacheMode")
        if mode != "MANUAL":
            return f"Table {target} does not have a manually refreshed metadata cache (metadata_cache_mode {mode})"
        if self.refresh_failures.get(table, 0) > 0:
            self.refresh_failures[table] -= 1
            return f"Another metadata cache refresh of {target} is running"
        self.refreshes.append((target, re.findall(r"'([^']*)'", subdirectories or "")))
        return None

    def _query_results(self, job_id: str) -> dict:
        job = self.jobs[job_id]
        fields, rows = self.results.get(job_id, ([], []))
        return {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": job["jobReference"],
            "jobComplete": True,
            "totalRows": str(len(rows)),
            "schema": {"fields": [{"mode": "NULLABLE", **f} for f in fields]},
            "rows": [{"f": [{"v": encode_value(f["type"], v)} for f, v in zip(fields, row)]} for row in rows],
        }

    def take_calls(self) -> list[dict]:
        with self.lock:
            calls, self.calls = self.calls, []
        return calls


def external_resource(sql: str) -> dict:
    """The table resource fields BigQuery derives from a CREATE EXTERNAL TABLE statement."""
    from tests.support.bigquery_ddl import read_external_table

    parts = read_external_table(sql)
    options = parts.options
    config: dict[str, Any] = {"sourceUris": options.get("uris", []), "sourceFormat": options.get("format")}
    if parts.partition_columns is not None:
        config["hivePartitioningOptions"] = {
            "mode": "CUSTOM" if parts.partition_columns else "AUTO",
            "sourceUriPrefix": options.get("hive_partition_uri_prefix"),
            "requirePartitionFilter": options.get("require_hive_partition_filter", False),
        }
    if parts.connection is not None:
        config["connectionId"] = parts.connection
    if "metadata_cache_mode" in options:
        config["metadataCacheMode"] = options["metadata_cache_mode"]
    resource: dict[str, Any] = {"externalDataConfiguration": config}
    if "max_staleness" in options:
        resource["maxStaleness"] = options["max_staleness"]
    return resource


def error(code: int, message: str, reason: str = "notFound") -> dict:
    status = {404: "NOT_FOUND", 400: "FAILED_PRECONDITION"}.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status, "errors": [{"reason": reason, "message": message}]}}


def decode_parameters(params: list[dict]) -> dict[str, tuple[str, Any]]:
    """queryParameters of a job -> {name: (type, value)}; ARRAY<T> values as lists of strings, as sent."""
    out = {}
    for p in params:
        ptype = p["parameterType"]
        if ptype["type"] == "ARRAY":
            values = [v["value"] for v in p["parameterValue"].get("arrayValues", [])]
            out[p["name"]] = (f"ARRAY<{ptype['arrayType']['type']}>", values)
        else:
            out[p["name"]] = (ptype["type"], p["parameterValue"].get("value"))
    return out


def encode_value(bq_type: str, value: Any) -> Any:
    """A Python value as the BigQuery REST API sends it in a row cell."""
    if value is None:
        return None
    if bq_type in ("TIMESTAMP",):
        micros = (value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)
        return str(micros)  # formatOptions.useInt64Timestamp, which the client asks for
    if bq_type in ("BOOL", "BOOLEAN"):
        return "true" if value else "false"
    if bq_type in ("NUMERIC", "BIGNUMERIC") and isinstance(value, Decimal):
        return format(value, "f")
    if bq_type in ("FLOAT64", "FLOAT"):
        return repr(float(value))
    if bq_type == "BYTES":
        return base64.b64encode(value).decode()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


@pytest.fixture
def fake_bigquery():
    state = FakeBigQuery()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            url = urlsplit(self.path)
            status, payload = state.handle(method, url.path, parse_qs(url.query), body)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def do_DELETE(self):
            self._serve("DELETE")

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def client_for(fake: FakeBigQuery, project: str = PROJECT):
    """The real google-cloud-bigquery Client, pointed at the fake, without credentials."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": fake.url})


def writes(calls: list[dict]) -> list[dict]:
    return [c for c in calls if c["method"] in ("POST", "DELETE")]
