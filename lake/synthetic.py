"""Consistent synthetic runs for tests, benchmarks and demos, built vectorised.

Fills reference orders, positions reference fills, money adds up exactly:
every amount is made in integer units of 1e-9 and turned into decimal128(38, 9)
without passing through floats (lake.fixed_point).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake.fixed_point import DECIMAL, NS_PER_SECOND, NS_PER_US, UNITS_PER_ONE, units_array
from lake.run import Run

PER_CENT = UNITS_PER_ONE // 100  # prices are drawn in cents
PER_MILLI = UNITS_PER_ONE // 1000  # quantities in thousandths
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_BASE_PRICE_CENTS = {"BTCUSDT.BINANCE": 6_500_000, "ETHUSDT.BINANCE": 350_000}


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _timestamps(ns: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(ns, pa.timestamp("ns", tz="UTC"), mask=mask)


def synthetic_run(
    run_id: str,
    n_fills: int = 1_000,
    seed: int = 0,
    *,
    n_orders: int | None = None,
    n_positions: int | None = None,
    n_equity: int | None = None,
    instruments: tuple[str, ...] = ("BTCUSDT.BINANCE", "ETHUSDT.BINANCE"),
    strategy_id: str = "EMACross-001",
    config: dict | None = None,
) -> Run:
    """A run with n_fills fills; orders, positions and equity points scale with it by default."""
    rng = np.random.default_rng(seed)
    n_orders = n_fills if n_orders is None else n_orders
    n_filled = min(n_orders, n_fills)
    n_positions = max(1, n_filled // 5) if n_positions is None else n_positions
    n_positions = min(n_positions, n_filled) if n_filled else 0
    n_equity = max(2, n_fills // 2) if n_equity is None else n_equity

    # Orders: the first n_filled are (partly) filled, the rest canceled unfilled.
    order_pos = (np.arange(n_filled) * n_positions // max(n_filled, 1)).astype(np.int64)
    inst_idx_pos = np.arange(n_positions) % len(instruments)
    order_inst = np.concatenate([inst_idx_pos[order_pos], rng.integers(0, len(instruments), n_orders - n_filled)])
    base = np.array([_BASE_PRICE_CENTS.get(i, 10_000) for i in instruments], dtype=np.int64)
    price_cents = base[order_inst] + rng.integers(-base[order_inst] // 20, base[order_inst] // 20 + 1)
    is_limit = rng.random(n_orders) < 0.5
    order_ts = START.timestamp() * NS_PER_SECOND + np.arange(n_orders, dtype=np.int64) * NS_PER_SECOND + rng.integers(0, 1000, n_orders)
    order_ts = order_ts.astype(np.int64)

    # Fills: each filled order gets at least one; fill i belongs to order fill_order[i].
    fill_order = (np.arange(n_fills) * n_filled // max(n_fills, 1)).astype(np.int64)
    qty_milli = rng.integers(1, 1000, n_fills)  # quantities of 0.001 .. 0.999
    fill_px_cents = price_cents[fill_order]
    commission_units = qty_milli * fill_px_cents  # 1 bp of notional, exact in 1e-9 units
    seq_in_order = np.arange(n_fills) - np.searchsorted(fill_order, fill_order)
    fill_ts = order_ts[fill_order] + 1_234_567 + seq_in_order * 1_000 + rng.integers(0, 1000, n_fills)
    filled_milli = np.bincount(fill_order, weights=qty_milli, minlength=n_orders).astype(np.int64)
    partial = np.zeros(n_orders, bool)
    partial[:n_filled] = rng.random(n_filled) < 0.1
    quantity_milli = np.where(np.arange(n_orders) < n_filled, filled_milli + partial * 100, rng.integers(1, 1000, n_orders))
    last_fill_ts = np.full(n_orders, -1, np.int64)
    np.maximum.at(last_fill_ts, fill_order, fill_ts)
    ts_last = np.where(last_fill_ts >= 0, last_fill_ts, order_ts + 5_000_000)

    # Sides: a position's first order opens it, later orders alternate; positions close with their last order.
    first_order_of_pos = np.searchsorted(order_pos, np.arange(n_positions))
    last_order_of_pos = np.searchsorted(order_pos, np.arange(n_positions), side="right") - 1
    pos_entry_buy = rng.random(n_positions) < 0.5
    k_in_pos = np.arange(n_filled) - first_order_of_pos[order_pos]
    order_buy = np.concatenate([pos_entry_buy[order_pos] ^ (k_in_pos % 2 == 1), rng.random(n_orders - n_filled) < 0.5])
    side = np.where(order_buy, "BUY", "SELL")

    status = np.where(np.arange(n_orders) >= n_filled, "CANCELED", np.where(partial, "CANCELED", "FILLED"))
    orders = pa.table(
        {
            "client_order_id": _ids("O-", np.arange(1, n_orders + 1)),
            "venue_order_id": _ids("V-", np.arange(1, n_orders + 1)),
            "strategy_id": pa.array(np.full(n_orders, strategy_id)),
            "instrument_id": pa.array(np.asarray(instruments, dtype=object)[order_inst].astype(str)),
            "order_side": pa.array(side),
            "order_type": pa.array(np.where(is_limit, "LIMIT", "MARKET")),
            "quantity": units_array(quantity_milli * PER_MILLI),
            "filled_qty": units_array(np.concatenate([filled_milli[:n_filled], np.zeros(n_orders - n_filled, np.int64)]) * PER_MILLI),
            "price": units_array(price_cents * PER_CENT, valid=is_limit),
            "trigger_price": pa.nulls(n_orders, DECIMAL),
            "avg_px": units_array(price_cents * PER_CENT, valid=np.arange(n_orders) < n_filled),
            "status": pa.array(status),
            "time_in_force": pa.array(np.where(is_limit, "GTC", "IOC")),
            "ts_init": _timestamps(order_ts),
            "ts_last": _timestamps(ts_last),
        }
    )

    pos_ids = _ids("P-", np.arange(1, n_positions + 1))
    fills = pa.table(
        {
            "trade_id": _ids("T-", np.arange(1, n_fills + 1)),
            "client_order_id": orders.column("client_order_id").take(fill_order),
            "venue_order_id": orders.column("venue_order_id").take(fill_order),
            "position_id": pos_ids.take(order_pos[fill_order]),
            "strategy_id": pa.array(np.full(n_fills, strategy_id)),
            "instrument_id": orders.column("instrument_id").take(fill_order),
            "order_side": pa.array(side[fill_order]),
            "last_qty": units_array(qty_milli * PER_MILLI),
            "last_px": units_array(fill_px_cents * PER_CENT),
            "commission": units_array(commission_units),
            "commission_currency": pa.array(np.full(n_fills, "USDT")),
            "liquidity_side": pa.array(np.where(is_limit[fill_order], "MAKER", "TAKER")),
            "ts_event": _timestamps(fill_ts),
        }
    )

    # Positions: open at the first order's price, close at the last order's (if it has more than one).
    closed = last_order_of_pos > first_order_of_pos
    open_px = price_cents[first_order_of_pos]
    close_px = price_cents[last_order_of_pos]
    peak_milli = filled_milli[first_order_of_pos]
    direction = np.where(pos_entry_buy, 1, -1)
    pos_commission = np.bincount(order_pos[fill_order], weights=commission_units, minlength=n_positions).astype(np.int64)
    gross = np.where(closed, (close_px - open_px) * peak_milli * direction * (PER_CENT * PER_MILLI // UNITS_PER_ONE), 0)
    realized = gross - pos_commission
    opened_ts = order_ts[first_order_of_pos] + 1_234_567
    closed_ts = ts_last[last_order_of_pos]
    positions = pa.table(
        {
            "position_id": pos_ids,
            "strategy_id": pa.array(np.full(n_positions, strategy_id)),
            "instrument_id": pa.array(np.asarray(instruments, dtype=object)[inst_idx_pos].astype(str)),
            "opening_order_id": orders.column("client_order_id").take(first_order_of_pos),
            "closing_order_id": pa.array(
                orders.column("client_order_id").take(last_order_of_pos).to_numpy(zero_copy_only=False), mask=~closed
            ),
            "entry": pa.array(np.where(pos_entry_buy, "BUY", "SELL")),
            "side": pa.array(np.where(closed, "FLAT", np.where(pos_entry_buy, "LONG", "SHORT"))),
            "quantity": units_array(np.where(closed, 0, peak_milli) * PER_MILLI),
            "peak_qty": units_array(peak_milli * PER_MILLI),
            "avg_px_open": units_array(open_px * PER_CENT),
            "avg_px_close": units_array(close_px * PER_CENT, valid=closed),
            "realized_pnl": units_array(realized),
            "currency": pa.array(np.full(n_positions, "USDT")),
            "ts_opened": _timestamps(opened_ts),
            "ts_closed": _timestamps(np.maximum(closed_ts, opened_ts), valid=closed),
            "is_snapshot": pa.array(np.zeros(n_positions, bool)),
        }
    )

    # Equity: balance steps with realized PnL as positions close; unrealized is noise around it.
    start_ns = int(START.timestamp()) * NS_PER_SECOND
    end_ns = int(max(order_ts.max(initial=start_ns), fill_ts.max(initial=start_ns))) + NS_PER_SECOND
    eq_ts = np.linspace(start_ns, end_ns, n_equity).astype(np.int64) // NS_PER_US * NS_PER_US
    eq_ts = np.unique(eq_ts)
    order_by_close = np.argsort(closed_ts)
    cum = np.concatenate([[0], np.cumsum(realized[order_by_close])])
    balance = 100_000 * UNITS_PER_ONE + cum[np.searchsorted(closed_ts[order_by_close], eq_ts, side="right")]
    unrealized = rng.integers(-500, 500, len(eq_ts)) * PER_CENT
    equity_curve = pa.table(
        {
            "ts": pa.array(eq_ts // NS_PER_US, pa.timestamp("us", tz="UTC")),
            "currency": pa.array(np.full(len(eq_ts), "USDT")),
            "balance": units_array(balance),
            "unrealized_pnl": units_array(unrealized),
            "equity": units_array(balance + unrealized),
        }
    )

    total_pnl = realized.sum() / UNITS_PER_ONE
    wins = (realized[closed] > 0).mean() if closed.any() else None
    summary = {
        "trader_id": "BACKTESTER-001",
        "strategy_ids": [strategy_id],
        "instrument_ids": sorted(instruments),
        "venues": sorted({i.rsplit(".", 1)[-1] for i in instruments}),
        "backtest_start": START,
        "backtest_end": START + dt.timedelta(microseconds=(end_ns - start_ns) // NS_PER_US),
        "total_orders": n_orders,
        "total_positions": n_positions,
        "stats_pnls": {"USDT": {"PnL (total)": float(total_pnl), "Win Rate": None if wins is None else float(wins)}},
        "stats_returns": {"Sharpe Ratio (252 days)": float(rng.normal(1, 0.5)), "Profit Factor": float(rng.uniform(0.8, 1.6))},
        "equity_source": "synthetic",
        "seed": seed,
    }
    config = config if config is not None else {"strategy": {"strategy_id": strategy_id, "fast_ema": 10, "slow_ema": 20}, "seed": seed}
    log = "".join(f'{{"level":"INFO","message":"synthetic run {run_id} step {i}"}}\n' for i in range(3))
    return Run(run_id, summary, orders, fills, positions, equity_curve, config=config, log=log)
