"""NautilusTrader -> Run: read a finished engine's cache straight into contract Arrow tables.

Besides the backtest runner (lake/backtest/), the only module that imports
nautilus_trader; lake/__init__ imports it lazily, so writing runs works without it. It reads the cache directly instead
of calling the `generate_*_report()` methods: those build one dict per row and
format money as strings such as '525.00 USD' (bench/extract.py measures the
difference).

Exactness: prices, quantities and money are fixed-point values in Nautilus;
their raw integers are rescaled to decimal128(38, 9) without any float, and a
value that needs more than 9 decimals raises. Average prices (orders.avg_px,
positions.avg_px_open/avg_px_close) are binary floats inside Nautilus itself;
they are written as the float's shortest decimal form rounded half-even to 9
decimals. Only long-standing public attributes are read (order, fill, position
and account attributes, cache queries, get_result, the portfolio analyzer), the
ones 1.231 keeps too.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import re
import uuid
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

import nautilus_trader
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model import enums as _enums
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.events import AccountState, OrderFilled
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import FIXED_PRECISION

from lake.errors import LakeError
from lake.run import Run, check_run_id
from schemas import TABLES, Kind

SCALE = 9
_UNIT = Decimal(1).scaleb(-SCALE)
_WIDE = Context(prec=80)  # room for any float's digits at 9 decimals
_MAX_UNITS = 10**38 - 1
_DECIMAL = pa.decimal128(38, SCALE)
_TS = pa.timestamp("us", tz="UTC")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class ExtractionError(LakeError, ValueError):
    """A NautilusTrader value that cannot be stored exactly (e.g. more than 9 decimals)."""


# ---------------------------------------------------------------- exact numbers


def _raw_divisor() -> int:
    if FIXED_PRECISION < SCALE:
        raise ExtractionError(f"nautilus_trader fixed precision {FIXED_PRECISION} is below {SCALE}")
    return 10 ** (FIXED_PRECISION - SCALE)


_RAW_DIVISOR = _raw_divisor()


def raw_to_units(raw: int, where: str = "value") -> int:
    """A Nautilus fixed-point raw integer (FIXED_PRECISION decimals) as an integer of 1e-9 units."""
    units, rest = divmod(raw, _RAW_DIVISOR)
    if rest:
        value = Decimal(raw).scaleb(-FIXED_PRECISION).normalize()
        raise ExtractionError(f"{where}: {value} needs more than {SCALE} decimals; it cannot be stored exactly")
    return units


def float_to_units(value: float, where: str = "value") -> int:
    """A Nautilus float (average prices) as 1e-9 units: its shortest repr, rounded half-even.

    Done on the repr's digits (no Decimal) unless the repr has an exponent.
    """
    text = repr(value)
    negative = text.startswith("-")
    whole, dot, frac = text.lstrip("-").partition(".")
    if not (dot and whole.isdigit() and frac.isdigit()):
        if not math.isfinite(value):
            raise ExtractionError(f"{where}: {value!r} is not a finite number")
        units = Decimal(text).quantize(_UNIT, rounding=ROUND_HALF_EVEN, context=_WIDE).scaleb(SCALE, context=_WIDE)
        return int(units)
    units = int(whole + frac[:SCALE].ljust(SCALE, "0"))
    rest = frac[SCALE:]
    if rest:
        first = rest[0]
        if first > "5" or (first == "5" and (rest[1:].strip("0") or units % 2)):
            units += 1
    return -units if negative else units


def decimal_to_units(value: Decimal, where: str = "value") -> int:
    units = value.scaleb(SCALE)
    if units != units.to_integral_value():
        raise ExtractionError(f"{where}: {value} needs more than {SCALE} decimals; it cannot be stored exactly")
    return int(units)


def units_array(units: list[int | None]) -> pa.Array:
    """decimal128(38, 9) from integer 1e-9 units (None = null), built without Decimal objects."""
    n = len(units)
    mask = None
    if None in units:
        mask = np.array([u is None for u in units])
        units = [0 if u is None else u for u in units]
    try:
        low = np.array(units, dtype=np.int64)
    except OverflowError:
        if any(abs(u) > _MAX_UNITS for u in units):
            raise ExtractionError("a value exceeds decimal128(38, 9)") from None
        data = b"".join(u.to_bytes(16, "little", signed=True) for u in units)
    else:
        # decimal128 is a little-endian 128-bit two's complement integer: low word, sign-extended high word.
        words = np.empty((n, 2), dtype=np.int64)
        words[:, 0] = low
        words[:, 1] = low >> 63
        data = words.tobytes()
    validity = None
    null_count = 0
    if mask is not None:
        null_count = int(mask.sum())
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little").tobytes())
    return pa.Array.from_buffers(_DECIMAL, n, [validity, pa.py_buffer(data)], null_count=null_count)


def ns_arrays(ns: list[int | None]) -> tuple[pa.Array, pa.Array]:
    """(timestamp[us, UTC], int64 exact ns) from UNIX nanoseconds; None = null."""
    exact = pa.array(ns, type=pa.int64())
    if exact.null_count == 0:
        micros = pa.array(exact.to_numpy() // 1000)
    else:
        micros = pa.array([None if v is None else v // 1000 for v in ns], type=pa.int64())
    return micros.cast(_TS), exact


def ns_to_datetime(ns: int | None) -> dt.datetime | None:
    if ns is None:
        return None
    return _EPOCH + dt.timedelta(microseconds=int(ns) // 1000)


def _iso(ns: int | None) -> str | None:
    value = ns_to_datetime(ns)
    return value.isoformat() if value is not None else None


def _finite(value: Any) -> Any:
    """NaN and inf become None, at any depth; numpy scalars become Python values."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _EnumNames(dict):
    """int enum value -> NautilusTrader's member name (via its *_to_str function), cached; used as names.get(v) or names(v)."""

    def __init__(self, to_str):
        super().__init__()
        self._to_str = to_str

    def __call__(self, value) -> str:
        name = self.get(value)
        if name is None:
            name = value.name if hasattr(value, "name") and not isinstance(value, int) else self._to_str(int(value))
            self[value] = name
        return name


