"""`lake bq-smoke`: the shipped queries on real BigQuery and on DuckDB over the same files, compared.

No emulator can query BigQuery external tables, so the only proof that BigQuery
gives the numbers `lake query` gives on a laptop is to ask BigQuery. This module
does it on scratch objects only:

  1. writes smoke_runs() (edge values: NUMERIC products that need rounding, a
     numeric-looking run_id, nulls in every nullable column, timestamps with
     nanoseconds, an empty run whose commit is a runs row of contract version 1,
     so files lacking declared columns, an uncommitted run, and one experiment
     of runs with parameters for the sweep queries) under a fresh
     scratch prefix gs://BUCKET[/prefix]/bq-smoke/<stamp>-<hex>/;
  2. registers the external tables and views over that prefix in a scratch
     dataset (default `execution_smoke`) with `lake register`'s own code;
  3. runs every shipped query (SMOKE_CASES) on BigQuery (the dataset's name put
     in place of `execution`, parameters sent as typed query parameters) and on
     DuckDB (lake.catalog.engine over the same prefix);
  4. compares them (compare_answers): the same column names and types, the same
     rows in the same order; NUMERIC, INT64, STRING, TIMESTAMP, DATE and BOOL
     exactly, FLOAT64 within 1e-9 relative;
  5. deletes the dataset (or, if it existed before, the objects it made) and every
     object under the scratch prefix, unless keep=True.

The BigQuery client is passed in (tests drive the real client against a local
recorder of its REST calls); google-cloud-bigquery is imported lazily.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import pyarrow as pa

from lake import layout
from lake.catalog import ddl
from lake.catalog.translate import Query, QueryError, load_query, parse_bigquery, resolve_params, shipped_queries
from lake.errors import LakeError
from lake.run import Run
from lake.write.encode import read_parquet_bytes

DEFAULT_DATASET = "execution_smoke"
SCRATCH_FOLDER = "bq-smoke"
FLOAT_RELATIVE_TOLERANCE = 1e-9

DUST, NUMERIC_ID, EMPTY, UNCOMMITTED = "smoke-dust", "0042", "smoke-empty", "smoke-uncommitted"
SWEEP = "smoke-sweep"  # the experiment of dust, 0042 and the uncommitted run (which no sweep may show)
FAST, ENTRY = "S-1.fast_period", "S-1.entry"
BTC, DUSTC = "BTCUSDT.BINANCE", "DUSTUSDT.BINANCE"


class SmokeError(LakeError):
    """bq-smoke could not set up, run or clean up (names the step and the cause)."""


# --- the runs -----------------------------------------------------------------------------------

_T0 = pd.Timestamp("2024-03-01 09:30:00", tz="UTC")


def _t(seconds: float = 0, ns: int = 0, base: pd.Timestamp = _T0) -> pd.Timestamp:
    return base + pd.Timedelta(seconds=seconds) + pd.Timedelta(nanoseconds=ns)


# Row builders, also used by the SQL tests' hand-made runs (tests/sql_lake.py): amounts as decimal strings.


def order_row(oid, inst, side, otype, qty, price, avg_px, t_init, t_last, status="FILLED", venue_id=True, trigger=None):
    """An orders row of strategy S-1: filled in full unless another status is given (then filled_qty 0)."""
    return {
        "client_order_id": oid,
        "venue_order_id": ("V" + oid) if venue_id else None,
        "strategy_id": "S-1",
        "instrument_id": inst,
        "order_side": side,
        "order_type": otype,
        "quantity": D(qty),
        "filled_qty": D(qty) if status == "FILLED" else D(0),
        "price": None if price is None else D(price),
        "trigger_price": None if trigger is None else D(trigger),
        "avg_px": None if avg_px is None else D(avg_px),
        "status": status,
        "time_in_force": "GTC" if otype == "LIMIT" else "IOC",
        "ts_init": t_init,
        "ts_last": t_last,
    }


def fill_row(tid, oid, pid, inst, side, qty, px, commission, ccy, liq, t):
    """A fills row of strategy S-1."""
    return {
        "trade_id": tid,
        "client_order_id": oid,
        "venue_order_id": "V" + oid,
        "position_id": pid,
        "strategy_id": "S-1",
        "instrument_id": inst,
        "order_side": side,
        "last_qty": D(qty),
        "last_px": D(px),
        "commission": D(commission),
        "commission_currency": ccy,
        "liquidity_side": liq,
        "ts_event": t,
    }


def position_row(pid, inst, open_oid, close_oid, entry, qty, peak, px_open, px_close, pnl, t_open, t_close, *, currency="USDT", snapshot=False):
    """A positions row of strategy S-1: FLAT once closed, else LONG or SHORT by its entry."""
    closed = t_close is not None
    return {
        "position_id": pid,
        "strategy_id": "S-1",
        "instrument_id": inst,
        "opening_order_id": open_oid,
        "closing_order_id": close_oid,
        "entry": entry,
        "side": "FLAT" if closed else ("LONG" if entry == "BUY" else "SHORT"),
        "quantity": D(qty),
        "peak_qty": D(peak),
        "avg_px_open": D(px_open),
        "avg_px_close": None if px_close is None else D(px_close),
        "realized_pnl": D(pnl),
        "currency": currency,
        "ts_opened": t_open,
        "ts_closed": t_close,
        "is_snapshot": snapshot,
    }


def equity_frame(rows):
    """(ts, currency, balance, unrealized) -> equity_curve rows, equity = balance + unrealized."""
    return pd.DataFrame(
        [{"ts": t, "currency": c, "balance": D(b), "unrealized_pnl": D(u), "equity": D(b) + D(u)} for t, c, b, u in rows]
    )


def dust_run() -> Run:
    """Products that need more than 9 decimals, halves that round away from zero, nanosecond times.

    turnover  0.00012345 x 65432.11 = 8.0775939795 -> 8.077593980; 0.00000001 x 0.05 = 5e-10 -> 1e-9 (x2)
    slippage  SELL limit 0.10 filled at 0.15: 0.00000001 x -0.05 = -5e-10 -> -1e-9 (half-even or
              truncation would give 0); BUY limit 0.20 filled at 0.05: x -0.15 -> -2e-9
    """
    day = lambda d, h: pd.Timestamp(f"2024-03-0{d} {h:02d}:00:00", tz="UTC")  # noqa: E731
    orders = pd.DataFrame(
        [
            order_row("O-1", BTC, "BUY", "LIMIT", "0.00012345", "65432.115", "65432.11", _t(0, 1), _t(1, 7)),
            order_row("O-2", DUSTC, "SELL", "MARKET", "0.00000003", None, "0.1", _t(2), _t(3, 999)),
            order_row("O-3", DUSTC, "SELL", "LIMIT", "0.00000001", "0.10", "0.15", _t(4), _t(5, 1)),
            order_row("O-4", DUSTC, "BUY", "LIMIT", "0.00000001", "0.20", "0.05", _t(60), _t(61, 500)),
            order_row("O-5", BTC, "BUY", "STOP_MARKET", "0.5", None, None, _t(70), _t(80), status="CANCELED",
                      venue_id=False, trigger="70000"),  # fmt: skip
        ]
    )
    fills = pd.DataFrame(
        [
            fill_row("T-1", "O-1", "P-1", BTC, "BUY", "0.00012345", "65432.11", "0.000807759", "USDT", "MAKER", _t(1, 7)),
            fill_row("T-2", "O-2", "P-2", DUSTC, "SELL", "0.00000001", "0.20", "0", "USDT", "TAKER", _t(3, 1)),
            fill_row("T-3", "O-2", "P-2", DUSTC, "SELL", "0.00000001", "0.05", "0", "USDT", "TAKER", _t(3, 2)),
            fill_row("T-4", "O-2", "P-2", DUSTC, "SELL", "0.00000001", "0.05", "0", "USDT", "TAKER", _t(3, 999)),
            fill_row("T-5", "O-3", "P-2", DUSTC, "SELL", "0.00000001", "0.15", "0.000000001", "USDT", "MAKER", _t(5, 1)),
            fill_row("T-6", "O-4", None, DUSTC, "BUY", "0.00000001", "0.05", "-0.000000001", "USDT", "MAKER", _t(61, 500)),
        ]
    )
    positions = pd.DataFrame(
        [
            position_row("P-1", BTC, "O-1", None, "BUY", "0.00012345", "0.00012345", "65432.11", None, "-0.000807759",
                         _t(1, 7), None),  # fmt: skip
            position_row("P-2", DUSTC, "O-2", "O-4", "SELL", "0", "0.00000004", "0.1125", "0.05", "0.000000002",
                         _t(3, 1), _t(61, 500)),  # fmt: skip
        ]
    )
    equity = equity_frame(
        [
            (day(1, 9), "USDT", "1000", "0"),
            (day(1, 18), "USDT", "1000.000000003", "-0.000000001"),
            (day(2, 12), "USDT", "999.999999999", "0"),
            (day(3, 12), "USDT", "1000.123456789", "0.000000001"),
        ]
    )
    summary = {
        "trader_id": "SMOKE-001",
        "strategy_ids": ["S-1"],
        "instrument_ids": [BTC, DUSTC],
        "venues": ["BINANCE"],
        "backtest_start": "2024-03-01T00:00:00Z",
        "backtest_end": "2024-03-04T00:00:00Z",
        "run_started": "2024-03-05T10:00:00.123456Z",
        "run_finished": "2024-03-05T10:00:01Z",
        "stats_pnls": {"USDT": {"Win Rate": 0.5}},
        "stats_returns": {
            "Sharpe Ratio (252 days)": 1.2345678901234567,
            "Sortino Ratio (252 days)": -0.1,
            "Profit Factor": 3.0,
            "Returns Volatility (252 days)": 1e-12,
            "Risk Return Ratio": 0.3333333333333333,
        },
    }
    params = {FAST: 5, ENTRY: "LIMIT", "S-1.levels": [1, 2.5], "venue.BINANCE.oms_type": "NETTING"}
    return Run(DUST, summary, orders, fills, positions, equity, experiment=SWEEP, tags={"smoke": "dust"}, params=params)


def numeric_id_run() -> Run:
    """run_id '0042' (must stay a string); PnL in two currencies, so the runs row's money columns are null."""
    t = _T0 + pd.Timedelta(days=1)
    orders = pd.DataFrame(
        [
            order_row("O-1", BTC, "SELL", "MARKET", "3", None, "100", _t(0, 5, base=t), _t(2, base=t)),
            order_row("O-2", BTC, "BUY", "LIMIT", "3", "104", "103.5", _t(3600, base=t), _t(3700, base=t)),
        ]
    )
    fills = pd.DataFrame(
        [
            fill_row("T-1", "O-1", "P-1", BTC, "SELL", "1", "101", "0.3", "USDT", "TAKER", _t(1, 1, base=t)),
            fill_row("T-2", "O-1", "P-1", BTC, "SELL", "2", "99.5", "0.00002", "BTC", "TAKER", _t(2, base=t)),
            fill_row("T-3", "O-2", "P-1", BTC, "BUY", "3", "103.5", "0.15", "USDT", "MAKER", _t(3700, base=t)),
        ]
    )
    positions = pd.DataFrame(
        [
            position_row("P-1", BTC, "O-1", "O-2", "SELL", "0", "3", "100", "103.5", "-10.95",
                         _t(1, 1, base=t), _t(3700, base=t)),  # fmt: skip
            position_row("P-2", BTC, "O-1", "O-2", "SELL", "0", "3", "100", "103.5", "-0.00002",
                         _t(1, 1, base=t), _t(3700, 3, base=t), currency="BTC"),  # fmt: skip
        ]
    )
    equity = equity_frame([(t, "USDT", "500", "0"), (t + pd.Timedelta(hours=14), "USDT", "488.45", "0")])
    params = {FAST: 10, ENTRY: "MARKET", "S-1.levels": [1, 2.5]}
    return Run(NUMERIC_ID, {}, orders, fills, positions, equity, experiment=SWEEP, params=params)


