import polars as pl
import pyarrow as pa

from schemas.contract import Column, Kind, RowCheck, Table, not_blank, references
from schemas.enums import LIQUIDITY_SIDE, ORDER_SIDE


def _instrument_matches_order(fills: pa.Table, tables: dict[str, pa.Table]) -> pa.Array:
    """True where the fill's instrument is its order's (null where the order is missing: references_orders says so).

    Fast path: every fill's (client_order_id, instrument_id) pair, as a 64-bit hash, is among the orders'
    pairs; the exact join only when one is not.
    """
    columns = ["client_order_id", "instrument_id"]
    fill_pairs, order_pairs = (pl.from_arrow(t.select(columns)) for t in (fills, tables["orders"]))
    pair = pl.struct(*columns).hash(seed=0)
    if fill_pairs.select(pair).to_series().is_in(order_pairs.select(pair).to_series().implode()).all():
        return pa.nulls(fills.num_rows, pa.bool_())
    orders = order_pairs.unique("client_order_id", keep="first").rename({"instrument_id": "order_instrument_id"})
    joined = fill_pairs.with_row_index("row").join(orders, on="client_order_id", how="left").sort("row")
    return joined.select(pl.col("instrument_id") == pl.col("order_instrument_id")).to_series().to_arrow()


FILLS = Table(
    name="fills",
    version=1,
    description="One row per OrderFilled event of a run.",
    columns=(
        Column("trade_id", Kind.STRING, "Venue trade id of the fill; unique within a run.", unique=True),
        Column("client_order_id", Kind.STRING, "Order that was filled (orders.client_order_id)."),
        Column("venue_order_id", Kind.STRING, "Venue id of the order that was filled."),
        Column("position_id", Kind.STRING, "Position the fill belongs to; null if none.", nullable=True),
        Column("strategy_id", Kind.STRING, "Strategy that owns the order."),
        Column("instrument_id", Kind.STRING, "Instrument, as SYMBOL.VENUE."),
        Column("order_side", Kind.STRING, "BUY or SELL.", domain=ORDER_SIDE),
        Column("last_qty", Kind.DECIMAL, "Quantity filled by this event.", positive=True),
        Column("last_px", Kind.DECIMAL, "Price of this fill.", positive=True),
        Column("commission", Kind.DECIMAL, "Commission charged (negative for a rebate)."),
        Column("commission_currency", Kind.STRING, "Currency of the commission."),
        Column("liquidity_side", Kind.STRING, "MAKER, TAKER or NO_LIQUIDITY_SIDE.", domain=LIQUIDITY_SIDE),
        Column("ts_event", Kind.TIMESTAMP, "When the fill happened (UTC).", exact_ns=True),
    ),
    row_checks=(
        *not_blank("trade_id", "client_order_id", "venue_order_id", "position_id", "strategy_id", "instrument_id",
                   "commission_currency"),
        references("references_orders", "client_order_id", "orders", "client_order_id",
                   "every fill's order is in orders (same run)"),
        references("references_positions", "position_id", "positions", "position_id",
                   "every fill's position (when set) is in positions (same run)"),
        RowCheck(
            "instrument_matches_order",
            ("instrument_id", "client_order_id", "orders.instrument_id"),
            _instrument_matches_order,
            "a fill's instrument_id is its order's instrument_id",
            reads=("orders",),
        ),
    ),
)