_side = _EnumNames(_enums.order_side_to_str)
_order_type = _EnumNames(_enums.order_type_to_str)
_status = _EnumNames(_enums.order_status_to_str)
_tif = _EnumNames(_enums.time_in_force_to_str)
_liquidity = _EnumNames(_enums.liquidity_side_to_str)
_position_side = _EnumNames(_enums.position_side_to_str)
_account_type = _EnumNames(_enums.account_type_to_str)


def _str(value) -> str | None:
    return None if value is None else str(value)


def _units(raws: list[int | None], table: str, column: str, ids: list) -> pa.Array:
    d = _RAW_DIVISOR
    if None in raws:
        units = [None if r is None else r // d for r in raws]
        inexact = any(r % d for r in raws if r is not None)
    else:
        units = [r // d for r in raws]
        inexact = any(r % d for r in raws)
    if inexact:
        for i, r in enumerate(raws):
            if r is not None and r % d:
                raw_to_units(r, f"{table}.{column} row {i} ({ids[i]})")  # raises, naming the row
    return units_array(units)


# Decimal columns NautilusTrader keeps as binary floats: already 1e-9 units (float_to_units), never raw.
_FLOAT_DECIMALS = frozenset({"avg_px", "avg_px_open", "avg_px_close"})


def _contract_table(table: str, rows: list[tuple], id_column: str) -> pa.Table:
    """Row tuples, in the contract's column order, as the table's exact Arrow columns.

    Each column's conversion follows its kind in schemas/, so a column added to the
    contract needs a value in the row tuple and nothing else here.
    """
    contract = TABLES[table]
    cols = _columns(rows, tuple(c.name for c in contract.columns))
    ids = cols[id_column]
    out: dict[str, pa.Array] = {}
    for col in contract.columns:
        values = cols[col.name]
        if col.kind is Kind.DECIMAL:
            out[col.name] = units_array(values) if col.name in _FLOAT_DECIMALS else _units(values, table, col.name, ids)
        elif col.kind is Kind.TIMESTAMP and col.exact_ns:
            out[col.name], out[col.ns_name] = ns_arrays(values)
        else:
            out[col.name] = pa.array(values, col.kind.arrow)
    return _assemble(table, out)


def _assemble(table: str, columns: dict[str, pa.Array]) -> pa.Table:
    """The contract table, with its derived columns (e.g. equity_curve.peak_equity) computed."""
    for col in TABLES[table].columns:
        if col.derive and col.name not in columns:
            columns[col.name] = col.derive(pa.table(columns))
    schema = TABLES[table].arrow_schema
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


# ---------------------------------------------------------------- tables


def orders_table(orders: Iterable) -> pa.Table:
    """One row per order, in its last state."""
    return orders_and_fills(orders)[0]


def fills_table(orders: Iterable) -> pa.Table:
    """One row per OrderFilled event of the orders."""
    return orders_and_fills(orders)[1]


def orders_and_fills(orders: Iterable) -> tuple[pa.Table, pa.Table]:
    """Orders and their fills in one pass: one tuple per row, transposed into columns at the end."""
    order_rows: list[tuple] = []
    fill_rows: list[tuple] = []
    add_order, add_fill = order_rows.append, fill_rows.append
    sides, types, statuses, tifs, liquidity = _side, _order_type, _status, _tif, _liquidity
    for o in orders:
        cid, sid, iid = o.client_order_id.value, o.strategy_id.value, str(o.instrument_id)
        side = sides.get(o.side) or sides(o.side)
        filled = o.filled_qty.raw
        venue_order_id = o.venue_order_id
        ts_init = o.ts_init
        add_order((
            cid,
            None if venue_order_id is None else venue_order_id.value,
            sid,
            iid,
            side,
            types.get(o.order_type) or types(o.order_type),
            o.quantity.raw,
            filled,
            o.price.raw if o.has_price else None,
            o.trigger_price.raw if o.has_trigger_price else None,
            float_to_units(o.avg_px, f"orders.avg_px ({cid})") if filled else None,
            statuses.get(o.status) or statuses(o.status),
            tifs.get(o.time_in_force) or tifs(o.time_in_force),
            ts_init,
            o.ts_last or ts_init,
        ))
        if not filled:
            continue
        # A fill's order identity is its order's: computed once per order, not per fill.
        for e in o.events:
            if type(e) is not OrderFilled and not isinstance(e, OrderFilled):
                continue
            pid = e.position_id
            commission = e.commission
            add_fill((
                e.trade_id.value,
                cid,
                e.venue_order_id.value,
                None if pid is None else pid.value,
                sid,
                iid,
                sides.get(e.order_side) or sides(e.order_side),
                e.last_qty.raw,
                e.last_px.raw,
                commission.raw,
                commission.currency.code,
                liquidity.get(e.liquidity_side) or liquidity(e.liquidity_side),
                e.ts_event,
            ))
    return _contract_table("orders", order_rows, "client_order_id"), _contract_table("fills", fill_rows, "trade_id")


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, list]:
    if not rows:
        return {name: [] for name in names}
    return dict(zip(names, map(list, zip(*rows))))


def positions_table(positions: Iterable, snapshots: Iterable = ()) -> pa.Table:
    """Positions, then snapshots of closed NETTING legs (is_snapshot=True, id '<position_id>-<uuid>')."""
    rows: list[tuple] = []
    add = rows.append
    sides, position_sides = _side, _position_side
    for is_snapshot, group in ((False, positions), (True, snapshots)):
        for p in group:
            pid = p.id.value
            closing = p.closing_order_id
            close_px = p.avg_px_close
            pnl = p.realized_pnl
            closed = p.is_closed
            add((
                pid,
                p.strategy_id.value,
                str(p.instrument_id),
                p.opening_order_id.value,
                None if closing is None else closing.value,
                sides.get(p.entry) or sides(p.entry),
                position_sides.get(p.side) or position_sides(p.side),
                p.quantity.raw,
                p.peak_qty.raw,
                float_to_units(p.avg_px_open, f"positions.avg_px_open ({pid})"),
                float_to_units(close_px, f"positions.avg_px_close ({pid})") if close_px else None,
                0 if pnl is None else pnl.raw,
                (p.settlement_currency if pnl is None else pnl.currency).code,
                p.ts_opened,
                p.ts_closed if closed and p.ts_closed else None,
                is_snapshot,
            ))
    return _contract_table("positions", rows, "position_id")


def equity_table(samples: dict[tuple[int, str], tuple[int, int]]) -> pa.Table:
    """Equity rows from {(ts_us, currency): (balance_units, unrealized_units)}, sorted by ts then currency."""
    keys = sorted(samples)
    balance = [samples[k][0] for k in keys]
    unrealized = [samples[k][1] for k in keys]
    out = {
        "ts": pa.array([k[0] for k in keys], pa.int64()).cast(_TS),
        "currency": pa.array([k[1] for k in keys], pa.string()),
        "balance": units_array(balance),
        "unrealized_pnl": units_array(unrealized),
        "equity": units_array([b + u for b, u in zip(balance, unrealized)]),
    }
    return _assemble("equity_curve", out)


def account_state_samples(accounts: Iterable) -> dict[tuple[int, str], tuple[int, int]]:
    """Realized-only equity from account states: balance per currency, no unrealized PnL.

    Balances of several accounts in one currency are added up; the last state at a
    given microsecond wins.
    """
    accounts = list(accounts)
    d = _RAW_DIVISOR
    if len(accounts) == 1:  # the usual case: no sums across accounts needed
        samples: dict[tuple[int, str], tuple[int, int]] = {}
        for state in accounts[0].events:
            ts = state.ts_event // 1000
            for balance in state.balances:
                units, rest = divmod(balance.total.raw, d)
                if rest:
                    raw_to_units(balance.total.raw, f"account {accounts[0].id} balance")  # raises
                samples[(ts, balance.currency.code)] = (units, 0)
        return samples
    per_account: dict[tuple[int, str], dict[str, int]] = {}
    for account in accounts:
        key = account.id.value
        for state in account.events:
            ts = state.ts_event // 1000
            for balance in state.balances:
                per_account.setdefault((ts, balance.currency.code), {})[key] = raw_to_units(
                    balance.total.raw, f"account {key} balance"
                )
    # Carry each account's last balance forward so sums stay complete when accounts update at different times.
    samples = {}
    last: dict[str, dict[str, int]] = defaultdict(dict)
    for ts, currency in sorted(per_account):
        last[currency].update(per_account[(ts, currency)])
        samples[(ts, currency)] = (sum(last[currency].values()), 0)
    return samples


# ---------------------------------------------------------------- equity recorder


class EquityRecorderConfig(ActorConfig, frozen=True):
    """bar_types / quote_instrument_ids: the prices that mark open positions and trigger samples.
    interval_secs: at most one price-triggered sample per interval (0 = at every bar or quote);
    account state changes are always sampled.
    """

    bar_types: tuple[str, ...] = ()
    quote_instrument_ids: tuple[str, ...] = ()
    interval_secs: float = 0.0


class EquityRecorder(Actor):
    """Samples balance, unrealized PnL and equity per currency at every bar (or interval) and account change.

    Several accounts in one currency are added up. A CASH account's holdings of a
    base asset (e.g. BTC bought with USDT) are valued in the quote currency at the
    last price, so its equity is one figure in the quote currency; unrealized PnL
    comes from the open positions, and balance = equity - unrealized PnL.
    """

    def __init__(self, config: EquityRecorderConfig | None = None) -> None:
        super().__init__(config or EquityRecorderConfig())
        self._interval_ns = int(self.config.interval_secs * 1e9)
        self._last_price: dict[InstrumentId, Any] = {}
        self._last_sample_ns: int | None = None
        self.samples: dict[tuple[int, str], tuple[int, int]] = {}

    def on_start(self) -> None:
        for bt in self.config.bar_types:
            self.subscribe_bars(BarType.from_str(bt))
        for iid in self.config.quote_instrument_ids:
            self.subscribe_quote_ticks(InstrumentId.from_str(iid))
        # Exact topics: in 1.221 a wildcard subscribed after a topic was first published never receives it.
        topics = {f"events.account.{account.id}" for account in self.cache.accounts()} | {"events.account.*"}
        for topic in sorted(topics):
            self.msgbus.subscribe(topic=topic, handler=self._on_account_state)

    def on_bar(self, bar: Bar) -> None:
        self._last_price[bar.bar_type.instrument_id] = bar.close
        self._maybe_sample(bar.ts_event)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self._last_price[tick.instrument_id] = _mid(tick)
        self._maybe_sample(tick.ts_event)

    def _on_account_state(self, event) -> None:
        # Sampled at the clock's now: 1.221 stamps some margin account states with an earlier ts_event.
        if isinstance(event, AccountState):
            self.sample(self.clock.timestamp_ns())

    def on_stop(self) -> None:
        self.sample(self.clock.timestamp_ns())

    def _maybe_sample(self, ts: int) -> None:
        if self._last_sample_ns is None or ts - self._last_sample_ns >= self._interval_ns:
            self.sample(ts)

    def sample(self, ts: int) -> None:
        """Record the accounts' state at ts (the last sample within one microsecond wins)."""
        self._last_sample_ns = ts
        balance: dict[str, Decimal] = defaultdict(Decimal)
        unrealized: dict[str, Decimal] = defaultdict(Decimal)
        open_positions = self.cache.positions_open()
        for account in self.cache.accounts():
            venue = account.id.get_issuer()
            cash = account.is_cash_account
            held: dict[str, Decimal] = defaultdict(Decimal)
            for currency, money in account.balances_total().items():
                quote = self._valuation(venue, currency) if cash else None
                if quote is None:
                    held[currency.code] += money.as_decimal()
                else:
                    instrument, price = quote
                    qc = instrument.quote_currency
                    step = Decimal(1).scaleb(-qc.precision)
                    held[qc.code] += (money.as_decimal() * price.as_decimal()).quantize(step, ROUND_HALF_EVEN)
            open_pnl: dict[str, Decimal] = defaultdict(Decimal)
            for position in open_positions:
                price = self._last_price.get(position.instrument_id)
                if position.account_id != account.id or price is None:
                    continue
                pnl = position.unrealized_pnl(price)
                open_pnl[pnl.currency.code] += pnl.as_decimal()
            for code in set(held) | set(open_pnl):
                # CASH holdings are marked at the last price, so they already contain the open PnL:
                # the realized balance is what remains without it. MARGIN balances are realized as they are.
                balance[code] += held.get(code, Decimal(0)) - (open_pnl.get(code, Decimal(0)) if cash else 0)
                unrealized[code] += open_pnl.get(code, Decimal(0))
        ts_us = ts // 1000
        for code in balance.keys() | unrealized.keys():
            self.samples[(ts_us, code)] = (
                decimal_to_units(balance[code], f"equity_curve.balance {code}"),
                decimal_to_units(unrealized[code], f"equity_curve.unrealized_pnl {code}"),
            )

    def _valuation(self, venue, currency):
        """(instrument, last price) that values `currency` in a quote currency, if currency is a traded base."""
        for instrument_id, price in sorted(self._last_price.items(), key=lambda kv: str(kv[0])):
            instrument = self.cache.instrument(instrument_id)
            if instrument is None or instrument_id.venue.value != venue:
                continue
            base = getattr(instrument, "base_currency", None)
            if base is not None and base == currency and instrument.quote_currency != currency:
                return instrument, price
        return None

    def table(self) -> pa.Table:
        return equity_table(self.samples)


def _mid(tick: QuoteTick):
    from nautilus_trader.model.objects import Price

    bid, ask = tick.bid_price, tick.ask_price
    mid = (bid.as_decimal() + ask.as_decimal()) / 2
    return Price.from_str(str(mid.quantize(Decimal(1).scaleb(-(bid.precision + 1)))))


# ---------------------------------------------------------------- the run


def from_nautilus(engine, *, run_id: str | None = None, config: Any = None, log_path: str | Path | None = None) -> Run:
    """The finished `engine` (a BacktestEngine after run()) as a Run.

    config: the BacktestRunConfig (or any Nautilus config, or a dict) the run came
    from; by default the engine, venue, strategy and actor configs are gathered.
    log_path: the engine's log file (e.g. the JSON file its LoggingConfig writes);
    BacktestEngine does not expose its logging config, so it is passed explicitly.
    """
    # Extraction builds millions of short-lived acyclic objects next to the engine's large heap: pausing the
    # cyclic garbage collector avoids repeated full-heap scans (superlinear at 100k fills; bench/extract.py).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _from_nautilus(engine, run_id, config, log_path)
    finally:
        if paused:
            gc.enable()


def _from_nautilus(engine, run_id, config, log_path) -> Run:
    cache = engine.cache
    result = engine.get_result()
    orders = cache.orders()
    snapshots = cache.position_snapshots()
    recorder = find_equity_recorder(engine)
    if recorder is not None:
        equity = recorder.table()
        equity_source = "equity_recorder"
    else:
        equity = equity_table(account_state_samples(cache.accounts()))
        equity_source = "account_states"
    orders_arrow, fills_arrow = orders_and_fills(orders)
    tables = {
        "orders": orders_arrow,
        "fills": fills_arrow,
        "positions": positions_table(cache.positions(), snapshots),
        "equity_curve": equity,
    }
    summary = build_summary(engine, result, tables, equity_source, len(snapshots))
    if run_id is None:
        run_id = default_run_id(result.run_started, summary["strategy_ids"])
    check_run_id(run_id)
    return Run(
        run_id=run_id,
        summary=summary,
        config=_config_dict(config) if config is not None else engine_config(engine),
        log=read_log(engine, log_path),
        **tables,
    )


def find_equity_recorder(engine) -> EquityRecorder | None:
    for actor in engine.trader.actors():
        if isinstance(actor, EquityRecorder):
            return actor
    return None


def build_summary(engine, result, tables: dict[str, pa.Table], equity_source: str, snapshot_count: int) -> dict:
    """The run's summary under NautilusTrader's BacktestResult names, plus identity and counts."""
    cache = engine.cache
    analyzer = engine.portfolio.analyzer
    try:
        general = analyzer.get_performance_stats_general()
    except Exception as exc:  # statistics are optional; an analyzer failure must not lose the run
        general = {"error": f"{type(exc).__name__}: {exc}"}
    accounts = {a.id.get_issuer(): _account_type(a.type) for a in cache.accounts()}
    return _finite(
        {
            "trader_id": result.trader_id,
            "run_id": result.run_id,
            "run_config_id": result.run_config_id,
            "instance_id": result.instance_id,
            "backtest_start": _iso(result.backtest_start),
            "backtest_end": _iso(result.backtest_end),
            "run_started": _iso(result.run_started),
            "run_finished": _iso(result.run_finished),
            "backtest_start_ns": result.backtest_start,
            "backtest_end_ns": result.backtest_end,
            "run_started_ns": result.run_started,
            "run_finished_ns": result.run_finished,
            "elapsed_time": result.elapsed_time,
            "iterations": result.iterations,
            "total_events": result.total_events,
            "total_orders": result.total_orders,
            "total_positions": result.total_positions,
            "stats_pnls": result.stats_pnls,
            "stats_returns": result.stats_returns,
            "stats_general": general,
            "strategy_ids": sorted(s.id.value for s in engine.trader.strategies()),
            "instrument_ids": sorted(str(i) for i in cache.instrument_ids()),
            "venues": sorted(v.value for v in engine.list_venues()),
            "account_types": accounts,
            "nautilus_trader_version": nautilus_trader.__version__,
            "equity_source": equity_source,
            "counts": {
                "orders": tables["orders"].num_rows,
                "fills": tables["fills"].num_rows,
                "positions": tables["positions"].num_rows,
                "position_snapshots": snapshot_count,
                "equity_points": tables["equity_curve"].num_rows,
            },
        }
    )


_RUN_ID_JUNK = re.compile(r"[^A-Za-z0-9._-]+")


def default_run_id(run_started_ns: int | None, strategy_ids: list[str]) -> str:
    """Sortable and readable: UTC start time, first strategy id, 8 hex of a uuid4."""
    started = ns_to_datetime(run_started_ns) or dt.datetime.now(dt.timezone.utc)
    strategy = _RUN_ID_JUNK.sub("-", strategy_ids[0])[:60].strip("-._") if strategy_ids else "run"
    return check_run_id(f"{started:%Y%m%dT%H%M%S}Z-{strategy or 'run'}-{uuid.uuid4().hex[:8]}")


def _config_dict(config: Any) -> dict:
    if isinstance(config, dict):
        return config
    if hasattr(config, "json"):  # NautilusConfig (msgspec): its own JSON form
        return json.loads(config.json())
    raise LakeError(f"config must be a dict or a NautilusTrader config, got {type(config).__name__}")


def engine_config(engine) -> dict:
    """The venues (as their accounts show them), strategy and actor configs as JSON-ready dicts.

    BacktestEngine keeps its own config private: pass `config=` to record it.
    """
    out: dict[str, Any] = {}
    out["venues"] = [
        {
            "venue": a.id.get_issuer(),
            "account_type": _account_type(a.type),
            "base_currency": _str(a.base_currency),
            "starting_balances": [str(m) for m in a.starting_balances().values()],
        }
        for a in engine.cache.accounts()
    ]
    out["strategies"] = [_component_config(s) for s in engine.trader.strategies()]
    out["actors"] = [_component_config(a) for a in engine.trader.actors()]
    return out


def _component_config(component) -> dict:
    config = component.config
    return {
        "id": str(component.id),
        "path": f"{type(component).__module__}:{type(component).__name__}",
        "config": json.loads(config.json()) if hasattr(config, "json") else None,
    }


def read_log(engine, log_path: str | Path | None) -> str | None:
    """The text of the engine's log file (the runner passes the JSON log it configured), or None."""
    if log_path is None:
        return None
    _flush_logs()
    path = Path(log_path)
    if not path.is_file():
        raise LakeError(f"log file not found: {path}")
    return path.read_text(encoding="utf-8", errors="replace")


def _flush_logs() -> None:
    try:
        from nautilus_trader.core import nautilus_pyo3

        nautilus_pyo3.logger_flush()
    except (ImportError, AttributeError):  # older or newer builds without the binding flush on exit
        pass


# ---------------------------------------------------------------- backend integration


def write_engine(engine, dest, *, run_id: str | None = None, config: Any = None, log_path=None,
                 overwrite: bool = False, progress=None):
    """from_nautilus + write_run in one call, after engine.run(). Returns the WriteReport."""
    from lake.writer import write_run

    run = from_nautilus(engine, run_id=run_id, config=config, log_path=log_path)
    return write_run(run, dest, overwrite=overwrite, progress=progress)


def write_node_results(node, dest, *, overwrite: bool = False) -> list:
    """Write every engine of a finished BacktestNode, each with its BacktestRunConfig as config.

    The node's run configs need dispose_on_completion=False, or the engines' caches
    are gone by the time the node returns.
    """
    reports = []
    for run_config in node.configs:
        engine = node.get_engine(run_config.id)
        if engine is None:
            raise LakeError(f"BacktestNode has no engine for run config {run_config.id!r}")
        if run_config.dispose_on_completion:
            raise LakeError(
                f"run config {run_config.id!r} has dispose_on_completion=True: its engine state is gone; "
                "set dispose_on_completion=False to write the results"
            )
        reports.append(write_engine(engine, dest, config=run_config, overwrite=overwrite))
    return reports
