"""Stores: where a run's objects go. `open_store` is the only way from a destination to a store."""

from __future__ import annotations

import os

from lake.stores.base import ObjectChangedError, ObjectExistsError, ObjectNotFoundError, PutOutcome, Store
from lake.stores.destination import DEFAULT_DEST, Destination, default_dest, default_remote, resolve
from lake.stores.local import LocalStore


def open_store(dest: "str | os.PathLike | Destination | None" = None, **gcs_options) -> Store:
    """The store for `dest`: a local folder, or gs://bucket[/prefix] (None: the default local lake).

    gcs_options (client, project, deadline, max_concurrency, ...) go to GCSStore.
    """
    where = resolve(dest)
    if where.is_gcs:
        from lake.stores.gcs import GCSStore  # imported lazily: the local writer needs no GCS client

        return GCSStore(where.bucket, where.prefix, **gcs_options)
    if gcs_options:
        raise TypeError(f"options {sorted(gcs_options)} apply to gs:// destinations only")
    return LocalStore(where.path)


__all__ = [
    "open_store",
    "resolve",
    "Destination",
    "DEFAULT_DEST",
    "default_dest",
    "default_remote",
    "Store",
    "LocalStore",
    "PutOutcome",
    "ObjectExistsError",
    "ObjectChangedError",
    "ObjectNotFoundError",
]
