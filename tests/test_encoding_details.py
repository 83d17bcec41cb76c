"""Encoding, redaction and the runs row, value by value: what pandas and caller objects become in JSON, how
passwords in text and logs are found, which secrets are scrubbed, and what the runs row takes from the
summary when it says nothing (venues from instrument ids, no empty lists)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake import layout
from lake.errors import SerializationError, ValidationError
from lake.synthetic import synthetic_run
from lake.write import plan_run
from lake.write.encode import json_bytes, to_jsonable
from lake.write.redact import REDACTED, redact_log, redact_text, scrubbable
from lake.write.runs_row import build_runs_row, parse_summary, run_money


# -- JSON of caller objects ------------------------------------------------------------------------------


def test_pandas_index_values_are_written_as_plain_values():
    days = pd.DatetimeIndex(["2024-01-01T00:00:00Z", "2024-01-02T12:30:00Z"])
    spans = pd.TimedeltaIndex(["1s", "90min"])
    assert to_jsonable({"days": days, "spans": spans, "nat": pd.NaT, "na": pd.NA}) == {
        "days": ["2024-01-01T00:00:00+00:00", "2024-01-02T12:30:00+00:00"],
        "spans": [1.0, 5400.0],
        "nat": None,
        "na": None,
    }


class ListingConfig:
    """A caller's object whose to_dict() gives a list, not a mapping: not a document to walk."""

    def to_dict(self):
        return ["a", "b"]


def test_an_object_whose_to_dict_is_not_a_mapping_cannot_be_written():
    with pytest.raises(SerializationError, match=r"^config\.strategy: value of type ListingConfig cannot be written as JSON$"):
        to_jsonable({"strategy": ListingConfig()}, "config")


def test_json_bytes_names_the_document_in_its_errors():
    with pytest.raises(SerializationError, match=r"^config\.a\[1\]: value of type object cannot be written as JSON$"):
        json_bytes({"a": [1, object()]}, "config")
    assert json_bytes({"b": Decimal("1.50"), "a": dt.date(2024, 1, 2)}, "summary") == b'{\n  "a": "2024-01-02",\n  "b": "1.50"\n}\n'


# -- passwords in text and logs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, shown, found",
    [
        ('{\\"password\\": \\"pw-1234\\"}', '{\\"password\\": \\"***\\"}', {"pw-1234"}),  # JSON inside a JSON string
        ("password='' token=\"\"", "password='' token=\"\"", set()),  # nothing to hide
        ("auth: basic", "auth: basic", set()),  # a scheme word alone is no credential
        ("token=Bearer", "token=Bearer", set()),
        ("api_key='***'", "api_key='***'", set()),  # already redacted
        ("secret=s3cr%40t-9", "secret=***", {"s3cr%40t-9", "s3cr@t-9"}),  # and its URL-decoded form
    ],
)
def test_secret_values_in_text(text, shown, found):
    got: set[str] = set()
    assert redact_text(text, got) == shown
    assert got == found


@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_a_log_in_a_legacy_encoding_keeps_its_bytes_and_loses_its_passwords(codec):
    log = "café connected: postgresql://u:pässwort-1@db/x, fine\n".encode(codec)
    found: set[str] = set()
    assert redact_log(log, found) == "café connected: postgresql://u:***@db/x, fine\n".encode(codec)
    assert found == {"pässwort-1"}


def test_only_valid_unicode_secrets_are_scrubbed():
    assert scrubbable({"good-secret", "bad-\ud800-secret"}) == ["good-secret"]


# -- the runs row from the summary ------------------------------------------------------------------------


def _row(tmp_path, summary: dict, run: lake.Run | None = None) -> dict:
    base = run or synthetic_run("row", 20, 4)
    lake.write_run(lake.Run("row", summary, *base.tables().values()), tmp_path)
    return pq.read_table(tmp_path / layout.commit_key("row")).to_pylist()[0]


def test_the_runs_row_takes_the_trader_and_derives_venues_from_instrument_ids(tmp_path):
    row = _row(tmp_path, {"trader_id": "TRADER-7", "instrument_ids": ["ETHUSDT.BINANCE", "BTC-PERP.DYDX"]})
    assert (row["trader_id"], row["instrument_ids"], row["venues"]) == (
        "TRADER-7", "BTC-PERP.DYDX,ETHUSDT.BINANCE", "BINANCE,DYDX")


def test_empty_id_lists_are_null_in_the_runs_row_not_empty_text(tmp_path):
    empty = {n: t.arrow_schema.empty_table() for n, t in lake.write.plan.RUN_TABLES.items()}
    run = lake.Run("row", {"strategy_ids": [], "venues": []}, **empty)
    row = _row(tmp_path, run.summary, run)
    assert (row["strategy_ids"], row["instrument_ids"], row["venues"], row["trader_id"]) == (None, None, None, None)