def empty_run() -> Run:
    """A committed run with no rows at all: every data-derived column of its runs row is null."""
    from schemas import RUN_TABLES

    empty = {name: table.arrow_schema.empty_table() for name, table in RUN_TABLES.items()}
    return Run(EMPTY, {}, empty["orders"], empty["fills"], empty["positions"], empty["equity_curve"])


def uncommitted_run() -> Run:
    """Huge amounts, so that any leak of an uncommitted run shows in every figure; its commit is removed."""
    orders = pd.DataFrame([order_row("O-1", BTC, "BUY", "MARKET", "1000", None, "50000", _t(0), _t(1))])
    fills = pd.DataFrame([fill_row("T-1", "O-1", "P-1", BTC, "BUY", "1000", "50000", "999", "USDT", "TAKER", _t(1))])
    positions = pd.DataFrame(
        [position_row("P-1", BTC, "O-1", None, "BUY", "1000", "1000", "50000", None, "1000000", _t(1), None)]
    )
    equity = equity_frame([(_t(0), "USDT", "9000000", "0"), (_t(86400), "USDT", "1", "0")])
    return Run(UNCOMMITTED, {}, orders, fills, positions, equity, experiment=SWEEP, params={FAST: 5, ENTRY: "LIMIT"})


@dataclass(frozen=True)
class SmokeRun:
    run: Run
    committed: bool = True
    legacy_commit: bool = False  # its runs row rewritten as contract version 1 (no data_file, no table_versions)


