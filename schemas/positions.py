import polars as pl

from schemas.contract import Column, Kind, RowCheck, Table, not_blank, references
from schemas.enums import ORDER_SIDE, POSITION_SIDE

POSITIONS = Table(
    name="positions",
    version=1,
    description="Positions of a run, including snapshots of closed NETTING legs.",
    columns=(
        Column(
            "position_id",
            Kind.STRING,
            "Position id; NETTING snapshots are '<position_id>-<uuid>'. Unique within a run.",
            unique=True,
        ),
        Column("strategy_id", Kind.STRING, "Strategy that owns the position."),
        Column("instrument_id", Kind.STRING, "Instrument, as SYMBOL.VENUE."),
        Column("opening_order_id", Kind.STRING, "client_order_id of the order that opened the position."),
        Column("closing_order_id", Kind.STRING, "client_order_id of the order that closed it; null if open.", nullable=True),
        Column("entry", Kind.STRING, "Side of the opening order: BUY or SELL.", domain=ORDER_SIDE),
        Column("side", Kind.STRING, "LONG, SHORT or FLAT (closed).", domain=POSITION_SIDE),
        Column("quantity", Kind.DECIMAL, "Open quantity; 0 once closed.", non_negative=True),
        Column("peak_qty", Kind.DECIMAL, "Largest quantity held.", positive=True),
        Column("avg_px_open", Kind.DECIMAL, "Average opening price.", positive=True),
        Column("avg_px_close", Kind.DECIMAL, "Average closing price; null if nothing closed.", nullable=True, positive=True),
        Column("realized_pnl", Kind.DECIMAL, "Realized PnL, commissions included, in `currency`."),
        Column("currency", Kind.STRING, "Settlement currency of realized_pnl."),
        Column("ts_opened", Kind.TIMESTAMP, "When the position opened (UTC).", exact_ns=True),
        Column("ts_closed", Kind.TIMESTAMP, "When the position closed (UTC); null if open.", nullable=True, exact_ns=True),
        Column("is_snapshot", Kind.BOOL, "True for a snapshot of a closed NETTING leg."),
    ),
    row_checks=(
        *not_blank("position_id", "strategy_id", "instrument_id", "opening_order_id", "closing_order_id", "currency"),
        references("opening_order_in_orders", "opening_order_id", "orders", "client_order_id",
                   "the order that opened the position is in orders (same run)"),
        references("closing_order_in_orders", "closing_order_id", "orders", "client_order_id",
                   "the order that closed the position (when set) is in orders (same run)"),
        RowCheck(
            "ts_closed_ge_ts_opened",
            ("ts_closed_ns", "ts_opened_ns"),
            lambda: pl.col("ts_closed_ns") >= pl.col("ts_opened_ns"),
            "ts_closed must not precede ts_opened",
        ),
        RowCheck(
            "quantity_le_peak_qty",
            ("quantity", "peak_qty"),
            lambda: pl.col("quantity") <= pl.col("peak_qty"),
            "quantity must not exceed peak_qty",
        ),
    ),
)
