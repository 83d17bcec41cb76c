"""Stores that watch or break a real store (a local folder or a GCS bucket): they add no behaviour of their own.

`Recording` keeps every mutating operation (put, swap, delete) in order, with what it asked for; its writes run
one at a time (max_concurrency 1), so the order is the protocol's, not a thread pool's. `FailingAt` is a Recording
whose k-th mutating operation fails like a full disk or a lost connection: before it reaches the store
(`landed=False`), or after the store has done it, as when the reply is lost (`landed=True`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lake.errors import StoreError


@dataclass(frozen=True)
class Op:
    """One mutating store operation: ('put', keys, overwrite), ('swap', (key,), expect is None), ('delete', (key,), None)."""

    kind: str
    keys: tuple[str, ...]
    flag: bool | None = None

    @property
    def key(self) -> str:
        return self.keys[0]


class Recording:
    def __init__(self, store):
        self._store = store
        self.url = store.url
        self.max_concurrency = 1
        self.ops: list[Op] = []
        self.expected: list[bytes | None] = []  # what each swap expected the key to hold

    def __getattr__(self, name):  # get, exists, list, stat, leftover_temp_files: read as they are
        return getattr(self._store, name)

    def _do(self, op: Op, action):
        self.ops.append(op)
        return action()

    def put(self, keys, data, content_type, *, overwrite=False):
        return self._do(Op("put", tuple(keys), overwrite),
                        lambda: self._store.put(keys, data, content_type, overwrite=overwrite))

    def swap(self, key, data, content_type, *, expect):
        self.expected.append(expect)
        return self._do(Op("swap", (key,), expect is None),
                        lambda: self._store.swap(key, data, content_type, expect=expect))

    def delete(self, key):
        return self._do(Op("delete", (key,)), lambda: self._store.delete(key))


class Failure(StoreError):
    """The failure FailingAt raises."""


class FailingAt(Recording):
    def __init__(self, store, k: int, *, landed: bool = False):
        super().__init__(store)
        self.k, self.landed = k, landed

    def _do(self, op: Op, action):
        self.ops.append(op)
        if len(self.ops) != self.k:
            return action()
        if self.landed:
            action()
            raise Failure(f"the reply to {op.kind} {op.key!r} was lost (the store did it)")
        raise Failure(f"cannot {op.kind} {op.key!r}: [Errno 28] No space left on device")