def smoke_runs() -> list[SmokeRun]:
    """Every smoke run. The empty run's commit is a runs v1 row: BigQuery must read its missing columns as NULL."""
    return [
        SmokeRun(dust_run()),
        SmokeRun(numeric_id_run()),
        SmokeRun(empty_run(), legacy_commit=True),
        SmokeRun(uncommitted_run(), committed=False),
    ]


# Each shipped query, and the parameters to run it with; every shipped query must appear.
SMOKE_CASES: dict[str, list[dict[str, Any]]] = {
    "leaderboard": [{}, {"run_ids": [NUMERIC_ID, UNCOMMITTED]}],
    "run_vs_run": [{"run_a": DUST, "run_b": NUMERIC_ID}],
    "slippage_commission": [{}, {"run_ids": [DUST]}],
    "equity_daily": [{}],
    "holding_time": [{}],
    "sweep": [{"experiment": SWEEP}, {"experiment": SWEEP, "x": FAST, "y": ENTRY}],
    "param_effect": [{"experiment": SWEEP, "param": FAST}, {"experiment": SWEEP, "param": ENTRY}],
}


def smoke_cases() -> list[tuple[str, Query, dict[str, Any]]]:
    """(label, query, params) for every shipped query; a shipped query without cases is an error."""
    shipped = shipped_queries()
    missing = sorted(set(shipped) - set(SMOKE_CASES))
    if missing:
        raise SmokeError(f"no bq-smoke parameters for shipped queries {', '.join(missing)} (add them to SMOKE_CASES)")
    cases = []
    for name in shipped:
        query = load_query(name)
        for i, params in enumerate(SMOKE_CASES[name]):
            cases.append((name if len(SMOKE_CASES[name]) == 1 else f"{name}#{i + 1}", query, params))
    return cases


