"""The one destination resolver: what a user names (a folder, gs://bucket[/prefix]) parsed and checked once.

Every command and function that takes a destination resolves it here; the
writer, the DuckDB engine, BigQuery registration and push all read the same
Destination. Nothing here does I/O.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lake.errors import DestinationError

DEFAULT_DEST = "./lakehouse"  # the embedded default: a local lake folder
DEST_ENV = "LAKE_DEST"

DEFAULT_BUCKET = "execution-store-cefi-central-element-323112"
ALTERNATIVE_BUCKET = "results-central-element-3-backtest-cefi"
BUCKET_ENV = "EXECUTION_STORE_GCS_BUCKET"

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")  # 'gs:/x', 'GS://x', 's3://x', 'file:///x'


@dataclass(frozen=True)
class Destination:
    """A local folder (path set) or a GCS bucket and prefix (bucket set); url is the canonical spelling."""

    url: str
    path: Path | None = None
    bucket: str | None = None
    prefix: str = ""

    @property
    def is_gcs(self) -> bool:
        return self.bucket is not None


def default_dest() -> str:
    """The local lake: env LAKE_DEST, else ./lakehouse."""
    return os.environ.get(DEST_ENV) or DEFAULT_DEST


def default_bucket() -> str:
    """The results bucket: env EXECUTION_STORE_GCS_BUCKET, else the execution store."""
    return os.environ.get(BUCKET_ENV) or DEFAULT_BUCKET


def default_remote() -> str:
    """Where pushed runs and registered tables live by default: the results bucket."""
    return f"gs://{default_bucket()}"


def resolve(dest: "str | os.PathLike | Destination | None" = None) -> Destination:
    """The Destination for `dest` (None: the default local lake)."""
    if isinstance(dest, Destination):
        return dest
    if dest is None:
        dest = default_dest()
    if not isinstance(dest, (str, os.PathLike)):
        raise DestinationError(f"a destination is a folder path or gs://bucket[/prefix], got {type(dest).__name__}")
    text = os.fspath(dest)
    if not isinstance(text, str):
        raise DestinationError(f"a destination is a folder path or gs://bucket[/prefix], got {text!r}")
    if not text.strip() or "\x00" in text:
        raise DestinationError(f"empty or unprintable destination {text!r}")
    if text.startswith("gs://"):
        bucket, _, prefix = text[len("gs://") :].partition("/")
        bucket = check_results_bucket(bucket)
        prefix = check_object_path(prefix.strip("/"), what="prefix", allow_empty=True)
        return Destination(f"gs://{bucket}" + (f"/{prefix}" if prefix else ""), bucket=bucket, prefix=prefix)
    if _SCHEME.match(text) and not re.match(r"[A-Za-z]:[\\/]", text):  # a URL, not a folder (C:\ stays a path)
        raise DestinationError(f"unsupported destination {text!r}: use a local folder or gs://bucket[/prefix]")
    path = Path(text).absolute()
    return Destination(str(path), path=path)


def no_credentials(url: str) -> DestinationError:
    """The one message for a machine without Google credentials (writer, engine and registration alike)."""
    return DestinationError(
        f"no Google credentials for {url}: set up Application Default Credentials "
        "(gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS), "
        "or set STORAGE_EMULATOR_HOST for an emulator"
    )


def check_results_bucket(bucket: object) -> str:
    """Return bucket if results may be written there; DestinationError otherwise."""
    if not isinstance(bucket, str) or not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise DestinationError(f"invalid GCS bucket name {bucket!r}")
    if bucket.startswith("market-data-"):
        raise DestinationError(
            f"refusing to write backtest results to gs://{bucket}: market-data-* buckets hold the backtest input. "
            f"Results go to gs://{DEFAULT_BUCKET} (env {BUCKET_ENV}), "
            f"or the alternative results bucket gs://{ALTERNATIVE_BUCKET}"
        )
    return bucket


def check_object_path(path: str, *, what: str, allow_empty: bool = False) -> str:
    """A '/'-separated relative path with no empty, '.' or '..' segment and no wildcard or control characters."""
    if path == "" and allow_empty:
        return path
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or any(c in path for c in "\r\n\x00#[]*?")
    ):
        raise DestinationError(f"unsafe {what} {path!r}")
    return path
