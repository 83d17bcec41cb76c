"""Secrets out of everything written.

Works on plain JSON values (encode.to_jsonable has already turned configs, dataclasses, msgspec Structs,
pydantic models ... into dicts and lists), so what is redacted is exactly what is written:

- `redact`: the value of every secret-looking key becomes '***' whatever its length (strings, numbers,
  whole sub-documents; None and booleans stay), and passwords inside any string (URL userinfo
  `scheme://user:pw@host`, `password=...` in DSNs and query strings, `Authorization: Bearer ...`)
  become '***'. Every value so removed is collected.
- `scrub_value` / `scrub_bytes`: every collected value of at least MIN_SECRET_CHARS characters is
  replaced wherever else it appears (free text in the summary, the config, the log, the runs row's
  summary_json), in every form it can be written in: raw, escaped as json.dumps writes it (with and
  without ensure_ascii), and in UTF-16 LE/BE for a log given as bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import unquote

REDACTED = "***"
MIN_SECRET_CHARS = 4  # shorter values would scrub ordinary words and numbers out of the text

# A key is secret when it contains one of these ...
_SECRET_SUBSTRING = re.compile(
    r"api[_-]?key|secret|passw(or)?d|pass[_-]?phrase|private[_-]?key|credential|token|auth[_-]?key|access[_-]?key"
    r"|authori[sz]ation|bearer|cookie",
    re.IGNORECASE,
)
# ... or one of its words (split at separators, camelCase and digits) is one of these ...
_SECRET_WORDS = {
    "pass", "passwd", "pwd", "password", "passphrase", "auth", "oauth", "sessionid", "cookie", "cookies",
    "bearer", "jwt", "signature", "apikey", "secretkey", "privatekey", "accesskey", "authkey", "signingkey", "dsn", "otp",
}
# ... or two consecutive words are one of these.
_SECRET_PAIRS = {
    ("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("auth", "key"), ("signing", "key"),
    ("session", "id"), ("session", "key"), ("session", "token"), ("session", "cookie"), ("client", "secret"),
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z]+")


def is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    if _SECRET_SUBSTRING.search(key):
        return True
    words = _WORD.findall(_CAMEL.sub("_", key).lower())
    if words == ["session"]:  # but not trading_session, session_start ...
        return True
    return any(w in _SECRET_WORDS for w in words) or any(pair in _SECRET_PAIRS for pair in zip(words, words[1:]))


# Passwords inside text are found from cheap hints (case-insensitive substrings), then read exactly at each
# hint. A long text (a log) is searched for all hints in one Aho-Corasick pass (polars' find_many); a
# case-insensitive regex alternation over it costs about 20x more.
_HINTS = ("://", "pass", "pwd", "secret", "token", "key", "auth", "session", "cookie", "bearer", "credential", "dsn",
          "otp", "jwt", "signature")
_LONG_TEXT = 1 << 16  # characters; shorter text is searched with str.find per hint
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# URL authority: up to the first '/', '?', '#', space or quote; its userinfo runs to the LAST '@' in it,
# so an unencoded '@' in a password is still covered.
_AUTHORITY = re.compile(r"[^\s/?#\"'<>]*")
# After a secret-looking key: `=value`, `: value`, `": "value"`, `='value'` (a Python repr), `\": \"v\"`.
_PAIR_TAIL = re.compile(
    r"""(\\?["']?)[ \t]*[=:][ \t]*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\\"(?:[^"\\]|\\[^"])*\\"|[^\s;&,'"<>(){}\[\]]+)"""
)
# After `Authorization` or `Bearer`: an optional separator, an optional scheme word, then the credential.
_AUTH_TAIL = re.compile(
    r"""(\\?["']?)[ \t]*[=:]?[ \t]*["']?(?:(?:[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|[Dd]igest)[ \t]+)?([A-Za-z0-9._~+/=:-]{4,})"""
)
_AUTH_SCHEMES = {"bearer", "basic", "token", "digest"}


def redact_text(text: str, found: set[str]) -> str:
    """The text with passwords in URLs, secret `key=value` pairs and Authorization headers replaced by '***'.

    Covers `scheme://user:pw@host` (DSNs and URLs), `password=...` (libpq DSNs, ODBC strings, query strings),
    `"api_secret": "..."` (JSON), `api_key='...'` (a Python repr such as a NautilusTrader config's),
    `Authorization: Bearer ...`. The values removed are added to `found`.
    """
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order, not overlapping
    done = 0
    for start in _hint_positions(text):
        if start < done:
            continue
        if text.startswith("://", start):
            edit = _url_password(text, start, start + 3, found)
        else:
            edit = _pair_value(text, start, found)
        if edit is not None and edit[0] >= done:
            edits.append(edit)
            done = edit[1]
    if not edits:
        return text
    out, last = [], 0
    for start, end, replacement in edits:
        out += [text[last:start], replacement]
        last = end
    out.append(text[last:])
    return "".join(out)


def _hint_positions(text: str) -> list[int]:
    """Where a hint starts (character offsets, ascending)."""
    if len(text) < _LONG_TEXT:
        low = text.lower()
        if len(low) != len(text):  # a character whose lowercase is longer (e.g. 'İ'): lower ASCII only
            low = text.translate(_ASCII_LOWER)
        hits = set()
        for hint in _HINTS:
            at = low.find(hint)
            while at != -1:
                hits.add(at)
                at = low.find(hint, at + 1)
        return sorted(hits)
    import polars as pl

    found = pl.Series([text]).str.find_many(list(_HINTS), ascii_case_insensitive=True, overlapping=True)[0]
    positions = sorted(set(found.to_list()))  # byte offsets in UTF-8
    if not positions or text.isascii():
        return positions
    data, chars, last, out = text.encode("utf-8"), 0, 0, []
    for byte in positions:
        chars += len(data[last:byte].decode("utf-8", "replace"))
        last = byte
        out.append(chars)
    return out


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _url_password(text: str, start: int, end: int, found: set[str]) -> tuple[int, int, str] | None:
    scheme = start
    while scheme > 0 and text[scheme - 1] in _SCHEME_CHARS:
        scheme -= 1
    if scheme == start or not text[scheme].isalpha():
        return None
    authority = _AUTHORITY.match(text, end)
    userinfo, at, _ = authority.group().rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon or not password or password == REDACTED:
        return None
    _add(password, found)
    _add(unquote(password), found)
    password_start = end + len(user) + 1
    return password_start, password_start + len(password), REDACTED


def _pair_value(text: str, start: int, found: set[str]) -> tuple[int, int, str] | None:
    key_start, key_end = start, start
    while key_start > 0 and text[key_start - 1] in _KEY_CHARS:
        key_start -= 1
    while key_end < len(text) and text[key_end] in _KEY_CHARS:
        key_end += 1
    key = text[key_start:key_end].lower()
    if key.startswith("authori") or key == "bearer":
        match = _AUTH_TAIL.match(text, key_end)
        group = 2
    elif is_secret_key(key):
        match = _PAIR_TAIL.match(text, key_end)
        group = 2
    else:
        return None
    if match is None:
        return None
    value = match.group(group)
    inner, quote = value, ""
    for q in ('\\"', '"', "'"):
        if len(value) >= 2 * len(q) and value.startswith(q) and value.endswith(q):
            inner, quote = value[len(q) : -len(q)], q
            break
    if not inner or inner == REDACTED or inner.lower() in _AUTH_SCHEMES:
        return None
    _add(inner, found)
    _add(unquote(inner), found)
    return match.start(group), match.end(group), f"{quote}{REDACTED}{quote}"


def redact(value: Any, found: set[str] | None = None) -> Any:
    """A copy of a plain JSON value with secrets replaced by '***' (see the module doc); removed values go to `found`."""
    found = found if found is not None else set()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if is_secret_key(k) and v is not None and not isinstance(v, bool):
                _collect(v, found)
                out[k] = REDACTED
            else:
                out[k] = redact(v, found)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, found) for v in value]
    if isinstance(value, str):
        return redact_text(value, found)
    return value


