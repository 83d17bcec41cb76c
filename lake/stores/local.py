"""A local folder as a store: create-only, atomic writes via temp file + hard link."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator, Sequence

from lake.errors import DestinationError, StoreError
from lake.stores.base import ObjectExistsError, ObjectNotFoundError, PutOutcome

TMP_DIR = ".tmp"  # beside the data, on the same filesystem, so links are atomic


class LocalStore:
    max_concurrency = 2

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).absolute()
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise DestinationError(f"cannot use {self.url} as a lake: it is a file, not a folder")

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise DestinationError(f"unsafe key {key!r}")
        return self.root.joinpath(*parts)

    def _write_tmp(self, data: bytes) -> Path:
        tmp_dir = self.root / TMP_DIR
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def put(self, keys: Sequence[str], data: bytes, content_type: str, *, overwrite: bool = False) -> list[PutOutcome]:
        paths = [self._path(k) for k in keys]
        try:
            tmp = self._write_tmp(data)
            try:
                return [self._link(tmp, key, path, data, overwrite) for key, path in zip(keys, paths)]
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:  # full disk, read-only folder, a file where a folder should be, ...
            raise StoreError(f"cannot write {keys[0]!r} under {self.url}: {exc}") from exc

    def _link(self, tmp: Path, key: str, path: Path, data: bytes, overwrite: bool) -> PutOutcome:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # link() fails if the target exists: an atomic create-only publish.
            os.link(tmp, path)
            outcome = PutOutcome.CREATED
        except FileExistsError:
            if _same_bytes(path, data):
                return PutOutcome.IDENTICAL
            if not overwrite:
                raise ObjectExistsError(key) from None
            swap = tmp.with_name(f"{uuid.uuid4().hex}.tmp")
            os.link(tmp, swap)
            os.replace(swap, path)
            outcome = PutOutcome.REPLACED
        _fsync_dir(path.parent)
        return outcome

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        except OSError as exc:
            raise StoreError(f"cannot read {key!r} under {self.url}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != TMP_DIR)
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                yield name if rel == "." else f"{rel}/{name}"

    def leftover_temp_files(self) -> list[str]:
        """Temp files of writers that died before publishing (safe to delete once no writer runs)."""
        tmp_dir = self.root / TMP_DIR
        return sorted(p.name for p in tmp_dir.glob("*.tmp")) if tmp_dir.is_dir() else []


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
