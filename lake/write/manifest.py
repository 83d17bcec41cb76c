"""The manifest, backtest_results/{run_id}/_manifest.json: a run's claim and integrity record.

One writer (manifest_bytes) and one reader (read_manifest) for the commit,
push and `lake validate`: every shape a file can take is either a manifest or
a list of problems that name what is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from lake import layout
from lake.version import __version__
from lake.write.encode import json_bytes

ENTRY_SHAPE = '{"size": int, "crc32c": str, "rows": int or null}'


@dataclass
class Manifest:
    """What a manifest says: created_at, and key -> entry (None for a malformed entry); problems found reading it."""

    created_at: dt.datetime | None = None
    objects: dict[str, dict | None] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def manifest_bytes(run_id: str, created_at: dt.datetime, entries: dict) -> bytes:
    manifest = {"run_id": run_id, "created_at": created_at, "writer_version": __version__, "objects": entries}
    return json_bytes(manifest, "manifest")


def read_manifest(data: bytes, run_id: str) -> Manifest:
    """The manifest in `data`; its `problems` name every way it is not one (objects None: unusable)."""
    key = layout.manifest_key(run_id)
    manifest = Manifest()

    def unusable(why: str) -> Manifest:
        manifest.problems.append(f"{key}: {why}; the run's objects cannot be checked against it")
        return manifest

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return unusable(f"not valid UTF-8 JSON ({exc})")
    if not isinstance(doc, dict):
        return unusable(f"expected a JSON object with run_id, created_at and objects, got {_shape(doc)}")
    if doc.get("run_id") != run_id:
        manifest.problems.append(f"{key}: run_id is {short_repr(doc.get('run_id'))}, expected {run_id!r}")
    created_at = doc.get("created_at")
    try:
        manifest.created_at = dt.datetime.fromisoformat(created_at) if isinstance(created_at, str) else None
    except ValueError:
        pass
    if manifest.created_at is None:
        manifest.problems.append(f"{key}: created_at is {short_repr(created_at)}, expected an ISO 8601 time")
    objects = doc.get("objects")
    if not isinstance(objects, dict):
        shown = _shape(objects) if "objects" in doc else "missing"
        return unusable(f"objects is {shown}, expected a JSON object of key -> entry")
    manifest.objects = {}
    for obj_key, entry in objects.items():
        valid = _valid_entry(entry)
        manifest.objects[obj_key] = entry if valid else None
        if not valid:
            manifest.problems.append(f"{key}: the entry of {short_repr(obj_key)} is {short_repr(entry)}, expected {ENTRY_SHAPE}")
    return manifest


def _valid_entry(entry: object) -> bool:
    def count(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    return (
        isinstance(entry, dict)
        and count(entry.get("size"))
        and isinstance(entry.get("crc32c"), str)
        and "rows" in entry
        and (entry["rows"] is None or count(entry["rows"]))
    )


def _shape(value: object) -> str:
    kind = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value))
    if kind is None:
        kind = "a number" if isinstance(value, (int, float)) else type(value).__name__
    return f"{kind} ({short_repr(value)})"


def short_repr(value: object, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
