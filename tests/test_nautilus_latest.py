"""`make test-latest`: which Python it picks for the newest NautilusTrader, and that it fails when there is none.

Run against fake interpreters on a bare PATH (nothing is installed; .venv-latest is not touched): a fake
`pythonX.Y` or pyenv version that exits 0 passes the Makefile's `sys.version_info >= (3, 12)` probe, one
that exits 1 fails it (as a pyenv shim of an unselected version does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="needs GNU make")


def _script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _machine(tmp_path: Path, *, on_path: dict[str, int], pyenv_versions: dict[str, int]) -> dict[str, str]:
    """An environment whose PATH holds only the fakes (name -> exit code) and the system tools."""
    bin_dir, root = tmp_path / "bin", tmp_path / "pyenv"
    for name, code in on_path.items():
        _script(bin_dir / name, f"exit {code}")
    for version, code in pyenv_versions.items():
        _script(root / "versions" / version / "bin" / "python3", f"exit {code}")
    _script(bin_dir / "pyenv", f'[ "$1" = root ] && echo "{root}"')
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_LATEST", "MAKEFLAGS", "MFLAGS")}
    env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    return env


def _python_latest(env: dict[str, str]) -> str:
    out = subprocess.run(
        [MAKE, "-s", "--no-print-directory", "-C", str(ROOT), "--eval", "show-python-latest: ; @echo '$(PYTHON_LATEST)'",
         "show-python-latest"],
        env=env, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def test_the_newest_python_that_runs_is_chosen(tmp_path):
    # 3.9.18 passes the (fake) probe too: only a version sort puts 3.13.1 before it ("3.9" > "3.13" as text).
    env = _machine(tmp_path, on_path={"python3.13": 1, "python3.12": 1},
                   pyenv_versions={"3.11.9": 1, "3.12.3": 0, "3.13.1": 0, "3.9.18": 0})
    assert _python_latest(env) == str(tmp_path / "pyenv/versions/3.13.1/bin/python3")


def test_a_python_on_path_comes_before_pyenv_versions(tmp_path):
    env = _machine(tmp_path, on_path={"python3.13": 1, "python3.12": 0}, pyenv_versions={"3.13.1": 0})
    assert _python_latest(env) == str(tmp_path / "bin/python3.12")


def test_without_python_312_make_test_latest_fails_and_says_why(tmp_path):
    env = _machine(tmp_path, on_path={"python3.13": 1, "python3.12": 1}, pyenv_versions={"3.11.9": 1})
    assert _python_latest(env) == ""
    venv = tmp_path / "venv-latest"
    proc = subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(ROOT), "test-latest", f"VENV_LATEST={venv}"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "test-latest: no Python >= 3.12 found" in proc.stderr and "PYTHON_LATEST=" in proc.stderr
    assert not venv.exists()  # failed before creating anything, and ran no test
    assert "passed" not in proc.stdout
