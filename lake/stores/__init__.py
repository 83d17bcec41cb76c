"""Stores: where a run's objects go. `open_store` picks one from a destination."""

from __future__ import annotations

import os

from lake.stores.base import ObjectExistsError, ObjectNotFoundError, PutOutcome, Store
from lake.stores.local import LocalStore


def open_store(dest: "str | os.PathLike | Store") -> Store:
    """A store for `dest`: a local folder path, or gs://bucket[/prefix]."""
    if hasattr(dest, "put") and hasattr(dest, "list"):
        return dest  # already a store
    text = os.fspath(dest)
    if text.startswith("gs://"):
        from lake.stores.gcs import GCSStore  # imported lazily: the local writer needs no GCS client

        return GCSStore.from_url(text)
    return LocalStore(text)


__all__ = ["open_store", "Store", "LocalStore", "PutOutcome", "ObjectExistsError", "ObjectNotFoundError"]
