import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from schemas.contract import WIDE_DECIMAL, Column, Kind, RowCheck, Table, exact_sums, not_blank
from schemas.enums import ORDER_SIDE, ORDER_STATUS, ORDER_TYPE, TIME_IN_FORCE


def _checksum(ids: pa.ChunkedArray, amounts: pa.ChunkedArray) -> int:
    """Sum over rows of hash(id) * amount, modulo 2**64 (amount as its unscaled decimal128 integer).

    If every order's fills add up to its filled_qty, the fills' checksum equals the orders' (an order
    contributes hash(id) * filled_qty either way); a mismatch makes them differ except with odds ~2**-64.
    """
    keys = pl.from_arrow(ids).hash(seed=0).to_numpy()
    values = amounts.combine_chunks()
    words = np.frombuffer(values.buffers()[1], dtype="<u8")  # two little-endian 64-bit words per value
    low = words[2 * values.offset : 2 * (values.offset + len(values)) : 2]  # the value modulo 2**64
    return int(np.sum(keys * low, dtype=np.uint64))  # uint64 arithmetic wraps: exactly modulo 2**64


def _filled_qty_equals_fills(orders: pa.Table, tables: dict[str, pa.Table]) -> pa.Array:
    """True where filled_qty is the exact sum of the order's fills' last_qty (null for an order without fills).

    Fast path: one checksum per table (see _checksum), a few milliseconds on a million rows. Only when
    they differ (or nulls are about) the exact path: sums per order in decimal256, which cannot overflow.
    """
    fills = tables["fills"]
    if fills.num_rows == 0:
        return pa.nulls(orders.num_rows, pa.bool_())
    columns = [fills.column("client_order_id"), fills.column("last_qty"), orders.column("client_order_id"),
               orders.column("filled_qty")]
    if not any(c.null_count for c in columns):
        if _checksum(columns[0], columns[1]) == _checksum(columns[2], columns[3]):
            return pa.nulls(orders.num_rows, pa.bool_())
    sums = exact_sums(fills.column("client_order_id"), fills.column("last_qty"))
    rows = pa.table({
        "key": orders.column("client_order_id"),
        "filled_qty": orders.column("filled_qty").cast(WIDE_DECIMAL),
        "row": pa.array(range(orders.num_rows), pa.int64()),
    })
    joined = rows.join(sums, "key", join_type="left outer").sort_by("row")
    return pc.equal(joined.column("filled_qty"), joined.column("amount_sum")).combine_chunks()


ORDERS = Table(
    name="orders",
    version=1,
    description="Every order of a run, in its last known state.",
    columns=(
        Column("client_order_id", Kind.STRING, "Order id assigned by the strategy; unique within a run.", unique=True),
        Column("venue_order_id", Kind.STRING, "Order id assigned by the venue; null if never accepted.", nullable=True),
        Column("strategy_id", Kind.STRING, "Strategy that submitted the order."),
        Column("instrument_id", Kind.STRING, "Instrument, as SYMBOL.VENUE (e.g. BTCUSDT.BINANCE)."),
        Column("order_side", Kind.STRING, "BUY or SELL.", domain=ORDER_SIDE),
        Column("order_type", Kind.STRING, "Order type (MARKET, LIMIT, STOP_MARKET, ...).", domain=ORDER_TYPE),
        Column("quantity", Kind.DECIMAL, "Ordered quantity in base units.", positive=True),
        Column("filled_qty", Kind.DECIMAL, "Quantity filled so far.", non_negative=True),
        Column("price", Kind.DECIMAL, "Limit price; null for orders without one (e.g. market).", nullable=True, positive=True),
        Column("trigger_price", Kind.DECIMAL, "Stop trigger price; null for orders without one.", nullable=True, positive=True),
        Column("avg_px", Kind.DECIMAL, "Average fill price; null if nothing filled.", nullable=True, positive=True),
        Column("status", Kind.STRING, "Last order status (FILLED, CANCELED, ...).", domain=ORDER_STATUS),
        Column("time_in_force", Kind.STRING, "Time in force (GTC, IOC, ...).", domain=TIME_IN_FORCE),
        Column("ts_init", Kind.TIMESTAMP, "When the order was created (UTC).", exact_ns=True),
        Column("ts_last", Kind.TIMESTAMP, "When the order last changed state (UTC).", exact_ns=True),
    ),
    row_checks=(
        *not_blank("client_order_id", "venue_order_id", "strategy_id", "instrument_id"),
        RowCheck(
            "filled_qty_equals_fills",
            ("filled_qty", "client_order_id", "fills.last_qty"),
            _filled_qty_equals_fills,
            "for an order with fills, filled_qty equals the exact sum of their last_qty",
            reads=("fills",),
        ),
        RowCheck(
            "filled_qty_le_quantity",
            ("filled_qty", "quantity"),
            lambda: pl.col("filled_qty") <= pl.col("quantity"),
            "filled_qty must not exceed quantity",
        ),
        RowCheck(
            "avg_px_set_when_filled",
            ("avg_px", "filled_qty"),
            lambda: (pl.col("filled_qty") == 0) | pl.col("avg_px").is_not_null(),
            "avg_px must be set when filled_qty > 0",
        ),
        RowCheck(
            "ts_last_ge_ts_init",
            ("ts_last_ns", "ts_init_ns"),
            lambda: pl.col("ts_last_ns") >= pl.col("ts_init_ns"),
            "ts_last must not precede ts_init",
        ),
    ),
)
