"""No secret reaches a written byte: whatever structure carries it, whatever key names it, whatever encoding.

Secrets are planted under every kind of secret-looking key, as strings, integers and floats, inside every
kind of structure a config may hold (dict, list, tuple, dataclass, msgspec Struct such as a NautilusTrader
BinanceExecClientConfig, pydantic model with SecretStr, attrs class, Mapping, an object with to_dict()),
as passwords inside DSNs and URLs, and echoed in the summary's free text and in the log (raw, JSON-escaped
as json.dumps writes it with and without ensure_ascii, and UTF-16). Then every file of the lake folder is
searched for each secret in every encoding, Parquet files also decoded.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from pathlib import Path

import attrs
import msgspec
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, SecretStr

import lake
from lake import layout
from lake.synthetic import synthetic_run
from lake.write import plan_run
from lake.write.redact import REDACTED, is_secret_key, redact, redact_text

# -- the secrets (each distinctive, so a hit is never an accident) ----------------------------------

S = {
    "nautilus_api_key": "NTKEY-4fa1b2c3d4e5",
    "nautilus_api_secret": "NTSEC-9e8d7c6b5a41",
    "dict_password": "dict-pw-Zq81x",
    "camel_apiKey": "camel-ak-77Yt3",
    "pwd": "pwd-value-6642",
    "pass": "pass-value-1198",
    "auth": "auth-value-5531",
    "authorization_header": "Bearer-less-tok-8823",
    "cookie": "sid=ck-88123abc",
    "session": "sess-7781-qwe",
    "bearer": "bearer-tok-0091",
    "x_api_key": "xak-5518-mnb",
    "list_token": "list-token-4410",
    "tuple_secret": "tuple-secret-3371",
    "dataclass_secret": "dc-secret-8812",
    "pydantic_secretstr": "pyd-secret-5590",
    "pydantic_password": "pyd-password-2217",
    "attrs_private_key": "attrs-pk-6653",
    "mapping_credential": "map-cred-4462",
    "to_dict_access_key": "tdk-access-9913",
    "nested_credentials": "nested-cred-7725",
    "escape_chars": 'q"uo\\te-é€-😀-sec',
    "non_ascii": "pässwörd-ünï-2231",
    "dsn_password": "pg-Pw0rd-9931",
    "url_password": "http-pass-7716",
    "libpq_password": "kw-secret-5512",
    "query_api_key": "qk-api-3302",
    "header_token": "hdr-token-8821",
    "summary_secret": "summary-sec-6611",
    "log_only_dsn": "logdsn-pw-4471",
    "struct_passphrase": "struct-pass-2201",
    "nested_credentials_list": "nested-cred-7725-2",
}
INT_SECRET = 73519264  # under api_secret_int
FLOAT_SECRET = 0.918273645  # under token_float
SHORT_SECRET = "ab1"  # under a secret key: redacted in the JSON; too short to scrub from free text
SECRETS = [*S.values(), str(INT_SECRET), json.dumps(FLOAT_SECRET)]


# -- every structure kind ------------------------------------------------------------------------------


@dataclasses.dataclass
class DataclassConfig:
    name: str
    client_secret: str
    inner: dict


class StructConfig(msgspec.Struct):
    venue: str
    api_passphrase: str


class PydanticConfig(BaseModel):
    url: str
    api_key: SecretStr
    password: str


@attrs.define
class AttrsConfig:
    host: str
    private_key: str


class ReadOnlyMapping(Mapping):
    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class ToDict:
    def __init__(self, access_key):
        self.access_key = access_key

    def to_dict(self):
        return {"kind": "to_dict", "access_key": self.access_key}


def planted_config() -> dict:
    from nautilus_trader.adapters.binance.config import BinanceExecClientConfig

    return {
        "exec_client": BinanceExecClientConfig(api_key=S["nautilus_api_key"], api_secret=S["nautilus_api_secret"]),
        "db": {"password": S["dict_password"], "apiKey": S["camel_apiKey"], "pwd": S["pwd"], "pass": S["pass"]},
        "http": {
            "auth": S["auth"],
            "Authorization": S["authorization_header"],
            "cookie": S["cookie"],
            "session": S["session"],
            "bearer": S["bearer"],
            "x-api-key": S["x_api_key"],
            "headers": [f"Authorization: Bearer {S['header_token']}", "Accept: application/json"],
        },
        "feeds": [{"token": S["list_token"]}, ("tuple", {"secret": S["tuple_secret"]})],
        "dataclass": DataclassConfig("dc", S["dataclass_secret"], {"short_pwd": SHORT_SECRET}),
        "struct": StructConfig("SIM", S["struct_passphrase"]),
        "pydantic": PydanticConfig(url="https://example.com", api_key=S["pydantic_secretstr"], password=S["pydantic_password"]),
        "attrs": AttrsConfig("h", S["attrs_private_key"]),
        "mapping": ReadOnlyMapping({"credential": S["mapping_credential"]}),
        "to_dict": ToDict(S["to_dict_access_key"]),
        "credentials": {"user": "bob", "key": S["nested_credentials"], "more": [S["nested_credentials_list"]]},
        "escaped": {"api_secret": S["escape_chars"], "password": S["non_ascii"]},
        "numbers": {"api_secret_int": INT_SECRET, "token_float": FLOAT_SECRET, "fast_ema": 10},
        "database_url": f"postgresql://trader:{S['dsn_password']}@db.internal:5432/backtests",
        "dsn": f"mysql://root:{S['dsn_password']}-b@db/x",  # under a secret key: all of it, and its password alone
        "endpoint": f"https://u:{S['url_password']}@feed.example.com/v1",
        "libpq": f"host=db port=5432 password={S['libpq_password']} dbname=x",
        "query": f"https://api.example.com/v1/klines?symbol=BTC&api_key={S['query_api_key']}&limit=5",
        "strategy": {"fast_ema": 10, "slow_ema": 20, "use_auth": True},
    }


def echoes(secret: str) -> str:
    """The secret in the forms a log or a free-text field may carry it."""
    return f"{secret} | {json.dumps(secret)} | {json.dumps(secret, ensure_ascii=False)}"


def planted_run(run_id: str, log_encoding: str | None = None) -> lake.Run:
    base = synthetic_run(run_id, 20, 2)
    summary = {
        **base.summary,
        "note": "connected with " + " ; ".join(echoes(s) for s in SECRETS if s != S["log_only_dsn"]),
        "api_token": S["summary_secret"],
        "lucky_number": INT_SECRET,
    }
    lines = [f'{{"level":"INFO","message":{json.dumps("config " + echoes(s))}}}' for s in SECRETS]
    lines.append(f"connecting to postgresql://u:{S['log_only_dsn']}@db/x")
    log = "\n".join(lines) + "\n"
    return lake.Run(run_id, summary, base.orders, base.fills, base.positions, base.equity_curve,
                    config=planted_config(), log=log.encode(log_encoding, "replace") if log_encoding else log)


# -- the search ---------------------------------------------------------------------------------------------


def encodings(secret: str) -> dict[str, bytes]:
    forms = {"raw": secret, "json-ascii": json.dumps(secret)[1:-1], "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1]}
    out = {}
    for name, text in forms.items():
        for codec in ("utf-8", "utf-16-le", "utf-16-be", "latin-1"):
            try:
                out[f"{name}/{codec}"] = text.encode(codec)
            except UnicodeEncodeError:
                pass
    return out


def written_texts(root: Path) -> dict[str, bytes]:
    """Every file's bytes, and for Parquet also every value decoded (compression would hide a secret)."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        out[str(path.relative_to(root))] = path.read_bytes()
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            out[f"{path.relative_to(root)} (decoded)"] = json.dumps(table.to_pylist(), default=str, ensure_ascii=False).encode()
    return out


