"""GCSStore against a service that misbehaves: one that never answers, and fake-gcs-server behind a small
HTTP proxy that hangs a request, loses a reply, forgets an upload session or lets another writer in first.

The proxy also enforces the preconditions GCS enforces and the emulator does not (ifGenerationMatch on a
delete and on a server-side copy), so the store's requests meet the answers GCS would give them.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import pytest

from lake.checksum import crc32c_b64
from lake.errors import StoreError
from lake.stores.base import ObjectExistsError, PutOutcome
from lake.stores.gcs import MULTIPART_LIMIT, GCSStore


class Fault(Enum):
    HANG = "hold the request, never answer"
    DROP_REPLY = "pass the request on, then close the connection instead of answering"


HANG, DROP_REPLY = Fault.HANG, Fault.DROP_REPLY
FAST = (1, 0.3)  # (connect, read) seconds of one request


@dataclass
class Request:
    method: str
    path: str  # as sent: object names quoted, "/" as %2F
    query: dict[str, str]
    status: int | None = None  # the answer's status; None: none was given

    @property
    def target(self) -> tuple[str, str] | None:
        """(bucket, name) of the object a delete or a copy (rewrite) writes; None for other requests."""
        parts = [unquote(p) for p in self.path.split("/")]
        if self.method == "DELETE" and len(parts) == 7 and parts[1:4] == ["storage", "v1", "b"] and parts[5] == "o":
            return parts[4], parts[6]
        if self.method == "POST" and len(parts) == 12 and parts[7] == "rewriteTo":
            return parts[9], parts[11]
        return None

    def with_query(self, **changes: str) -> str:
        """This request's path and query, with some query parameters changed."""
        return self.path + "?" + urlencode({**self.query, **changes})


