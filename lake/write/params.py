"""A run's parameters and tags as the runs row writes them: params_json and tags_json.

Parameters are flat, {"<strategy_id>.<field>": value}, so SQL reads one with
JSON_VALUE(params_json, '$."<key>"'): a key may hold no '"', '\\' or control character (any
other key can be quoted that way). Values become plain JSON (to_jsonable: Decimal as
text, enums by name ...); a list or an object becomes its JSON text, so every value is
a JSON scalar. Secrets are redacted by the same rules as the config (a secret-looking
key's value is '***', passwords inside text too) before any value is turned into text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from lake.errors import Failure
from lake.write.encode import to_jsonable
from lake.write.redact import redact, scrub_value

MAX_KEY_CHARS = 256
_BAD_KEY = re.compile(r'["\\\x00-\x1f\x7f]')


def plain_params(params: Any, secrets: set[str], failures: list[Failure]) -> dict[str, Any] | None:
    """The parameters as flat plain JSON, secrets redacted (their values added to `secrets`); None after
    appending a Failure per bad key or value (table `params`, column the key)."""
    if not isinstance(params, Mapping):
        failures.append(Failure("params", None, "type", f"params must be a mapping of name -> value, got {type(params).__name__}"))
        return None
    before = len(failures)
    for key in params:
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS or _BAD_KEY.search(key):
            failures.append(Failure(
                "params", repr(key)[:80], "key",
                f"a parameter name must be non-blank text of at most {MAX_KEY_CHARS} characters without a double quote, "
                "a backslash or a control character (it is read back as JSON_VALUE(params_json, '$.\"<key>\"'))",
            ))
    errors: list[str] = []
    plain = to_jsonable(dict(params), "params", secrets, errors)
    for error in errors:
        path, _, problem = error.partition(": ")
        failures.append(Failure("params", path[len("params") :].lstrip(".") or None, "json", problem or error))
    if len(failures) > before:
        return None
    return {key: _scalar(value) for key, value in redact(plain, secrets).items()}


def _scalar(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")) if isinstance(value, (dict, list)) else value


def runs_columns(experiment: str | None, tags: Mapping[str, str] | None, params: dict | None, secrets: list[str],
                 failures: list[Failure]) -> dict[str, str | None]:
    """experiment, tags_json and params_json of the runs row. `secrets` (as scrubbable gives them) are the values
    found under secret keys anywhere in the run: scrubbed from the parameters, refused in a tag."""
    if tags:
        for name, value in tags.items():
            if scrub_value(value, secrets) != value:
                failures.append(Failure(
                    "tags", name, "secret",
                    "the value holds a value found under a secret key of the summary, config, log or params; "
                    "tags are written in the clear, so it is refused",
                ))
    return {
        "experiment": experiment,
        "tags_json": _json_text(tags) if tags else None,
        "params_json": _json_text(scrub_value(params, secrets)) if params else None,
    }


def _json_text(value: Mapping) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