def write_smoke_lake(lake_root, runs: Sequence[SmokeRun] | None = None) -> list[str]:
    """Write the smoke runs under lake_root (a folder or gs://...); remove the commit of the uncommitted ones."""
    from lake.stores import open_store
    from lake.write import write_run_to_store

    store = open_store(lake_root)
    written = []
    for item in runs if runs is not None else smoke_runs():
        write_run_to_store(item.run, store)
        if not item.committed:
            store.delete(layout.commit_key(item.run.run_id))
        elif item.legacy_commit:
            write_legacy_commit(store, item.run.run_id)
        written.append(item.run.run_id)
    return written


def write_legacy_commit(store, run_id: str) -> None:
    """Replace the run's runs row by the row a runs-contract-v1 writer wrote: without the columns v2 added.

    Readers must take the missing data_file as part-00000.parquet and the missing
    table_versions as version 1 of every table (DuckDB and BigQuery alike).
    """
    from lake.write.encode import PARQUET_CONTENT_TYPE, parquet_bytes
    from schemas import evolution

    key = layout.commit_key(run_id)
    row = read_parquet_bytes(store.get(key))
    v1 = evolution.table_at("runs", 1)
    old = row.select(list(v1.column_names))
    old = old.set_column(old.schema.get_field_index("schema_version"), "schema_version", pa.array([1], pa.int64()))
    store.put([key], parquet_bytes(old.cast(v1.arrow_schema), v1, run_id), PARQUET_CONTENT_TYPE, overwrite=True)


def scratch_root(bucket: str) -> str:
    """A fresh scratch prefix under the bucket (and its optional prefix): nothing else is ever below it."""
    from lake.catalog.bigquery import lake_root_from_bucket

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{lake_root_from_bucket(bucket)}/{SCRATCH_FOLDER}/{stamp}-{secrets.token_hex(4)}"