def leaks(root: Path) -> list[tuple[str, str, str]]:
    texts = written_texts(root)
    assert texts
    found = []
    for secret in SECRETS:
        for encoding, needle in encodings(secret).items():
            for name, data in texts.items():
                if needle in data:
                    found.append((secret, encoding, name))
    return found


@pytest.mark.parametrize("log_encoding", [None, "utf-8", "utf-16-le", "utf-16-be", "utf-16", "latin-1"],
                         ids=["log-str", "log-utf8-bytes", "log-utf16le", "log-utf16be", "log-utf16-bom", "log-latin1"])
def test_no_planted_secret_reaches_any_written_byte(tmp_path, log_encoding):
    dest = tmp_path / "lake"
    lake.write_run(planted_run("secrets", log_encoding), dest)
    assert leaks(dest) == []
    assert len(SECRETS) == 34
    # ... and not because a document went missing: each is written, in its encoding, with the rest kept
    log = (dest / layout.log_key("secrets")).read_bytes().decode(log_encoding or "utf-8")
    assert "connecting to postgresql://u:***@db/x" in log and log.count('{"level":"INFO"') == len(SECRETS)
    summary = json.loads((dest / layout.summary_key("secrets")).read_text())
    assert summary["note"].startswith("connected with ***") and summary["api_token"] == REDACTED
    assert json.loads((dest / layout.config_key("secrets")).read_text())["strategy"]["fast_ema"] == 10


