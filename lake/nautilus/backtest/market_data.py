"""Synthetic, seeded market data for backtests, generated in code.

The package ships no market data and nothing is downloaded: prices follow a
seeded geometric random walk, so the same seed always gives the same bars and
quotes (and so the same backtest).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

VENUE = "BINANCE"
START = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass(frozen=True)
class Spec:
    """What a synthetic spot pair looks like: precisions, first price, volatility per step."""

    symbol: str
    base: str
    quote: str
    price_precision: int
    size_precision: int
    first_price: float
    volatility: float  # standard deviation of one step's log return
    volume: float  # mean base volume per bar
    fee: Decimal


SPECS: dict[str, Spec] = {
    "BTCUSDT": Spec("BTCUSDT", "BTC", "USDT", 2, 6, 42_000.0, 0.0015, 25.0, Decimal("0.001")),
    "ETHUSDT": Spec("ETHUSDT", "ETH", "USDT", 2, 5, 2_300.0, 0.0020, 400.0, Decimal("0.001")),
    "SOLUSDT": Spec("SOLUSDT", "SOL", "USDT", 3, 3, 100.0, 0.0030, 8_000.0, Decimal("0.001")),
    "BNBUSDT": Spec("BNBUSDT", "BNB", "USDT", 2, 4, 310.0, 0.0020, 2_500.0, Decimal("0.001")),
}


def instrument(symbol: str, venue: str = VENUE):
    """A Nautilus CurrencyPair for one of SPECS (spot, maker and taker fee as in SPECS)."""
    from nautilus_trader.model.currencies import Currency
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import CurrencyPair
    from nautilus_trader.model.objects import Price, Quantity

    if symbol not in SPECS:
        raise ValueError(f"no synthetic instrument {symbol!r}; known: {sorted(SPECS)}")
    s = SPECS[symbol]
    tick = Decimal(1).scaleb(-s.price_precision)
    lot = Decimal(1).scaleb(-s.size_precision)
    return CurrencyPair(
        instrument_id=InstrumentId(Symbol(symbol), Venue(venue)),
        raw_symbol=Symbol(symbol),
        base_currency=Currency.from_str(s.base),
        quote_currency=Currency.from_str(s.quote),
        price_precision=s.price_precision,
        size_precision=s.size_precision,
        price_increment=Price.from_str(str(tick)),
        size_increment=Quantity.from_str(str(lot)),
        lot_size=None,
        max_quantity=Quantity.from_str(str(Decimal(10_000).quantize(lot))),
        min_quantity=Quantity.from_str(str(lot)),
        max_notional=None,
        min_notional=None,
        max_price=Price.from_str(str(Decimal(10_000_000).quantize(tick))),
        min_price=Price.from_str(str(tick)),
        margin_init=Decimal(0),
        margin_maint=Decimal(0),
        maker_fee=s.fee,
        taker_fee=s.fee,
        ts_event=0,
        ts_init=0,
    )


def bar_type(symbol: str, venue: str = VENUE, step: str = "1-MINUTE"):
    from nautilus_trader.model.data import BarType

    return BarType.from_str(f"{symbol}.{venue}-{step}-LAST-EXTERNAL")


def _path(spec: Spec, n: int, seed: int) -> np.ndarray:
    """n+1 prices of a seeded random walk starting at spec.first_price."""
    # Each symbol gets its own stream so adding a symbol never changes another's data.
    rng = np.random.default_rng([seed, sum(map(ord, spec.symbol))])
    steps = rng.normal(0.0, spec.volatility, n)
    return spec.first_price * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))


def bars_frame(symbol: str, n: int, *, seed: int, start: pd.Timestamp = START, step_seconds: int = 60) -> pd.DataFrame:
    """n OHLCV bars as a DataFrame indexed by bar close time (UTC)."""
    s = SPECS[symbol]
    rng = np.random.default_rng([seed, sum(map(ord, symbol)), 1])
    path = _path(s, n, seed)
    opens, closes = path[:-1], path[1:]
    wick = np.abs(rng.normal(0.0, s.volatility / 2, (2, n))) * path[1:]
    highs = np.maximum(opens, closes) + wick[0]
    lows = np.minimum(opens, closes) - wick[1]
    volume = rng.gamma(2.0, s.volume / 2.0, n)
    index = start + pd.to_timedelta(np.arange(1, n + 1) * step_seconds, unit="s")
    frame = pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": closes, "volume": volume},
        index=pd.DatetimeIndex(index, name="timestamp"),
    )
    return frame.round({"open": s.price_precision, "high": s.price_precision, "low": s.price_precision,
                        "close": s.price_precision, "volume": s.size_precision})


def bars(symbol: str, n: int, *, seed: int, venue: str = VENUE, start: pd.Timestamp = START, step_seconds: int = 60):
    """n seeded 1-minute (by default) Nautilus bars for symbol."""
    from nautilus_trader.persistence.wranglers import BarDataWrangler

    if step_seconds % 60:
        raise ValueError("step_seconds must be a whole number of minutes")
    wrangler = BarDataWrangler(bar_type(symbol, venue, f"{step_seconds // 60}-MINUTE"), instrument(symbol, venue))
    return wrangler.process(bars_frame(symbol, n, seed=seed, start=start, step_seconds=step_seconds))


def quotes_frame(symbol: str, n: int, *, seed: int, start: pd.Timestamp = START, step_ms: int = 1000,
                 size: float | None = None) -> pd.DataFrame:
    """n top-of-book quotes (bid/ask price and size) indexed by time (UTC)."""
    s = SPECS[symbol]
    rng = np.random.default_rng([seed, sum(map(ord, symbol)), 2])
    mid = _path(s, n, seed)[1:]
    tick = 10.0 ** -s.price_precision
    half = np.maximum(np.round(mid * 0.0001 / tick), 1) * tick / 2 + tick / 2
    mean = size if size is not None else s.volume / 20
    sizes = np.round(rng.gamma(4.0, mean / 4.0, (2, n)), s.size_precision)
    sizes = np.maximum(sizes, 10.0 ** -s.size_precision)
    index = start + pd.to_timedelta(np.arange(1, n + 1) * step_ms, unit="ms")
    frame = pd.DataFrame(
        {
            "bid_price": np.round(mid - half, s.price_precision),
            "ask_price": np.round(mid + half, s.price_precision),
            "bid_size": sizes[0],
            "ask_size": sizes[1],
        },
        index=pd.DatetimeIndex(index, name="timestamp"),
    )
    return frame


def quotes(symbol: str, n: int, *, seed: int, venue: str = VENUE, start: pd.Timestamp = START, step_ms: int = 1000,
           size: float | None = None):
    """n seeded Nautilus quote ticks for symbol."""
    from nautilus_trader.persistence.wranglers import QuoteTickDataWrangler

    wrangler = QuoteTickDataWrangler(instrument(symbol, venue))
    return wrangler.process(quotes_frame(symbol, n, seed=seed, start=start, step_ms=step_ms, size=size))