def bucket_location(lake_root: str, project: str | None = None) -> str | None:
    """The bucket's location (the scratch dataset must be there to read it); None when it cannot be read."""
    from lake.stores import resolve

    try:
        from google.cloud import storage

        return storage.Client(project=project).get_bucket(resolve(lake_root).bucket).location
    except Exception:  # no permission to read bucket metadata: the dataset's own location, if it exists, will do
        return None


# --- answers and their comparison ---------------------------------------------------------------

_BQ_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "BIGNUMERIC": "BIGNUMERIC"}


@dataclass(frozen=True)
class Answer:
    """A query's answer in one engine: column names, BigQuery type names, rows as Python values."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def bigquery_type(arrow_type: pa.DataType) -> str:
    """The BigQuery type of an Arrow column as DuckDB returns it ('arrow:<type>' when there is none)."""
    if pa.types.is_decimal(arrow_type):
        return "NUMERIC" if (arrow_type.precision, arrow_type.scale) == (38, 9) else f"arrow:{arrow_type}"
    if pa.types.is_int64(arrow_type):
        return "INT64"
    if pa.types.is_float64(arrow_type):
        return "FLOAT64"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_boolean(arrow_type):
        return "BOOL"
    if pa.types.is_date32(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz in ("UTC", "+00:00", "Etc/UTC"):
        return "TIMESTAMP"
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is None:
        return "DATETIME"
    return f"arrow:{arrow_type}"


def answer_from_arrow(table: pa.Table) -> Answer:
    columns = tuple(table.column_names)
    rows = tuple(tuple(r[c] for c in columns) for r in table.to_pylist())
    return Answer(columns, tuple(bigquery_type(f.type) for f in table.schema), rows)


def answer_from_bigquery(rows) -> Answer:
    """From a google.cloud.bigquery RowIterator (its schema and rows)."""
    schema = list(rows.schema)
    columns = tuple(f.name for f in schema)
    types = tuple(_BQ_TYPE_NAMES.get(f.field_type, f.field_type) for f in schema)
    return Answer(columns, types, tuple(tuple(row.values()) for row in rows))


@dataclass
class Comparison:
    label: str
    query: str
    bigquery_rows: int | None = None
    duckdb_rows: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_answers(label: str, query: str, bigquery: Answer, duckdb: Answer, *, max_shown: int = 5) -> Comparison:
    """Same columns, same types, same rows in the same order; floats within FLOAT_RELATIVE_TOLERANCE."""
    out = Comparison(label, query, len(bigquery.rows), len(duckdb.rows))
    if bigquery.columns != duckdb.columns:
        out.problems.append(f"columns differ: BigQuery {list(bigquery.columns)}, DuckDB {list(duckdb.columns)}")
        return out
    for name, bq_type, duck_type in zip(bigquery.columns, bigquery.types, duckdb.types):
        if bq_type != duck_type:
            out.problems.append(f"column {name}: BigQuery type {bq_type}, DuckDB type {duck_type}")
    if len(bigquery.rows) != len(duckdb.rows):
        out.problems.append(f"{len(bigquery.rows)} rows in BigQuery, {len(duckdb.rows)} in DuckDB")
        return out
    differences = [
        f"row {i + 1} {name}: BigQuery {_shown(b)}, DuckDB {_shown(d)}"
        for i, (brow, drow) in enumerate(zip(bigquery.rows, duckdb.rows))
        for name, bq_type, b, d in zip(bigquery.columns, bigquery.types, brow, drow)
        if not same_value(bq_type, b, d)
    ]
    if differences and _sorted_rows(bigquery) == _sorted_rows(duckdb):
        out.problems.append("the same rows in a different order")
    else:
        out.problems += differences[:max_shown]
        if len(differences) > max_shown:
            out.problems.append(f"... {len(differences) - max_shown} more differences")
    return out


def same_value(bq_type: str, bigquery: Any, duckdb: Any) -> bool:
    """One value of each engine: exact for every type but FLOAT64 (1e-9 relative); nulls equal nulls only."""
    if bigquery is None or duckdb is None:
        return bigquery is None and duckdb is None
    if bq_type == "FLOAT64":
        if not isinstance(bigquery, float) or not isinstance(duckdb, float):
            return False
        if math.isnan(bigquery) or math.isnan(duckdb):
            return math.isnan(bigquery) and math.isnan(duckdb)
        return math.isclose(bigquery, duckdb, rel_tol=FLOAT_RELATIVE_TOLERANCE, abs_tol=0.0)
    if bq_type in ("NUMERIC", "BIGNUMERIC"):
        return isinstance(bigquery, D) and isinstance(duckdb, D) and bigquery == duckdb
    if bq_type == "TIMESTAMP":
        return isinstance(bigquery, dt.datetime) and isinstance(duckdb, dt.datetime) and _utc(bigquery) == _utc(duckdb)
    if bq_type in ("INT64", "BOOL"):
        return type(bigquery) is type(duckdb) and bigquery == duckdb
    return bigquery == duckdb


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _shown(value: Any) -> str:
    return "NULL" if value is None else repr(value)


def _sorted_rows(answer: Answer) -> list[tuple[str, ...]]:
    return sorted(tuple(repr(_normal(v)) for v in row) for row in answer.rows)


def _normal(value: Any) -> Any:
    if isinstance(value, D):
        return value.normalize()
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, float):
        return float(f"{value:.9e}")
    return value


# --- BigQuery -----------------------------------------------------------------------------------


def bigquery_text(query: Query, *, dataset: str, project: str) -> str:
    """The shipped query's own text with every `execution.<object>` reference pointed at project.dataset.

    Only the dataset references change (located with sqlglot's tokenizer, so a
    comment or a string that says "execution." is left alone); everything else is
    sent as written. The result is parsed back and every table checked.
    """
    from sqlglot import exp
    from sqlglot.dialects.bigquery import BigQuery
    from sqlglot.tokens import TokenType

    ddl.check_project(project)
    ddl.check_dataset(dataset)
    text = query.text
    tokens = BigQuery().tokenize(text)
    edits: list[tuple[int, int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.token_type != TokenType.VAR or tok.text != ddl.DATASET:
            continue
        if i + 2 >= len(tokens) or tokens[i + 1].token_type != TokenType.DOT:
            continue
        if i > 0 and tokens[i - 1].token_type == TokenType.DOT:
            continue
        target = tokens[i + 2]
        edits.append((tok.start, target.end + 1, f"`{project}.{dataset}.{target.text}`"))
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    for stmt in parse_bigquery(text, query.name):
        cte_names = {c.alias for c in stmt.find_all(exp.CTE)}
        for table in stmt.find_all(exp.Table):
            if table.name and not (table.catalog == project and table.db == dataset):
                if table.name in cte_names and not table.db:
                    continue
                raise SmokeError(f"{query.name}: table {table.sql(dialect='bigquery')} is not in {project}.{dataset}")
    return text


def bigquery_parameters(query: Query, params: Mapping[str, Any] | None):
    """The query's @parameters as google.cloud.bigquery query parameters, typed as the header declares."""
    from google.cloud import bigquery

    out = []
    for name, (value, bq_type) in resolve_params(query, params).items():
        if bq_type.startswith("ARRAY<"):
            out.append(bigquery.ArrayQueryParameter(name, bq_type[6:-1], list(value)))
        else:
            out.append(bigquery.ScalarQueryParameter(name, bq_type, value))
    return out


