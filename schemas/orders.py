import polars as pl

from schemas.contract import Column, Kind, RowCheck, Table
from schemas.enums import ORDER_SIDE, ORDER_STATUS, ORDER_TYPE, TIME_IN_FORCE

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
