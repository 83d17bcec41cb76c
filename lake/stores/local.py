"""A local folder as a store: create-only, atomic writes via temp file + hard link.

Rules that hold for every operation:

- A key is a '/'-separated relative path with no empty, '.' or '..' segment and
  no NUL; its first segment is never `.tmp` (the store's own temp folder).
- Nothing below the root is followed if it is a symbolic link. Every folder is
  opened relative to its parent's descriptor with O_NOFOLLOW (openat), and files
  are published with linkat/renameat into that descriptor, so a link anywhere in
  a key, even one swapped in while a write runs, is refused instead of writing,
  reading or deleting outside the store. `list` reports links as keys (so
  `lake validate` sees them) but never descends into them; `delete` removes a
  link itself, never its target. (The root folder itself may be a link: the
  user chose it.)
- Every OS error (full disk, read-only folder, a file where a folder should be,
  a name too long) is a StoreError naming the key and the store; a refused link
  is a DestinationError. A failed write removes its temp file, whatever failed.
- swap (the commit's compare-and-swap) holds an exclusive flock on a lock file
  under .tmp/locks/ chosen by a hash of the key, from the comparison to the
  rename; overwriting puts and deletes take the same lock, so a swap's
  read-compare-write is never interleaved with another replacement of its key,
  from this process or another.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from lake.errors import DestinationError, LakeError, StoreError
from lake.stores.base import ObjectChangedError, ObjectExistsError, ObjectNotFoundError, PutOutcome

TMP_DIR = ".tmp"  # beside the data, on the same filesystem, so links are atomic
LOCK_DIR = "locks"  # under TMP_DIR
MAX_KEY_BYTES = 1024  # GCS's limit on object names: a key that fits one store fits the other
MAX_SEGMENT_BYTES = 255  # a file name (NAME_MAX)
LOCK_STRIPES = 256  # lock files are shared by keys with the same hash prefix: bounded, never deleted

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _O_CLOEXEC
# O_NONBLOCK: a FIFO planted at a key must not hang a reader (regular files ignore it).
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC


class _Missing(Exception):
    """A folder on the way to a key does not exist, or is a file: the key cannot exist."""


class LocalStore:
    max_concurrency = 2

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).absolute()
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise DestinationError(f"cannot use {self.url} as a lake: it is a file, not a folder")

    # -- keys and folders ----------------------------------------------------------------

    def _split(self, key: object) -> tuple[list[str], str]:
        """(folders, file name) of a key, or DestinationError for a key that could escape or alias."""
        parts = self._segments(key)
        return parts[:-1], parts[-1]

    def _segments(self, key: object, *, what: str = "key") -> list[str]:
        if not isinstance(key, str):
            raise DestinationError(f"unsafe {what} {key!r} for {self.url}: not a string")
        parts = key.split("/")
        if (
            not key
            or key.startswith("/")
            or "\x00" in key
            or any(p in ("", ".", "..") for p in parts)
            or parts[0] == TMP_DIR
        ):
            raise DestinationError(f"unsafe {what} {key!r} for {self.url}")
        try:
            encoded = os.fsencode(key)
        except UnicodeError:  # e.g. a lone surrogate: no file name can hold it
            raise DestinationError(f"unsafe {what} {key!r} for {self.url}: not encodable as a file name") from None
        if len(encoded) > MAX_KEY_BYTES or any(len(os.fsencode(p)) > MAX_SEGMENT_BYTES for p in parts):
            raise DestinationError(
                f"unsafe {what} {key[:60]!r}... for {self.url}: longer than {MAX_KEY_BYTES} bytes, "
                f"or a segment longer than {MAX_SEGMENT_BYTES} bytes"
            )
        return parts

    def _open_root(self, create: bool) -> int:
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            if create:
                raise
            raise _Missing() from None

    @contextmanager
    def _dir(self, parts: Sequence[str], *, create: bool) -> Iterator[int]:
        """A descriptor of root/parts, opened one folder at a time without following links.

        create=True makes missing folders (and fsyncs each parent, so they survive
        a power cut). create=False raises _Missing when a folder is absent or a file.
        """
        fd = self._open_root(create)
        try:
            for i, name in enumerate(parts):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise _Missing() from None
                    try:
                        os.mkdir(name, dir_fd=fd)
                        os.fsync(fd)
                    except FileExistsError:
                        pass  # another writer made it a moment ago
                    child = self._open_child_dir(fd, parts, i)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    self._refuse_link(fd, parts, i)
                    if not create:
                        raise _Missing() from None
                    where = "/".join(parts[: i + 1])
                    raise NotADirectoryError(errno.ENOTDIR, f"{where!r} is a file where a folder should be") from None
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def _open_child_dir(self, fd: int, parts: Sequence[str], i: int) -> int:
        try:
            return os.open(parts[i], _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                self._refuse_link(fd, parts, i)
            raise

    def _refuse_link(self, dir_fd: int, parts: Sequence[str], i: int) -> None:
        """DestinationError if parts[i] (in dir_fd) is a symbolic link; return otherwise."""
        try:
            st = os.stat(parts[i], dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(parts[i], dir_fd=dir_fd)
            except OSError:
                target = "?"
            where = "/".join(parts[: i + 1])
            raise DestinationError(
                f"refusing to follow the symbolic link {where!r} (-> {target}) in {self.url}: "
                "a store never reads or writes through links"
            )

    def _error(self, verb: str, key: str, exc: OSError) -> StoreError:
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            why += " (the disk is full)"
        elif exc.errno == errno.EROFS:
            why += " (the folder is read-only)"
        return StoreError(f"cannot {verb} {key!r} in {self.url}: {why} [errno {exc.errno}]")

    # -- the Store protocol ----------------------------------------------------------------

    def put(self, keys: Sequence[str], data: bytes, content_type: str, *, overwrite: bool = False) -> list[PutOutcome]:
        split = [self._split(k) for k in keys]
        if not split:
            return []
        key = keys[0]
        try:
            with self._dir([TMP_DIR], create=True) as tmp_fd:
                tmp = _write_tmp(tmp_fd, data)
                try:
                    outcomes = []
                    for key, (parts, name) in zip(keys, split):
                        outcomes.append(self._publish(tmp_fd, tmp, key, parts, name, data, overwrite))
                    return outcomes
                finally:
                    _unlink_quietly(tmp, tmp_fd)
        except LakeError:
            raise
        except OSError as exc:  # full disk, read-only folder, a file where a folder should be, ...
            raise self._error("write", key, exc) from exc

    def _publish(self, tmp_fd: int, tmp: str, key: str, parts: list[str], name: str, data: bytes, overwrite: bool) -> PutOutcome:
        with self._dir(parts, create=True) as dir_fd:
            try:
                # link() fails if the target exists (a link included, which it never follows):
                # an atomic create-only publish.
                os.link(tmp, name, src_dir_fd=tmp_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
            except FileExistsError:
                pass
            else:
                os.fsync(dir_fd)
                return PutOutcome.CREATED
            if self._holds(dir_fd, name, key, parts, data):
                return PutOutcome.IDENTICAL
            if not overwrite:
                raise ObjectExistsError(key)
            with self._lock(key):
                self._replace_at(tmp_fd, tmp, dir_fd, name)
            return PutOutcome.REPLACED

    def _replace_at(self, tmp_fd: int, tmp: str, dir_fd: int, name: str) -> None:
        """Atomically replace name (in dir_fd) with a copy of the temp file, which stays for other keys."""
        second = f"{uuid.uuid4().hex}.tmp"
        os.link(tmp, second, src_dir_fd=tmp_fd, dst_dir_fd=tmp_fd, follow_symlinks=False)
        try:
            os.replace(second, name, src_dir_fd=tmp_fd, dst_dir_fd=dir_fd)
        except BaseException:
            _unlink_quietly(second, tmp_fd)
            raise
        os.fsync(dir_fd)

    def swap(self, key: str, data: bytes, content_type: str, *, expect: bytes | None) -> None:
        """Replace key with data only if it holds `expect` (None: absent); ObjectChangedError otherwise.

        Writers in this and other processes are kept out by an exclusive flock on
        the key's lock file under .tmp/locks/, held from the comparison to the
        atomic rename (puts that replace and deletes take the same lock;
        create-only puts need none: link() never replaces). expect=None publishes
        with link(), so even a create-only put racing it cannot be overwritten.
        """
        parts, name = self._split(key)
        try:
            with self._dir([TMP_DIR], create=True) as tmp_fd, self._lock(key), self._dir(parts, create=True) as dir_fd:
                current = self._read_at(dir_fd, name, key, parts)
                if current != expect:
                    raise ObjectChangedError(key, self.url, _changed(current, expect))
                tmp = _write_tmp(tmp_fd, data)
                try:
                    if expect is None:
                        try:
                            os.link(tmp, name, src_dir_fd=tmp_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
                        except FileExistsError:
                            raise ObjectChangedError(key, self.url, "another writer created it a moment ago") from None
                    else:
                        os.replace(tmp, name, src_dir_fd=tmp_fd, dst_dir_fd=dir_fd)
                finally:
                    _unlink_quietly(tmp, tmp_fd)
                os.fsync(dir_fd)
        except LakeError:
            raise
        except OSError as exc:
            raise self._error("swap", key, exc) from exc

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        """An exclusive lock for key, across threads and processes (flock on its own open file)."""
        stripe = int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:4], "big") % LOCK_STRIPES
        with self._dir([TMP_DIR, LOCK_DIR], create=True) as locks:
            fd = os.open(f"{stripe:03d}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | _O_CLOEXEC, 0o666, dir_fd=locks)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _open_at(self, dir_fd: int, name: str, key: str, parts: Sequence[str]) -> int | None:
        """A descriptor of the regular file name in dir_fd (the caller closes it), None if absent.

        Refuses a link (never followed), a folder and anything else that is not a file.
        """
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._refuse_link(dir_fd, [*parts, name], len(parts))
            raise
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
                raise StoreError(f"cannot use {key!r} in {self.url}: it is {kind}, not an object")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _read_at(self, dir_fd: int, name: str, key: str, parts: Sequence[str]) -> bytes | None:
        fd = self._open_at(dir_fd, name, key, parts)
        if fd is None:
            return None
        try:
            return _read_all(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)

    def _holds(self, dir_fd: int, name: str, key: str, parts: Sequence[str], data: bytes) -> bool:
        """Whether name holds exactly data (sizes compared first, so a different file is rarely read)."""
        fd = self._open_at(dir_fd, name, key, parts)
        if fd is None:
            return False
        try:
            return os.fstat(fd).st_size == len(data) and _read_all(fd, len(data)) == data
        finally:
            os.close(fd)

    def get(self, key: str) -> bytes:
        parts, name = self._split(key)
        try:
            with self._dir(parts, create=False) as dir_fd:
                data = self._read_at(dir_fd, name, key, parts)
        except _Missing:
            data = None
        except LakeError:
            raise
        except OSError as exc:
            raise self._error("read", key, exc) from exc
        if data is None:
            raise ObjectNotFoundError(key)
        return data

    def exists(self, key: str) -> bool:
        parts, name = self._split(key)
        try:
            with self._dir(parts, create=False) as dir_fd:
                self._refuse_link(dir_fd, [*parts, name], len(parts))
                return stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except (_Missing, FileNotFoundError):
            return False
        except LakeError:
            raise
        except OSError as exc:
            raise self._error("check", key, exc) from exc

    def delete(self, key: str) -> None:
        """Remove the key (a link there is removed itself, never its target); absent keys are fine."""
        parts, name = self._split(key)
        try:
            with self._dir(parts, create=False) as dir_fd, self._lock(key):
                try:
                    os.unlink(name, dir_fd=dir_fd)
                except FileNotFoundError:
                    return
                os.fsync(dir_fd)
        except _Missing:
            return
        except LakeError:
            raise
        except OSError as exc:  # a read-only folder, a folder at the key, ...
            raise self._error("delete", key, exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        """Every key under the folder `prefix` ('' for all); links are listed, never followed."""
        folder = prefix.rstrip("/") if isinstance(prefix, str) else prefix
        parts = self._segments(folder, what="prefix") if folder else []
        try:
            with self._dir(parts, create=False) as fd:
                keys = self._walk(fd, "/".join(parts))
        except _Missing:
            return iter(())
        except LakeError:
            raise
        except OSError as exc:
            raise self._error("list", prefix or "/", exc) from exc
        return iter(keys)

    def _walk(self, top_fd: int, top: str) -> list[str]:
        """Keys below top_fd, depth first, names sorted; one descriptor per level (no recursion)."""
        keys: list[str] = []
        stack: list[tuple[int, str, list[os.DirEntry]]] = [(top_fd, top, _entries(top_fd))]
        try:
            while stack:
                fd, rel, entries = stack[-1]
                if not entries:
                    stack.pop()
                    if fd != top_fd:
                        os.close(fd)
                    continue
                entry = entries.pop()
                if not rel and entry.name == TMP_DIR:
                    continue
                key = f"{rel}/{entry.name}" if rel else entry.name
                if not entry.is_dir(follow_symlinks=False):
                    keys.append(key)  # files, and links to anything: get refuses links, validate reports them
                    continue
                try:
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    keys.append(key)  # swapped for a link or a file meanwhile
                    continue
                try:
                    stack.append((child, key, _entries(child)))
                except BaseException:
                    os.close(child)
                    raise
        finally:
            for fd, _, _ in stack:
                if fd != top_fd:
                    os.close(fd)
        return keys

    def leftover_temp_files(self) -> list[str]:
        """Temp files of writers that died before publishing (safe to delete once no writer runs)."""
        try:
            with self._dir([TMP_DIR], create=False) as fd, os.scandir(fd) as it:
                return sorted(e.name for e in it if e.name.endswith(".tmp") and e.is_file(follow_symlinks=False))
        except _Missing:
            return []
        except LakeError:
            raise
        except OSError as exc:
            raise self._error("list", TMP_DIR, exc) from exc


def _changed(current: bytes | None, expect: bytes | None) -> str:
    if current is None:
        return "it does not exist (another writer deleted it, or never created it)"
    if expect is None:
        return "it already exists (another writer created it)"
    return "it holds other bytes than expected (another writer replaced it)"


def _write_tmp(tmp_fd: int, data: bytes) -> str:
    """A new, fsynced temp file in tmp_fd holding data; removed again if anything fails."""
    name = f"{uuid.uuid4().hex}.tmp"
    fd = os.open(name, _TMP_FLAGS, 0o666, dir_fd=tmp_fd)
    try:
        try:
            view = memoryview(data).cast("B")
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        _unlink_quietly(name, tmp_fd)
        raise
    return name


def _unlink_quietly(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass  # already gone, or the folder turned read-only: leftover_temp_files reports it


def _entries(fd: int) -> list[os.DirEntry]:
    """A folder's entries, names sorted in reverse (popped from the end: ascending order)."""
    with os.scandir(fd) as it:
        return sorted(it, key=lambda e: e.name, reverse=True)


def _read_all(fd: int, size: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, max(size, 1 << 16))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
