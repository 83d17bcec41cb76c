"""Enum domains, spelled as NautilusTrader spells its enum member names.

Kept here as plain strings so the contract never imports nautilus_trader.
"""

ORDER_SIDE = ("BUY", "SELL")
ORDER_TYPE = (
    "MARKET",
    "LIMIT",
    "STOP_MARKET",
    "STOP_LIMIT",
    "MARKET_TO_LIMIT",
    "MARKET_IF_TOUCHED",
    "LIMIT_IF_TOUCHED",
    "TRAILING_STOP_MARKET",
    "TRAILING_STOP_LIMIT",
)
ORDER_STATUS = (
    "INITIALIZED",
    "DENIED",
    "EMULATED",
    "RELEASED",
    "SUBMITTED",
    "ACCEPTED",
    "REJECTED",
    "CANCELED",
    "EXPIRED",
    "TRIGGERED",
    "PENDING_UPDATE",
    "PENDING_CANCEL",
    "PARTIALLY_FILLED",
    "FILLED",
)
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTD", "DAY", "AT_THE_OPEN", "AT_THE_CLOSE")
LIQUIDITY_SIDE = ("NO_LIQUIDITY_SIDE", "MAKER", "TAKER")
POSITION_SIDE = ("FLAT", "LONG", "SHORT")
