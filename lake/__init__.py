"""execution-lake: finished NautilusTrader backtests as typed, validated runs in the execution store."""

from lake.errors import ConflictError, DestinationError, LakeError, ValidationError
from lake.version import __version__

# Imported on first use: the write path loads Pandera and polars (about 0.8 s), which a
# query process never needs; nautilus_trader and the GCS client are optional.
_LAZY = {
    "Run": ("lake.run", "Run"),
    "write_run": ("lake.write", "write_run"),
    "write_run_async": ("lake.write", "write_run_async"),
    "WriteReport": ("lake.write", "WriteReport"),
    "check_run": ("lake.write.check", "check_run"),
    "CheckReport": ("lake.write.check", "CheckReport"),
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
