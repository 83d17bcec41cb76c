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


class ObjectChangedError(LakeError):
    """A swap found other bytes under the key than the caller expected (another writer got there first)."""

    def __init__(self, key: str, where: str = "", detail: str = ""):
        self.key = key
        where = f" in {where}" if where else ""
        detail = detail or "it does not hold the bytes this writer expected (another writer replaced or created it)"
        super().__init__(f"{key!r}{where} changed under this writer: {detail}")


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

    def swap(self, key: str, data: bytes, content_type: str, *, expect: bytes | None) -> None:
        """Compare-and-swap: replace `key` with `data` only if it holds exactly `expect` now.

        expect=None: only if the key does not exist. Otherwise ObjectChangedError,
        and the key is left as it was. Atomic for readers (they see the old bytes or
        the new ones) and across writers in other processes (local: a lock file,
        GCS: an if_generation_match precondition).
        """

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFoundError if absent."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the key; absent keys are fine."""

    def list(self, prefix: str) -> Iterator[str]:
        """Every key under prefix, recursively."""
