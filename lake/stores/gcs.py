"""A GCS bucket as a store: create-only uploads, crc32c-checked, bounded retries.

Every object is created with the precondition `if_generation_match=0`, so a
retried or repeated upload can never replace an object: it gets 412, and the
store then compares size and crc32c from the object's metadata (no download)
to tell "already there, same bytes" (kept) from a conflict. Bytes that go to
several keys are uploaded once and copied server-side (rewrite), also with
`if_generation_match=0`.

Large objects (over the client's 8 MiB multipart limit) go up as resumable
uploads, and server-side copies of any size: for both, the store reads the
destination's metadata first. On GCS this only saves re-sending bytes on a
resume (the precondition still guards the race); fake-gcs-server does not
enforce the precondition on resumable uploads or copies, so there the check is
what keeps an existing object from being replaced (see README, "Writing to GCS").
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

from lake.checksum import crc32c_b64  # GCS's own notation: base64 of the big-endian CRC32C
from lake.errors import DestinationError, StoreError
from lake.stores.base import ObjectChangedError, ObjectExistsError, ObjectNotFoundError, PutOutcome
from lake.stores.retry import TRANSIENT, after_lost_races, is_retryable
from lake.stores.destination import check_object_path, check_results_bucket, default_bucket, no_credentials, resolve

DEADLINE_ENV = "EXECUTION_STORE_GCS_DEADLINE"  # seconds of retries per operation
CONCURRENCY_ENV = "EXECUTION_STORE_GCS_CONCURRENCY"

DEFAULT_DEADLINE = 120.0
DEFAULT_CONCURRENCY = 8  # below requests' default pool of 10 connections per host
DEFAULT_REQUEST_TIMEOUT = (10.0, 120.0)  # (connect, read) seconds of one HTTP request
MULTIPART_LIMIT = 8 * 1024 * 1024  # google-cloud-storage switches to resumable uploads above this

@dataclass(frozen=True)
class ObjectStat:
    """What the store compares without downloading: size, crc32c, generation."""

    size: int
    crc32c: str
    generation: int
    content_type: str | None = None


class GCSStore:
    """Objects under gs://bucket[/prefix]; keys are '/'-separated paths below it."""

    def __init__(
        self,
        bucket: str | None = None,
        prefix: str = "",
        *,
        client=None,
        project: str | None = None,
        max_concurrency: int | None = None,
        deadline: float | None = None,
        request_timeout: float | tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    ):
        self.bucket_name = check_results_bucket(bucket if bucket is not None else default_bucket())
        self.prefix = check_object_path(prefix.strip("/"), what="prefix", allow_empty=True)
        self.url = f"gs://{self.bucket_name}" + (f"/{self.prefix}" if self.prefix else "")
        try:
            self.max_concurrency = int(max_concurrency or os.environ.get(CONCURRENCY_ENV) or DEFAULT_CONCURRENCY)
            self.deadline = float(deadline if deadline is not None else os.environ.get(DEADLINE_ENV) or DEFAULT_DEADLINE)
        except ValueError as exc:
            raise DestinationError(f"bad {CONCURRENCY_ENV} or {DEADLINE_ENV}: {exc}") from None
        if self.max_concurrency < 1 or self.deadline <= 0:
            raise DestinationError(f"max_concurrency ({self.max_concurrency}) must be >= 1 and deadline ({self.deadline}) > 0")
        self.request_timeout = request_timeout
        self._project = project
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options) -> "GCSStore":
        dest = resolve(url)
        if not dest.is_gcs:
            raise DestinationError(f"not a GCS URL: {url!r} (expected gs://bucket[/prefix])")
        return cls(dest.bucket, dest.prefix, **options)

    def __repr__(self) -> str:
        return f"GCSStore({self.url!r})"

    # -- client --------------------------------------------------------------------------

    @property
    def client(self):
        """google-cloud-storage client, created on first use (ADC, or STORAGE_EMULATOR_HOST)."""
        with self._lock:
            if self._client is None:
                from google.auth.exceptions import DefaultCredentialsError
                from google.cloud import storage

                try:
                    self._client = storage.Client(project=self._project)
                except DefaultCredentialsError as exc:
                    raise no_credentials(self.url) from exc
            return self._client

    @property
    def _bucket(self):
        return self.client.bucket(self.bucket_name)

    def _name(self, key: str) -> str:
        key = check_object_path(key, what="key")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _retry(self, deadline_at: float):
        return TRANSIENT.google_retry(deadline_at)

    @contextmanager
    def _errors(self, op: str, name: str):
        """Turn storage-client failures into LakeErrors that name the object and the cause."""
        from google.api_core import exceptions as api

        where = f"gs://{self.bucket_name}/{name}"
        try:
            yield
        except (ObjectExistsError, ObjectChangedError, ObjectNotFoundError, DestinationError, StoreError):
            raise
        except api.RetryError as exc:
            cause = exc.cause or exc
            raise StoreError(
                f"{op} {where} failed: gave up after the {self.deadline:g}s retry deadline "
                f"(last error: {_short(cause)})"
            ) from exc
        except (api.Forbidden, api.Unauthorized) as exc:
            raise DestinationError(f"{op} {where}: permission denied ({_short(exc)})") from exc
        except api.NotFound as exc:
            raise DestinationError(
                f"{op} {where}: not found; does the bucket gs://{self.bucket_name} exist? ({_short(exc)})"
            ) from exc
        except Exception as exc:
            if _is_google_or_network_error(exc):
                raise StoreError(f"{op} {where} failed: {_short(exc)}") from exc
            raise

    # -- reads -----------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectStat | None:
        """Size, crc32c and generation of key, or None if absent (metadata only)."""
        name = self._name(key)
        with self._errors("stat", name):
            return self._stat(name, time.monotonic() + self.deadline)

    def _stat(self, name: str, deadline_at: float) -> ObjectStat | None:
        blob = self._bucket.get_blob(name, retry=self._retry(deadline_at), timeout=self.request_timeout)
        if blob is None:
            return None
        return ObjectStat(int(blob.size), blob.crc32c, int(blob.generation), blob.content_type)

    def get(self, key: str) -> bytes:
        from google.api_core import exceptions as api

        name = self._name(key)
        with self._errors("read", name):
            try:
                return self._bucket.blob(name).download_as_bytes(
                    checksum="crc32c",
                    retry=self._retry(time.monotonic() + self.deadline),
                    timeout=self.request_timeout,
                )
            except api.NotFound:
                raise ObjectNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def list(self, prefix: str) -> Iterator[str]:
        """Every key under prefix (a key prefix, e.g. 'lake/runs/'), in lexicographic order."""
        if prefix:
            check_object_path(prefix.rstrip("/"), what="prefix")
        root = f"{self.prefix}/" if self.prefix else ""
        with self._errors("list", root + prefix):
            blobs = self.client.list_blobs(
                self.bucket_name,
                prefix=root + prefix,
                retry=self._retry(time.monotonic() + self.deadline),
                timeout=self.request_timeout,
            )
            names = [b.name for b in blobs]  # fetched whole so errors surface here, mapped
        for name in names:
            if not name.endswith("/"):  # folder placeholders some tools create
                yield name[len(root) :]

    # -- writes ----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        from google.api_core import exceptions as api

        name = self._name(key)
        with self._errors("delete", name):
            try:
                self._bucket.blob(name).delete(
                    retry=self._retry(time.monotonic() + self.deadline), timeout=self.request_timeout
                )
            except api.NotFound:
                pass

    def swap(self, key: str, data: bytes, content_type: str, *, expect: bytes | None) -> None:
        """Replace key only if it holds `expect` (None: absent), under the object's generation as precondition."""
        from google.api_core import exceptions as api

        name = self._name(key)
        want = (len(data), crc32c_b64(data))
        deadline_at = time.monotonic() + self.deadline
        with self._errors("swap", name):
            existing = self._stat(name, deadline_at)
            if expect is None and existing is not None:
                raise ObjectChangedError(key)
            if expect is not None and (existing is None or (existing.size, existing.crc32c) != (len(expect), crc32c_b64(expect))):
                raise ObjectChangedError(key)
            try:
                self._upload(name, data, want, content_type, existing.generation if existing else 0, deadline_at)
            except api.PreconditionFailed:
                now = self._stat(name, deadline_at)  # a retried request whose first attempt landed reads as ours
                if now is None or (now.size, now.crc32c) != want:
                    raise ObjectChangedError(key) from None

    def put(self, keys: Sequence[str], data: bytes, content_type: str, *, overwrite: bool = False) -> list[PutOutcome]:
        """Create every key with data: one upload, then server-side copies; create-only.

        Returns one PutOutcome per key. A key holding the same bytes (size and
        crc32c) is kept; different bytes raise ObjectExistsError unless
        overwrite=True. All of it within the retry deadline.
        """
        if isinstance(keys, str):
            raise TypeError("keys must be a sequence of keys, not a string")
        names = [self._name(k) for k in keys]  # every key checked before anything is sent
        if not names:
            return []
        data = bytes(data)
        want = (len(data), crc32c_b64(data))
        deadline_at = time.monotonic() + self.deadline

        with self._errors("upload", names[0]):
            outcome, generation = self._put_first(keys[0], names[0], data, want, content_type, overwrite, deadline_at)
        outcomes = [outcome]
        for key, name in zip(keys[1:], names[1:]):
            with self._errors("copy to", name):
                outcomes.append(self._put_copy(key, name, names[0], generation, want, overwrite, deadline_at))
        return outcomes

    def _put_first(self, key, name, data, want, content_type, overwrite, deadline_at) -> tuple[PutOutcome, int]:
        from google.api_core import exceptions as api

        def attempt() -> tuple[PutOutcome, int] | None:
            # Resumable uploads (large objects) look first: see the module docstring.
            existing = self._stat(name, deadline_at) if len(data) > MULTIPART_LIMIT else None
            if existing is None:
                try:
                    return PutOutcome.CREATED, self._upload(name, data, want, content_type, 0, deadline_at)
                except api.PreconditionFailed:
                    existing = self._stat(name, deadline_at)
                    if existing is None:
                        return None  # deleted meanwhile: try to create again
            kept = self._existing(key, existing, want, overwrite)
            if kept is not None:
                return kept, existing.generation
            try:
                return PutOutcome.REPLACED, self._upload(name, data, want, content_type, existing.generation, deadline_at)
            except api.PreconditionFailed:
                return None

        return after_lost_races(attempt, lambda: self._busy(name))

    def _put_copy(self, key, name, source_name, source_generation, want, overwrite, deadline_at) -> PutOutcome:
        from google.api_core import exceptions as api

        def attempt() -> PutOutcome | None:
            # Look first: the emulator does not enforce preconditions on copies; on GCS this
            # saves a copy on resume, and the precondition below still guards the race.
            existing = self._stat(name, deadline_at)
            if existing is not None:
                kept = self._existing(key, existing, want, overwrite)
                if kept is not None:
                    return kept
            try:
                self._copy(name, source_name, source_generation, want, existing.generation if existing else 0, deadline_at)
                return PutOutcome.REPLACED if existing is not None else PutOutcome.CREATED
            except api.PreconditionFailed:
                return None

        return after_lost_races(attempt, lambda: self._busy(name))

    def _busy(self, name: str) -> StoreError:
        return StoreError(f"gs://{self.bucket_name}/{name} kept changing while it was written; is another writer active?")

    @staticmethod
    def _existing(key: str, existing: ObjectStat, want: tuple[int, str], overwrite: bool) -> PutOutcome | None:
        """IDENTICAL if existing holds the wanted bytes; None if it may be replaced; else raise."""
        if (existing.size, existing.crc32c) == want:
            return PutOutcome.IDENTICAL
        if not overwrite:
            raise ObjectExistsError(key)
        return None

    def _upload(self, name, data, want, content_type, if_generation_match, deadline_at) -> int:
        from google.api_core import exceptions as api

        while True:
            blob = self._bucket.blob(name)
            try:
                blob.upload_from_string(
                    data,
                    content_type=content_type,
                    if_generation_match=if_generation_match,
                    checksum="crc32c",  # sent with the upload and checked against the server's value
                    retry=self._retry(deadline_at),
                    timeout=self.request_timeout,
                )
                break
            except api.ClientError as exc:
                # A resumable session the service forgot (restart, expiry): start a new one.
                # The precondition still holds, so a finished earlier attempt shows up as 412.
                if exc.code not in (404, 410) or "upload_id=" not in str(exc) or time.monotonic() >= deadline_at:
                    raise
        self._check_written(blob, want)
        return int(blob.generation)

    def _copy(self, name, source_name, source_generation, want, if_generation_match, deadline_at) -> int:
        bucket = self._bucket
        source = bucket.blob(source_name, generation=source_generation)  # exactly the bytes just put
        dest = bucket.blob(name)
        token = None
        while True:
            token, _, _ = dest.rewrite(
                source,
                token=token,
                if_generation_match=if_generation_match,
                retry=self._retry(deadline_at),
                timeout=self.request_timeout,
            )
            if token is None:
                break
        self._check_written(dest, want)
        return int(dest.generation)

    def _check_written(self, blob, want: tuple[int, str]) -> None:
        """The object the service stored must have our size and crc32c; else remove it and fail."""
        got = (int(blob.size or 0), blob.crc32c)
        if got != want:
            try:
                blob.delete(if_generation_match=blob.generation, timeout=self.request_timeout)
            except Exception:
                pass  # the error below is what matters; the object is then left for the rerun to report
            raise StoreError(
                f"gs://{self.bucket_name}/{blob.name}: stored object has size/crc32c {got}, expected {want}"
            )


def _is_google_or_network_error(exc: BaseException) -> bool:
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth
    from google.cloud.storage import exceptions as storage_exc

    import requests

    return isinstance(
        exc,
        (api.GoogleAPIError, auth.GoogleAuthError, storage_exc.InvalidResponse, storage_exc.DataCorruption,
         requests.RequestException, ConnectionError),
    ) or is_retryable(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
