"""Secrets out of everything written: secret-looking keys redacted, their values scrubbed from text."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"api[_-]?key|secret|passw(or)?d|pass[_-]?phrase|private[_-]?key|credential|token|auth[_-]?key|access[_-]?key",
    re.IGNORECASE,
)


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def redact(value: Any, found: set[str] | None = None) -> Any:
    """A copy with the value of every secret-looking key replaced by '***', at any depth.

    The replaced string values are added to `found`, so they can also be scrubbed
    from free text such as the execution log.
    """
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if is_secret_key(k) and v is not None:
                if found is not None:
                    _collect_strings(v, found)
                out[k] = REDACTED
            else:
                out[k] = redact(v, found)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, found) for v in value]
    return value


def _collect_strings(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        if len(value) >= 4:  # shorter strings would scrub ordinary words
            found.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_strings(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_strings(v, found)


def scrub(data: bytes, secrets: set[str]) -> bytes:
    """Replace every secret value found anywhere in the bytes (UTF-8) by '***', longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        data = data.replace(secret.encode("utf-8"), REDACTED.encode("utf-8"))
    return data
