"""The contract tables from a finished engine's cache: orders and fills, positions, equity.

Read straight from the cache objects rather than through Nautilus's
`generate_*_report()` calls: those build one dict per row and format money as
strings such as '525.00 USD' (bench/extract.py measures the difference). Only
long-standing public attributes are read (order, fill, position and account
attributes), the ones 1.231 keeps too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

import pyarrow as pa

from nautilus_trader.model import enums as _enums
from nautilus_trader.model.events import OrderFilled

from lake.fixed_point import NS_PER_US, units_array
from lake.nautilus.units import RAW_PER_UNIT, float_to_units, ns_arrays, raw_to_units, raw_units_array
from schemas import TABLES, Kind


class EnumNames(dict):
    """int enum value -> NautilusTrader's member name (via its *_to_str function), cached.

    Used as names.get(v) or names(v): the dict lookup is the fast path on millions of rows.
    """

    def __init__(self, to_str):
        super().__init__()
        self._to_str = to_str

    def __call__(self, value) -> str:
        name = self.get(value)
        if name is None:
            name = value.name if hasattr(value, "name") and not isinstance(value, int) else self._to_str(int(value))
            self[value] = name
        return name


_side = EnumNames(_enums.order_side_to_str)
_order_type = EnumNames(_enums.order_type_to_str)
_status = EnumNames(_enums.order_status_to_str)
_tif = EnumNames(_enums.time_in_force_to_str)
_liquidity = EnumNames(_enums.liquidity_side_to_str)
_position_side = EnumNames(_enums.position_side_to_str)
account_type_name = EnumNames(_enums.account_type_to_str)
oms_type_name = EnumNames(_enums.oms_type_to_str)

# Decimal columns NautilusTrader keeps as binary floats: already 1e-9 units (float_to_units), never raw.
_FLOAT_DECIMALS = frozenset({"avg_px", "avg_px_open", "avg_px_close"})


def orders_and_fills(orders: Iterable) -> tuple[pa.Table, pa.Table]:
    """Orders (one row each, in its last state) and their OrderFilled events, in one pass."""
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
        "ts": pa.array([k[0] for k in keys], pa.int64()).cast(Kind.TIMESTAMP.arrow),
        "currency": pa.array([k[1] for k in keys], pa.string()),
        "balance": units_array(balance),
        "unrealized_pnl": units_array(unrealized),
        "equity": units_array([b + u for b, u in zip(balance, unrealized)]),
    }
    return _assemble("equity_curve", out)


def account_state_samples(accounts: Iterable) -> dict[tuple[int, str], tuple[int, int]]:
    """Realized-only equity from account states: balance per currency, no unrealized PnL.

    The fallback when the engine ran without an EquityRecorder. Balances of several
    accounts in one currency are added up; the last state at a given microsecond wins.
    """
    accounts = list(accounts)
    d = RAW_PER_UNIT
    if len(accounts) == 1:  # the usual case: no sums across accounts needed
        samples: dict[tuple[int, str], tuple[int, int]] = {}
        for state in accounts[0].events:
            ts = state.ts_event // NS_PER_US
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
            ts = state.ts_event // NS_PER_US
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


# ---------------------------------------------------------------- rows -> contract columns


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
            out[col.name] = units_array(values) if col.name in _FLOAT_DECIMALS else raw_units_array(values, table, col.name, ids)
        elif col.kind is Kind.TIMESTAMP and col.exact_ns:
            out[col.name], out[col.ns_name] = ns_arrays(values)
        else:
            out[col.name] = pa.array(values, col.kind.arrow)
    return _assemble(table, out)


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, list]:
    """Row tuples transposed into one list per column."""
    if not rows:
        return {name: [] for name in names}
    return dict(zip(names, map(list, zip(*rows))))


def _assemble(table: str, columns: dict[str, pa.Array]) -> pa.Table:
    """The contract table, with its derived columns (e.g. equity_curve.peak_equity) computed."""
    for col in TABLES[table].columns:
        if col.derive and col.name not in columns:
            columns[col.name] = col.derive(pa.table(columns))
    schema = TABLES[table].arrow_schema
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
