from schemas.contract import Column, Kind, Table
from schemas.enums import LIQUIDITY_SIDE, ORDER_SIDE

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
)
