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
    """Every file below root, as sorted relative POSIX paths."""
    from pathlib import Path

    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []
