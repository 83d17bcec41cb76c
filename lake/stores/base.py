"""The small protocol every store implements (local folder, GCS bucket)."""

from __future__ import annotations

import enum
from typing import Iterator, Protocol, Sequence

from lake.errors import LakeError


class PutOutcome(str, enum.Enum):
    CREATED = "created"
    IDENTICAL = "identical"  # the key already held the same bytes: kept as is
    REPLACED = "replaced"  # overwrite=True replaced different bytes


class ObjectExistsError(LakeError):
    """A create-only put found different bytes under the key."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(f"{key!r} already exists with different content")


class ObjectNotFoundError(LakeError, FileNotFoundError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(f"{key!r} does not exist")


class Store(Protocol):
    """Keys are '/'-separated paths relative to the store's root."""

    url: str
    max_concurrency: int  # how many puts the writer may run at once

    def put(self, keys: Sequence[str], data: bytes, content_type: str, *, overwrite: bool = False) -> list[PutOutcome]:
        """Create every key with `data`, atomically and create-only.

        The bytes are sent once even when several keys receive them. A key that
        already holds identical bytes is kept; different bytes raise
        ObjectExistsError unless overwrite=True.
        """

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFoundError if absent."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the key; absent keys are fine."""

    def list(self, prefix: str) -> Iterator[str]:
        """Every key under prefix, recursively."""