class Proxy:
    """An HTTP proxy in front of an emulator: records every request; `rule(request)` may stage a fault (a
    Fault), send the request elsewhere (another path and query) or let it pass (None)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.seen: list[Request] = []
        self.rule = lambda request: None
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
        self._server.daemon_threads = True
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._released.set()  # hung requests end
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.seen if r.method == method]

    def precondition_failed(self, request: Request) -> bool:
        """What GCS answers 412 to: ifGenerationMatch other than the target's generation (0: absent)."""
        if request.target is None or "ifGenerationMatch" not in request.query:
            return False
        bucket, name = request.target
        blob = self.emulator.client().bucket(bucket).get_blob(name)
        return int(request.query["ifGenerationMatch"]) != (blob.generation if blob is not None else 0)


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def relay(self) -> None:
        proxy: Proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        request = Request(self.command, url.path, dict(parse_qsl(url.query)))
        proxy.seen.append(request)
        action = proxy.rule(request)
        if action == HANG:
            proxy._released.wait()
            self.close_connection = True
            return
        if proxy.precondition_failed(request):
            request.status = 412
            return self.answer(412, {"error": {"code": 412, "message": "Precondition Failed",
                                               "errors": [{"reason": "conditionNotMet"}]}})
        path = action if isinstance(action, str) else self.path
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.emulator.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            try:
                upstream.request(self.command, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service answered (an error) before reading the whole body: its answer is read below
            reply = upstream.getresponse()
            data = reply.read()
        finally:
            upstream.close()
        if action == DROP_REPLY:
            self.close_connection = True
            return
        request.status = reply.status
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            if key.lower() == "location":  # resumable sessions continue through the proxy
                value = value.replace(proxy.emulator.url, proxy.url)
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = relay


@pytest.fixture
def proxy(gcs, monkeypatch):
    """The test's bucket, reached through a Proxy (STORAGE_EMULATOR_HOST points at it)."""
    p = Proxy(gcs.emulator)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", p.url)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def silent_service(monkeypatch):
    """A service that accepts connections and never answers; STORAGE_EMULATOR_HOST points at it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except socket.timeout:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


def other_writer(gcs, name: str, data: bytes) -> None:
    gcs.client().bucket(gcs.bucket).blob(name).upload_from_string(data)


# -- a service that never answers -----------------------------------------------------------------------

OPERATIONS = {
    "stat": (lambda s: s.stat("lake/runs/r.parquet"), "stat", "lake/runs/r.parquet"),
    "exists": (lambda s: s.exists("lake/runs/r.parquet"), "stat", "lake/runs/r.parquet"),
    "get": (lambda s: s.get("lake/runs/r.parquet"), "read", "lake/runs/r.parquet"),
    "list": (lambda s: list(s.list("lake/runs/")), "list", "lake/runs/"),
    "delete": (lambda s: s.delete("lake/runs/r.parquet"), "delete", "lake/runs/r.parquet"),
    "put": (lambda s: s.put(["lake/runs/r.parquet"], b"x", "text/plain"), "upload", "lake/runs/r.parquet"),
    "swap": (lambda s: s.swap("lake/runs/r.parquet", b"x", "text/plain", expect=None), "swap", "lake/runs/r.parquet"),
}


@pytest.mark.parametrize("op", list(OPERATIONS))
def test_every_operation_on_a_service_that_never_answers_fails_within_the_deadline(silent_service, op):
    call, verb, key = OPERATIONS[op]
    store = GCSStore("execution-store-test", deadline=1, request_timeout=FAST)
    started = time.monotonic()
    with pytest.raises(StoreError) as err:
        call(store)
    assert time.monotonic() - started < 10
    assert f"{verb} gs://execution-store-test/{key} failed" in str(err.value)
    assert "deadline" in str(err.value)


# -- what the store checks after a write ----------------------------------------------------------------


def test_a_stored_object_that_differs_from_what_was_sent_is_removed(gcs):
    store = GCSStore.from_url(gcs.url)
    store.put(["a/size.json", "a/crc.json"], b'{"a": 1}', "application/json")
    want = (8, crc32c_b64(b'{"a": 1}'))
    for name, sent in (("a/size.json", (9, want[1])), ("a/crc.json", (8, crc32c_b64(b'{"a": 2}')))):
        blob = store._bucket.get_blob(name)
        with pytest.raises(StoreError) as err:
            store._check_written(blob, sent)
        assert f"gs://{gcs.bucket}/{name}: stored object has size/crc32c {want}, expected {sent}" in str(err.value)
    assert gcs.objects() == {}


def test_a_stored_object_replaced_meanwhile_is_left_to_its_writer(gcs, proxy):
    store = GCSStore.from_url(gcs.url)
    store.put(["a/x.json"], b"ours", "application/json")
    blob = store._bucket.get_blob("a/x.json")
    other_writer(gcs, "a/x.json", b"theirs")
    with pytest.raises(StoreError, match=f"gs://{gcs.bucket}/a/x.json: stored object has size/crc32c"):
        store._check_written(blob, (3, crc32c_b64(b"our")))
    assert [(r.query.get("ifGenerationMatch"), r.status) for r in proxy.calls("DELETE")] == [(str(blob.generation), 412)]
    assert gcs.objects() == {"a/x.json": b"theirs"}


def test_removing_a_differing_object_retries_a_request_that_hangs(gcs, proxy):
    store = GCSStore.from_url(gcs.url, request_timeout=FAST)
    store.put(["a/x.json"], b"ours", "application/json")
    blob = store._bucket.get_blob("a/x.json")
    proxy.rule = lambda r: HANG if r.method == "DELETE" and len(proxy.calls("DELETE")) == 1 else None
    started = time.monotonic()
    with pytest.raises(StoreError, match="stored object has size/crc32c"):
        store._check_written(blob, (3, crc32c_b64(b"our")))
    assert time.monotonic() - started < 10
    assert [r.status for r in proxy.calls("DELETE")] == [None, 200]  # the first one abandoned, the second answered
    assert gcs.objects() == {}


# -- replies the service loses, sessions it forgets ------------------------------------------------------


def test_a_swap_whose_reply_was_lost_after_it_landed_succeeds(gcs, proxy):
    """The retried upload gets 412 (the first one landed); the store reads the object and finds its bytes."""
    store = GCSStore.from_url(gcs.url, request_timeout=FAST)
    store.put(["lake/runs/r.parquet"], b"old", "application/octet-stream")
    proxy.rule = lambda r: DROP_REPLY if r.method == "POST" and len(proxy.calls("POST")) == 2 else None
    store.swap("lake/runs/r.parquet", b"new", "application/octet-stream", expect=b"old")
    # the put, the swap's upload that landed but whose reply was lost, its retry refused by the precondition
    assert [r.status for r in proxy.calls("POST")] == [200, None, 412]
    assert gcs.objects() == {"lake/runs/r.parquet": b"new"}


def test_a_large_upload_whose_session_the_service_forgot_starts_a_new_one(gcs, proxy):
    store = GCSStore.from_url(gcs.url, request_timeout=(1, 30))
    data = os.urandom(MULTIPART_LIMIT + 1024)

    def forget(request: Request):
        if request.method == "PUT" and "upload_id" in request.query and len(proxy.calls("PUT")) == 1:
            return request.with_query(upload_id="forgotten")  # a session the service never issued
        return None

    proxy.rule = forget
    assert store.put(["lake/fills/run_id=r/part-00000.parquet"], data, "application/octet-stream") == [PutOutcome.CREATED]
    assert [r.status for r in proxy.calls("PUT")] == [404, 200]
    assert gcs.objects() == {"lake/fills/run_id=r/part-00000.parquet": data}


# -- another writer, between the store's look and its write ---------------------------------------------


def test_a_copy_target_another_writer_creates_meanwhile_is_kept(gcs, proxy):
    store = GCSStore.from_url(gcs.url)
    keys = ["backtest_results/r/x.log", "logs/r/x.log"]

    def race(request: Request):
        if request.target == (gcs.bucket, keys[1]) and len(proxy.calls("POST")) == 2:  # the upload, then the copy
            other_writer(gcs, keys[1], b"theirs")

    proxy.rule = race
    with pytest.raises(ObjectExistsError) as err:
        store.put(keys, b"ours", "text/plain")
    assert err.value.key == keys[1]
    assert [(r.query.get("ifGenerationMatch"), r.status) for r in proxy.seen if r.target] == [("0", 412)]
    assert gcs.objects() == {keys[0]: b"ours", keys[1]: b"theirs"}


def test_a_copy_target_that_keeps_changing_is_reported_busy(gcs, proxy):
    store = GCSStore.from_url(gcs.url)
    keys = ["backtest_results/r/x.log", "logs/r/x.log"]
    other_writer(gcs, keys[1], b"theirs 0")
    copies = []

    def race(request: Request):
        if request.target == (gcs.bucket, keys[1]):
            copies.append(request)
            other_writer(gcs, keys[1], b"theirs %d" % len(copies))

    proxy.rule = race
    with pytest.raises(StoreError, match=f"gs://{gcs.bucket}/{keys[1]} kept changing while it was written"):
        store.put(keys, b"ours", "text/plain", overwrite=True)
    assert [r.status for r in copies] == [412] * 3
    assert gcs.objects() == {keys[0]: b"ours", keys[1]: b"theirs 3"}


def test_a_small_object_is_created_in_one_request_a_large_one_after_a_look(gcs, proxy):
    """Only a resumable upload (over the multipart limit) reads the object's metadata first."""
    store = GCSStore.from_url(gcs.url)

    def object_requests() -> list[tuple[str, str | None]]:
        done = [(r.method, r.query.get("uploadType")) for r in proxy.seen if "/o" in r.path]
        proxy.seen.clear()
        return done

    assert store.put(["a/small.json"], b"{}", "application/json") == [PutOutcome.CREATED]
    assert object_requests() == [("POST", "multipart")]
    assert store.put(["a/large.bin"], bytes(MULTIPART_LIMIT + 1), "application/octet-stream") == [PutOutcome.CREATED]
    assert object_requests() == [("GET", None), ("POST", "resumable"), ("PUT", "resumable")]