def run_on_bigquery(client, query: Query, params: Mapping[str, Any] | None, *, dataset: str, location: str | None) -> Answer:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(query_parameters=bigquery_parameters(query, params), use_legacy_sql=False)
    text = bigquery_text(query, dataset=dataset, project=client.project)
    job = client.query(text, job_config=config, location=location, job_id_prefix="lake_bq_smoke_")
    return answer_from_bigquery(job.result())


# --- the whole smoke test -----------------------------------------------------------------------


@dataclass
class SmokeReport:
    lake_root: str
    project: str
    dataset: str
    comparisons: list[Comparison] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.comparisons) and all(c.ok for c in self.comparisons)


def run_smoke(
    client,
    *,
    lake_root: str,
    dataset: str = DEFAULT_DATASET,
    location: str | None = None,
    keep: bool = False,
    echo: Callable[[str], None] | None = None,
    runs: Sequence[SmokeRun] | None = None,
) -> SmokeReport:
    """Write, register, query both engines, compare, clean up. `lake_root` is the scratch prefix itself."""
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    from lake.catalog import bigquery as bq
    from lake.catalog.engine import open_engine

    say = echo or (lambda _msg: None)
    report = SmokeReport(lake_root, client.project, ddl.check_dataset(dataset))
    try:  # whether the dataset is ours to delete afterwards
        client.get_dataset(bigquery.DatasetReference(client.project, dataset))
        dataset_existed = True
    except gexc.NotFound:
        dataset_existed = False
    except gexc.GoogleAPICallError as exc:
        raise SmokeError(f"cannot read dataset {client.project}.{dataset}: {exc}") from exc
    try:
        say(f"writing the smoke runs under {lake_root}")
        write_smoke_lake(lake_root, runs)
        say(f"registering tables and views in {client.project}.{dataset}")
        reg = bq.register(client, bucket=lake_root, dataset=dataset, location=location)
        location = reg.location or location
        con = open_engine(lake_root)
        try:
            for label, query, params in smoke_cases():
                say(f"running {label}")
                report.comparisons.append(_run_case(client, con, label, query, params, dataset=dataset, location=location))
        finally:
            con.close()
    finally:
        if keep:
            report.cleanup.append(f"kept {client.project}.{dataset} and {lake_root} (--keep)")
        else:
            report.cleanup += _clean_up(client, dataset, not dataset_existed, lake_root)
        for line in report.cleanup:
            say(line)
    return report


