import pytest

pytest_plugins = ["tests.support.gcs_emulator"]  # the fake-gcs-server fixtures

from lake.synthetic import synthetic_run


@pytest.fixture
def small_run():
    """A consistent 60-fill run; call with a run_id (and a seed)."""

    def make(run_id: str = "run-small", seed: int = 1, **kw):
        return synthetic_run(run_id, kw.pop("n_fills", 60), seed, **kw)

    return make


def files_under(root) -> list[str]:
    """Every file below root, as sorted relative POSIX paths (the store's own .tmp/: temp and lock files, left out)."""
    from pathlib import Path

    root = Path(root)
    if not root.exists():
        return []
    return sorted(
        rel for p in root.rglob("*") if p.is_file() and not (rel := p.relative_to(root).as_posix()).startswith(".tmp/")
    )