def test_build_runs_row_sums_the_money_itself_when_not_given():
    run = synthetic_run("row", 20, 4)
    tables = plan_run(run).tables
    summary = parse_summary(to_jsonable(run.summary), failures := [])  # as plan_run parses it: plain JSON
    assert failures == []
    created = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    alone = build_runs_row(summary, tables, created).to_pylist()[0]
    given = build_runs_row(summary, tables, created, money=run_money(tables)).to_pylist()[0]
    assert alone == given
    assert alone["commission"] == sum(tables["fills"].column("commission").to_pylist())


def test_a_drawdown_beyond_numeric_is_refused_naming_it():
    run = synthetic_run("dd", 20, 4)
    equity = run.equity_curve
    huge = [Decimal("9e28"), Decimal("-9e28")] + [Decimal(0)] * (equity.num_rows - 2)
    zeros = [Decimal(0)] * equity.num_rows
    equity = equity.set_column(equity.schema.get_field_index("balance"), "balance", pa.array(huge, pa.decimal128(38, 9)))
    equity = equity.set_column(equity.schema.get_field_index("unrealized_pnl"), "unrealized_pnl",
                               pa.array(zeros, pa.decimal128(38, 9)))
    equity = equity.set_column(equity.schema.get_field_index("equity"), "equity", pa.array(huge, pa.decimal128(38, 9)))
    with pytest.raises(ValidationError) as err:
        plan_run(lake.Run("dd", run.summary, run.orders, run.fills, run.positions, equity))
    (failure,) = [f for f in err.value.failures if f.check == "total_fits_numeric"]
    assert (failure.table, failure.column) == ("equity_curve", "equity")
    assert failure.message.startswith("the run's max drawdown (180000000000000000000000000000")


def test_paths_series_and_keys_of_every_kind():
    from pathlib import PurePosixPath

    import numpy as np
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Currency

    doc = {
        "path": PurePosixPath("/data/bars.parquet"),
        "series": pd.Series({"fast": 10, "slow": np.int64(20)}),
        "keys": {np.int64(3): "numpy", Currency.from_str("USDT"): "currency", InstrumentId.from_str("BTCUSDT.BINANCE"): "id",
                 1.5: "float", None: "none", Decimal("2.5"): "decimal"},
    }
    assert to_jsonable(doc, "config") == {
        "path": "/data/bars.parquet",
        "series": {"fast": 10, "slow": 20},
        "keys": {"3": "numpy", "USDT": "currency", "BTCUSDT.BINANCE": "id", "1.5": "float", "None": "none", "2.5": "decimal"},
    }


def test_a_path_that_is_not_unicode_and_a_key_that_cannot_be_one_are_named():
    from pathlib import PurePosixPath

    errors: list[str] = []
    assert to_jsonable({"p": PurePosixPath("a\udcff"), ("t", 1): 2, "ok": 1}, "config", errors=errors) == {"p": None, "ok": 1}
    assert errors == ["config.p: text is not valid Unicode (a lone surrogate '\\udcff' at index 1)",
                      "config: key of type tuple cannot be a JSON key"]


def test_nautilus_values_are_written_as_their_text_not_walked():
    from nautilus_trader.model.objects import AccountBalance, Money, Price

    balance = AccountBalance(Money.from_str("10 USDT"), Money.from_str("0 USDT"), Money.from_str("10 USDT"))
    assert to_jsonable({"balance": balance, "price": Price.from_str("1.25")}) == {
        "balance": "AccountBalance(total=10.00000000 USDT, locked=0.00000000 USDT, free=10.00000000 USDT)",
        "price": "1.25",
    }


def test_money_keeps_its_currency_and_reads_back():
    from nautilus_trader.model.objects import Money

    balances = [Money.from_str("1000 USDT"), Money.from_str("-0.00012345 BTC")]
    written = to_jsonable({"starting_balances": balances})["starting_balances"]
    assert written == ["1000.00000000 USDT", "-0.00012345 BTC"]
    assert [Money.from_str(text) for text in written] == balances


def test_a_password_deep_in_a_long_text_with_non_ascii_characters_is_found_where_it_is():
    text = "é" * 70_000 + " password=pw-5678 and api_key=ak-1234 end " + "ü" * 10
    found: set[str] = set()
    assert redact_text(text, found) == "é" * 70_000 + " password=*** and api_key=*** end " + "ü" * 10
    assert found == {"pw-5678", "ak-1234"}


def test_a_hint_seen_many_times_in_short_text():
    found: set[str] = set()
    assert redact_text("key1 key2 token=t-1 keys token=t-2", found) == "key1 key2 token=*** keys token=***"
    assert found == {"t-1", "t-2"}


def test_statistics_that_are_not_documents_are_named_with_what_they_are():
    failures: list = []
    parse_summary({"stats_returns": "Sharpe 1.2", "stats_pnls": {"USDT": 5}}, failures)
    assert sorted(str(f) for f in failures) == [
        "summary.stats_pnls [runs_row]: stats_pnls['USDT']: expected {statistic: value}, got int 5",
        "summary.stats_returns [runs_row]: stats_returns: expected {statistic: value}, got str 'Sharpe 1.2'",
    ]