def test_redaction_keeps_everything_else(tmp_path):
    dest = tmp_path / "lake"
    lake.write_run(planted_run("kept"), dest)
    (config_file,) = dest.glob("config/kept/*.json")
    config = json.loads(config_file.read_text())
    assert config["exec_client"]["api_key"] == config["exec_client"]["api_secret"] == REDACTED
    assert config["exec_client"]["venue"] == "BINANCE" and config["exec_client"]["testnet"] is False
    assert config["dataclass"] == {"name": "dc", "client_secret": REDACTED, "inner": {"short_pwd": REDACTED}}
    assert config["struct"] == {"venue": "SIM", "api_passphrase": REDACTED}
    assert config["pydantic"] == {"url": "https://example.com", "api_key": REDACTED, "password": REDACTED}
    assert config["numbers"] == {"api_secret_int": REDACTED, "token_float": REDACTED, "fast_ema": 10}
    assert config["strategy"] == {"fast_ema": 10, "slow_ema": 20, "use_auth": True}  # a flag is no secret
    assert config["credentials"] == REDACTED and config["http"]["headers"][1] == "Accept: application/json"
    assert config["database_url"] == "postgresql://trader:***@db.internal:5432/backtests" and config["dsn"] == REDACTED
    assert config["endpoint"] == "https://u:***@feed.example.com/v1"
    assert config["libpq"] == "host=db port=5432 password=*** dbname=x"
    assert config["query"] == "https://api.example.com/v1/klines?symbol=BTC&api_key=***&limit=5"
    assert config["http"]["headers"][0] == "Authorization: Bearer ***"


def test_short_secret_is_redacted_in_json_but_not_scrubbed_from_words():
    found: set[str] = set()
    assert redact({"pwd": "ab1", "note": "ab1 is a word"}, found) == {"pwd": REDACTED, "note": "ab1 is a word"}
    report = lake.check_run(lake.Run("short", {**synthetic_run("short", 5, 1).summary, "pwd": "ab"},
                                     *synthetic_run("short", 5, 1).tables().values(), log="ab and abc stay"))
    assert report.ok
    base = synthetic_run("short", 5, 1)
    plan = plan_run(lake.Run("short", {**base.summary, "pwd": "ab", "note": "ab and abc stay"}, *base.tables().values(),
                             log="ab and abc stay"))
    summary = json.loads(plan.summary.data)
    assert summary["pwd"] == REDACTED and summary["note"] == "ab and abc stay"
    (log,) = [b.data for b in plan.data if layout.log_key("short") in b.keys]
    assert log == b"ab and abc stay"


@pytest.mark.parametrize(
    "key",
    ["api_key", "apiKey", "APIKey", "x-api-key", "api_secret", "secret", "client_secret", "password", "passwd", "pwd",
     "pass", "db_pass", "passphrase", "private_key", "privateKey", "token", "access_token", "auth", "basic_auth",
     "Authorization", "cookie", "session", "session_id", "sessionId", "bearer", "credentials", "dsn", "jwt"],
)
def test_secret_looking_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["passenger", "bypass", "compass", "author", "trading_session", "session_start",
                                 "keyboard", "key", "fast_ema", "instrument_id"])
def test_ordinary_keys(key):
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("postgresql://user:p@ss@host/db", "postgresql://user:***@host/db"),
        ("redis://:hunter22@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("mysql://u:pa%40ss@h", "mysql://u:***@h"),
        ("ftp://user@host/x", "ftp://user@host/x"),
        ("DRIVER=x;PWD=odbcpw;UID=u", "DRIVER=x;PWD=***;UID=u"),
        ("BinanceExecClientConfig(api_key='KEY1', api_secret='SEC2', testnet=True)",
         "BinanceExecClientConfig(api_key='***', api_secret='***', testnet=True)"),
        ('{"password": "pw123", "n": 1}', '{"password": "***", "n": 1}'),
        ("Sharpe: 1.2 at 12:30, key: value", "Sharpe: 1.2 at 12:30, key: value"),
    ],
)
def test_passwords_inside_text(text, shown):
    assert redact_text(text, set()) == shown


def test_a_mapping_proxy_and_a_frozen_dataclass_are_walked_too(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Frozen:
        token: str

    base = synthetic_run("walk", 5, 1)
    config = {"proxy": types.MappingProxyType({"secret": "proxy-secret-1234"}), "frozen": Frozen("frozen-token-5678")}
    lake.write_run(lake.Run("walk", base.summary, *base.tables().values(), config=config,
                            log="proxy-secret-1234 frozen-token-5678"), tmp_path / "lake")
    for data in written_texts(tmp_path / "lake").values():
        assert b"proxy-secret-1234" not in data and b"frozen-token-5678" not in data


def test_a_text_log_is_searched_as_text_whatever_its_utf8_bytes_look_like():
    """A str log full of NULs encodes to bytes that look like UTF-16: it is still read as the text it is."""
    base = synthetic_run("nul", 5, 1)
    log = "\x00a" * 200 + "connect postgresql://u:nul-secret-5531@db/x\n"
    plan = plan_run(lake.Run("nul", base.summary, *base.tables().values(), log=log))
    (data,) = [b.data for b in plan.data if layout.log_key("nul") in b.keys]
    assert data == log.replace("nul-secret-5531", REDACTED).encode("utf-8")