def _add(secret: str, found: set[str]) -> None:
    if secret and secret != REDACTED:
        found.add(secret)


def _collect(value: Any, found: set[str]) -> None:
    """Every string and number below a secret key, as the text it would be written as."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        _add(value, found)
        redact_text(value, found)  # a DSN under a secret key: its password alone is scrubbed elsewhere too
    elif isinstance(value, (int, float)):
        _add(json.dumps(value), found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, found)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, found)


def scrubbable(secrets: Iterable[str]) -> list[str]:
    """What to search text for: each secret worth it (long enough, valid Unicode), longest first, in every
    form text may show it (raw, and escaped as json.dumps writes it with ensure_ascii on and off)."""
    usable = {s for s in secrets if len(s) >= MIN_SECRET_CHARS and s != REDACTED and is_unicode(s)}
    forms: dict[str, None] = {}
    for secret in sorted(usable, key=lambda s: (-len(s), s)):
        forms.update(dict.fromkeys([secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]]))
    return list(forms)


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scrub_text(text: str, secrets: list[str]) -> str:
    """Every form of every secret (`secrets` as scrubbable gives them) replaced by '***'."""
    for form in secrets:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def scrub_value(value: Any, secrets: list[str]) -> Any:
    """A plain JSON value with every secret removed from its strings, keys and numbers.

    A number whose text contains a secret becomes the scrubbed text (a string): no byte of the secret is
    written, at the price of that value's type.
    """
    if not secrets:
        return value
    if isinstance(value, dict):
        return {scrub_text(k, secrets): scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = json.dumps(value)
        scrubbed = scrub_text(text, secrets)
        return value if scrubbed == text else scrubbed
    return value


def redact_log(log: bytes | str, found: set[str]) -> bytes:
    """The log's bytes with the passwords it shows itself (URLs, secret `key=value` pairs, Authorization
    headers) replaced; the values removed go to `found`, to be scrubbed everywhere.

    Text is searched as it is and written as UTF-8 (UnicodeEncodeError, before any search, for text that
    is not valid Unicode). Bytes keep their encoding: UTF-8, UTF-16 with or without a byte-order mark,
    else read byte for byte as Latin-1, which any ASCII-compatible encoding survives unchanged.
    """
    if isinstance(log, str):
        data = log.encode("utf-8")
        redacted = redact_text(log, found)
        return data if redacted is log else redacted.encode("utf-8")
    bom, text, codec = _decode_log(log)
    redacted = redact_text(text, found)
    return log if redacted is text else bom + redacted.encode(codec)


_BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _decode_log(data: bytes) -> tuple[bytes, str, str]:
    """(byte-order mark, text, codec) of a log: UTF-16 when it looks like it, UTF-8, else Latin-1 (lossless)."""
    candidates = [(bom, codec) for bom, codec in _BOMS if data.startswith(bom)]
    if len(data) % 2 == 0 and data:  # UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte
        if data[1::2].count(0) > len(data) // 4:
            candidates.append((b"", "utf-16-le"))
        if data[0::2].count(0) > len(data) // 4:
            candidates.append((b"", "utf-16-be"))
    candidates.append((b"", "utf-8"))
    for bom, codec in candidates:
        try:
            return bom, data[len(bom):].decode(codec), codec
        except UnicodeDecodeError:
            continue
    return b"", data.decode("latin-1"), "latin-1"


def scrub_bytes(data: bytes, secrets: list[str]) -> bytes:
    """A log's bytes with every secret replaced, as UTF-8 (raw and JSON-escaped), UTF-16 LE and BE, and
    (for a secret with non-ASCII letters) Latin-1, the legacy encoding a log may come in."""
    replacements = []
    for form in secrets:
        for codec in ("utf-8", "utf-16-le", "utf-16-be", "latin-1"):
            if codec == "latin-1" and form.isascii():
                continue  # the same bytes as UTF-8
            try:
                replacements.append((form.encode(codec), REDACTED.encode(codec)))
            except UnicodeEncodeError:
                continue
    for old, new in replacements:
        if old in data:
            data = data.replace(old, new)
    return data