def test_sequences_of_any_kind_are_written_as_lists():
    from collections import deque

    assert to_jsonable({"range": range(3), "deque": deque([1, "a"]), "text": "abc"}) == {
        "range": [0, 1, 2], "deque": [1, "a"], "text": "abc"}


def test_parquet_with_text_that_is_not_utf8_is_refused_as_unreadable():
    from lake.write.encode import read_parquet_bytes

    broken = pa.array([b"ok", b"bad \xff"], pa.binary()).view(pa.string())
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"s": broken}), sink)
    with pytest.raises(pa.ArrowInvalid, match="UTF8"):
        read_parquet_bytes(sink.getvalue().to_pybytes())


def test_a_url_password_deep_in_a_long_non_ascii_text_is_found():
    text = "é" * 70_000 + " connect postgresql://u:pw-777@h/db done"
    found: set[str] = set()
    assert redact_text(text, found) == "é" * 70_000 + " connect postgresql://u:***@h/db done"
    assert found == {"pw-777"}


@pytest.mark.parametrize("zeros, utf16", [(45, False), (50, False), (51, True)], ids=["45%", "50%", "51%"])
def test_a_log_is_read_as_utf16_only_when_more_than_half_its_odd_bytes_are_nul(zeros, utf16):
    """200 bytes: `zeros` of the 100 odd positions hold NUL; a password only UTF-8 reading finds."""
    body = b"x\x00" * zeros + b"yy" * (95 - zeros) + b"token=t-99"
    assert len(body) == 200
    found: set[str] = set()
    redacted = redact_log(body, found)
    assert (found == {"t-99"}) is not utf16
    assert (redacted == body) is utf16


def test_an_id_with_a_comma_is_named_and_shown_in_80_characters():
    parse_summary({"strategy_ids": ["a," + "b" * 100]}, failures := [])
    (failure,) = failures
    assert f"item 0: {('a,' + 'b' * 100)[:80]!r} contains a comma" in str(failure)


def test_pnl_by_currency_is_json_with_sorted_currencies():
    from lake.write.runs_row import row_failures

    run = synthetic_run("cur", 20, 1)
    tables = dict(plan_run(run).tables)
    positions = tables["positions"]
    currencies = ["USDT"] + ["BTC" if i % 2 else "USDT" for i in range(1, positions.num_rows)]
    tables["positions"] = positions.set_column(positions.schema.get_field_index("currency"),
                                               positions.schema.field("currency"), pa.array(currencies))
    money = run_money(tables)
    assert list(money.pnl) == ["USDT", "BTC"]  # in the order met
    row = build_runs_row(parse_summary(to_jsonable(run.summary), []), tables, dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
                         money=money).to_pylist()[0]
    assert list(json.loads(row["realized_pnl_by_currency"])) == ["BTC", "USDT"]
    assert row["realized_pnl_by_currency"].startswith('{"BTC": "')
    assert row_failures(money) == []  # without equity statistics: totals only


@pytest.mark.parametrize("zeros, utf16", [(45, False), (50, False), (51, True)], ids=["45%", "50%", "51%"])
def test_a_log_is_read_as_big_endian_utf16_only_when_more_than_half_its_even_bytes_are_nul(zeros, utf16):
    body = b"\x00x" * zeros + b"yy" * (95 - zeros) + b"token=t-99"
    found: set[str] = set()
    redacted = redact_log(body, found)
    assert (found == {"t-99"}) is not utf16
    assert (redacted == body) is utf16


def test_parquet_files_are_zstd_with_page_checksums_and_statistics_but_in_the_runs_row():
    from lake.write.encode import parquet_bytes, read_parquet_bytes
    from schemas import RUN_TABLES, RUNS

    plan = plan_run(synthetic_run("enc-1", 20, 1))
    files = {name: plan.tables[name] for name in RUN_TABLES}
    row = read_parquet_bytes(plan.commit_row(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)).data)
    for name, table in [*files.items(), ("runs", row)]:
        data = parquet_bytes(table, RUNS if name == "runs" else RUN_TABLES[name], "enc-1")
        meta = pq.ParquetFile(pa.BufferReader(data)).metadata
        chunks = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
        assert {c.compression for c in chunks} == {"ZSTD"}, name
        assert {c.is_stats_set for c in chunks} == {name != "runs"}, name  # a one-row file needs none
        # a page checksum: one flipped bit in the first page's data is refused on reading
        page = chunks[0].dictionary_page_offset or chunks[0].data_page_offset
        damaged = bytearray(data)
        damaged[page + chunks[0].total_compressed_size - 1] ^= 0x01
        with pytest.raises(OSError, match="CRC"):
            read_parquet_bytes(bytes(damaged))