def _run_case(client, con, label: str, query: Query, params, *, dataset: str, location: str | None) -> Comparison:
    """One case on DuckDB, then on BigQuery, compared; an engine's failure is the case's problem."""
    from google.api_core import exceptions as gexc

    from lake.catalog.engine import run_query

    try:
        duck = answer_from_arrow(run_query(con, query, params))
    except QueryError as exc:
        return Comparison(label, query.name, problems=[f"DuckDB: {exc}"])
    try:
        big = run_on_bigquery(client, query, params, dataset=dataset, location=location)
    except gexc.GoogleAPICallError as exc:
        return Comparison(label, query.name, problems=[f"BigQuery: {exc}"])
    return compare_answers(label, query.name, big, duck)


def _clean_up(client, dataset: str, created_dataset: bool, lake_root: str) -> list[str]:
    """Remove what the smoke test made; every failure is reported, none stops the rest."""
    from google.cloud import bigquery

    from lake.stores import open_store
    from schemas import TABLES

    done: list[str] = []
    ds_ref = bigquery.DatasetReference(client.project, dataset)
    try:
        if created_dataset:
            client.delete_dataset(ds_ref, delete_contents=True, not_found_ok=True)
            done.append(f"deleted dataset {client.project}.{dataset}")
        else:  # what register made: the views first (they read the external tables), then the tables
            registered = [ddl.view_name(t) for t in TABLES] + [ddl.external_table_name(t) for t in TABLES]
            for name in registered:
                client.delete_table(ds_ref.table(name), not_found_ok=True)
            done.append(f"deleted {len(registered)} tables and views from {client.project}.{dataset} (the dataset existed before)")
    except Exception as exc:  # report and go on to the objects
        done.append(f"could not delete from {client.project}.{dataset}: {exc}")
    try:
        store = open_store(lake_root)
        keys = list(store.list(""))
        for key in keys:
            store.delete(key)
        done.append(f"deleted {len(keys)} objects under {lake_root}")
    except Exception as exc:
        done.append(f"could not delete the objects under {lake_root}: {exc}")
    return done


def format_report(report: SmokeReport) -> str:
    """A table of pass/fail per query case, then each failure's problems."""
    from lake.cli.format import table

    rows = [
        {
            "query": c.label,
            "bigquery_rows": c.bigquery_rows,
            "duckdb_rows": c.duckdb_rows,
            "result": "pass" if c.ok else "FAIL",
        }
        for c in report.comparisons
    ]
    lines = [table(pa.Table.from_pylist(rows)) if rows else "(no query ran)"]
    for c in report.comparisons:
        for problem in c.problems:
            lines.append(f"{c.label}: {problem}")
    passed = sum(c.ok for c in report.comparisons)
    lines.append(f"{passed} of {len(report.comparisons)} passed" + ("" if report.ok else ": BigQuery and DuckDB disagree"))
    return "\n".join(lines)
