"""Every rule that makes a key secret, and every structure the redaction walks, value by value.

A key is secret when it contains one of the secret spellings (SPELLINGS, e.g. `auth_key` inside
`x_auth_keyz`), when one of its words is a secret word (`pwd` in `db_pwd`), or two of its words a secret pair
(`session.id`). Each spelling, word and pair is tried where only its own rule can see it, and the spellings
the code accepts are compared with the list here, so a rule dropped or added without its case fails. Then
the walk: a secret key's value of every kind (text, numbers, documents, lists, tuples; null and flags
stay), secret keys inside every container, every value found scrubbed from keys, text and numbers elsewhere
and from log bytes in each encoding; and end to end, secrets inside sets, named tuples, SecretBytes,
objects with dict(), all absent from every written byte.
"""

from __future__ import annotations

import collections
import json
import re._parser as sre_parse
from pathlib import Path

import pytest
from pydantic import SecretBytes

import lake
from lake import layout
from lake.synthetic import synthetic_run
from lake.write.redact import (
    _SECRET_PAIRS,
    _SECRET_SUBSTRING,
    _SECRET_WORDS,
    REDACTED,
    is_secret_key,
    redact,
    scrub_bytes,
    scrub_value,
    scrubbable,
)

# Every spelling the secret-key pattern accepts (docs/protocol.md names api_key, secret, password, token,
# passphrase, private_key, credentials, passwd, auth_key, access_key).
SPELLINGS = sorted([
    "apikey", "api_key", "api-key", "secret", "password", "passwd", "passphrase", "pass_phrase", "pass-phrase",
    "privatekey", "private_key", "private-key", "credential", "token", "authkey", "auth_key", "auth-key",
    "accesskey", "access_key", "access-key", "authorisation", "authorization", "bearer", "cookie",
])
WORDS = sorted([
    "pass", "passwd", "pwd", "password", "passphrase", "auth", "oauth", "sessionid", "cookie", "cookies", "bearer",
    "jwt", "signature", "apikey", "secretkey", "privatekey", "accesskey", "authkey", "signingkey", "dsn", "otp",
])
PAIRS = sorted([
    ("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("auth", "key"), ("signing", "key"),
    ("session", "id"), ("session", "key"), ("session", "token"), ("session", "cookie"), ("client", "secret"),
])


def _spellings(tree) -> set[str]:
    """Every string a regex of literals, character sets, optional parts and alternatives matches."""
    out = {""}
    for op, arg in tree:
        name = str(op)
        if name == "LITERAL":
            options = {chr(arg)}
        elif name == "IN":
            options = {chr(v) for o, v in arg if str(o) == "LITERAL"}
        elif name == "MAX_REPEAT" and arg[:2] == (0, 1):
            options = {""} | _spellings(arg[2])
        elif name == "SUBPATTERN":
            options = _spellings(arg[3])
        elif name == "BRANCH":
            options = set().union(*(_spellings(b) for b in arg[1]))
        else:
            raise AssertionError(f"a secret-key pattern this test cannot spell out: {op} {arg}")
        out = {a + b for a in out for b in options}
    return out


def test_the_pattern_accepts_exactly_the_spellings_listed_here():
    assert sorted(_spellings(sre_parse.parse(_SECRET_SUBSTRING.pattern))) == SPELLINGS
    assert sorted(_SECRET_WORDS) == WORDS and sorted(_SECRET_PAIRS) == PAIRS


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_secret_spelling_anywhere_in_a_key(spelling):
    # glued inside other letters: no word or pair rule can see it, only the spelling itself
    for key in (f"x{spelling}z", f"X{spelling.upper()}Z", f"my{spelling.title().replace('-', '')}value", spelling):
        assert is_secret_key(key), key


@pytest.mark.parametrize("word", WORDS)
def test_a_secret_word_of_a_key(word):
    for key in (word, f"db_{word}", f"{word}.x", f"my{word.title()}", f"{word.upper()}_2"):
        assert is_secret_key(key), key


@pytest.mark.parametrize("pair", PAIRS, ids="_".join)
def test_a_secret_pair_of_words_of_a_key(pair):
    first, second = pair
    for key in (f"{first}.{second}", f"x {first} {second}", f"{first}{second.title()}Name", f"{first.upper()}.{second.upper()}"):
        assert is_secret_key(key), key


@pytest.mark.parametrize("key", ["session", "Session", "SESSION"])
def test_session_alone_is_secret(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["trading_session", "session_start", "passenger", "bypass", "compass", "author",
                                 "keyboard", "api", "key", "private", "access_level", "signing", "client_id",
                                 "pass_count", "x_passes", 42, None, ("api", "key")])
def test_near_misses_are_not_secret(key):
    assert is_secret_key(key) is (key == "pass_count")  # 'pass' is a word of pass_count


def test_every_listed_key_is_redacted_in_the_written_config(tmp_path):
    keys = sorted({*SPELLINGS, *WORDS, *(f"{a}.{b}" for a, b in PAIRS), "session", "x_auth_keyz", "myaccesskeyid"})
    secrets = {key: f"value-{i:03d}-of-{key}" for i, key in enumerate(keys)}
    base = synthetic_run("keys", 10, 1)
    lake.write_run(lake.Run("keys", base.summary, *base.tables().values(), config={"deep": [secrets]},
                            log="\n".join(secrets.values())), tmp_path)
    config = json.loads((tmp_path / layout.config_key("keys")).read_text())
    assert config == {"deep": [dict.fromkeys(keys, REDACTED)]}
    assert (tmp_path / layout.log_key("keys")).read_text() == "\n".join([REDACTED] * len(keys))
    for path in (p for p in Path(tmp_path).rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not [s for s in secrets.values() if s.encode() in data], path


# -- the walk ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, redacted, found",
    [
        ("tok-1234", REDACTED, {"tok-1234"}),
        (73519264, REDACTED, {"73519264"}),
        (0.918273645, REDACTED, {"0.918273645"}),
        (-5, REDACTED, {"-5"}),
        ({"a": "x-secret-1", "b": [7, "y-2222"], "c": None, "d": False}, REDACTED, {"x-secret-1", "7", "y-2222"}),
        (["l-1111", ("t-2222", {"k": "d-3333"})], REDACTED, {"l-1111", "t-2222", "d-3333"}),
        ("postgresql://u:pw-9999@h/db", REDACTED, {"postgresql://u:pw-9999@h/db", "pw-9999"}),
        ("", REDACTED, set()),
        (None, None, set()),  # nothing to hide
        (True, True, set()),
        (False, False, set()),
    ],
    ids=["str", "int", "float", "negative", "dict", "list-tuple", "dsn", "empty", "null", "true", "false"],
)
def test_a_secret_keys_value_of_every_kind(value, redacted, found):
    got: set[str] = set()
    assert redact({"api_token": value, "other": 1}, got) == {"api_token": redacted, "other": 1}
    assert got == found


def test_secret_keys_inside_every_container():
    doc = {
        "list": [{"password": "a-1111"}, [{"secret": "b-2222"}]],
        "tuple": ({"token": "c-3333"}, "plain"),
        "deep": {"x": {"y": {"private_key": "d-4444"}}},
        "text": ["Authorization: Bearer e-5555", "ok"],
        "number": 3,
        "flag": True,
        "none": None,
    }
    found: set[str] = set()
    assert redact(doc, found) == {
        "list": [{"password": REDACTED}, [{"secret": REDACTED}]],
        "tuple": [{"token": REDACTED}, "plain"],  # a tuple is walked like a list
        "deep": {"x": {"y": {"private_key": REDACTED}}},
        "text": ["Authorization: Bearer ***", "ok"],
        "number": 3,
        "flag": True,
        "none": None,
    }
    assert found == {"a-1111", "b-2222", "c-3333", "d-4444", "e-5555"}


def test_found_values_are_scrubbed_from_keys_text_and_numbers():
    forms = scrubbable({"s3cr3t-ü", "73519264", "ab", REDACTED})  # too short and '***' are left out
    assert forms == ["73519264", "s3cr3t-ü", "s3cr3t-\\u00fc"]
    doc = {"note s3cr3t-ü": ["x s3cr3t-ü y", 73519264, 1073519264, 7, 1.5, True, None], "esc": "s3cr3t-\\u00fc"}
    assert scrub_value(doc, forms) == {
        "note ***": ["x *** y", "***", "10***", 7, 1.5, True, None],  # a number with a secret becomes text
        "esc": "***",
    }
    assert scrub_value(doc, []) is doc


@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le", "utf-16-be", "latin-1"])
def test_found_values_are_scrubbed_from_log_bytes_in_each_encoding(codec):
    forms = scrubbable({"pässwört-1", "plain-secret"})
    log = "a pässwört-1 b plain-secret c".encode(codec)
    assert scrub_bytes(log, forms) == "a *** b *** c".encode(codec)


# -- end to end: the structures a config may come in ---------------------------------------------------


class WithDict:
    """A config object that only offers dict() (pydantic v1 style)."""

    def __init__(self, **fields):
        self._fields = fields

    def dict(self):
        return dict(self._fields)


Pair = collections.namedtuple("Pair", ["name", "secret"])


def test_secrets_in_sets_named_tuples_secret_bytes_and_dict_objects_reach_no_byte(tmp_path):
    config = {
        "set": {("token", "set-secret-1111")},  # a set of pairs: written as a list, nothing to redact by key ...
        "frozen": frozenset({"plain"}),
        "named": Pair("n", "named-secret-2222"),  # a named tuple is a list: its values carry no key
        "bytes_key": SecretBytes(b"bytes-secret-3333"),
        "v1": WithDict(api_key="v1-secret-4444", fast=10),
        "tuple_of_dicts": ({"password": "tuple-secret-5555"},),
    }
    base = synthetic_run("walk2", 10, 1)
    lake.write_run(lake.Run("walk2", base.summary, *base.tables().values(), config=config,
                            log="bytes-secret-3333 v1-secret-4444 tuple-secret-5555"), tmp_path)
    written = json.loads((tmp_path / layout.config_key("walk2")).read_text())
    assert written == {
        "set": [["token", "set-secret-1111"]],
        "frozen": ["plain"],
        "named": ["n", "named-secret-2222"],
        "bytes_key": REDACTED,
        "v1": {"api_key": REDACTED, "fast": 10},
        "tuple_of_dicts": [{"password": REDACTED}],
    }
    assert (tmp_path / layout.log_key("walk2")).read_text() == "*** *** ***"
    hidden = [b"bytes-secret-3333", b"v1-secret-4444", b"tuple-secret-5555"]
    for path in (p for p in Path(tmp_path).rglob("*") if p.is_file()):
        assert not [s for s in hidden if s in path.read_bytes()], path
