"""execution-lake: finished NautilusTrader backtests as typed, validated runs in the execution store."""

from lake.errors import ConflictError, DestinationError, LakeError, ValidationError
from lake.run import Run
from lake.write import WriteReport, write_run, write_run_async
from lake.write.check import CheckReport, check_run

from lake.version import __version__

# Imported on first use: nautilus_trader and the GCS client are optional.
_LAZY = {
    "from_nautilus": ("lake.nautilus", "from_nautilus"),
    "GCSResultUploader": ("lake.write.uploader", "GCSResultUploader"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lake' has no attribute {name!r}")


__all__ = [
    "__version__",
    "Run",
    "write_run",
    "write_run_async",
    "WriteReport",
    "check_run",
    "CheckReport",
    "from_nautilus",
    "GCSResultUploader",
    "LakeError",
    "ValidationError",
    "ConflictError",
    "DestinationError",
]
