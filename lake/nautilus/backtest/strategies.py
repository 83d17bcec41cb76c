"""Strategies shipped with the package, so backtests need nothing but this wheel.

EMACross trades an exponential-moving-average crossover with market or limit
entries; Scripted submits a fixed list of orders at given bars (for scenarios
whose every fill must be known in advance).
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.strategy import Strategy


class EMACrossConfig(StrategyConfig, frozen=True):
    instrument_id: str
    bar_type: str
    trade_size: Decimal
    fast_period: int = 10
    slow_period: int = 30
    entry: str = "MARKET"  # MARKET or LIMIT
    limit_offset_ticks: int = 2  # LIMIT entries rest this many ticks inside the last close
    close_on_stop: bool = True


class EMACross(Strategy):
    """Goes long when the fast EMA crosses above the slow one, short when below.

    A reversal is two orders: one closing the current position and one opening the
    new one, so NETTING venues keep a snapshot of each closed leg.
    """

    def __init__(self, config: EMACrossConfig) -> None:
        if config.fast_period >= config.slow_period:
            raise ValueError("fast_period must be shorter than slow_period")
        if config.entry not in ("MARKET", "LIMIT"):
            raise ValueError("entry must be MARKET or LIMIT")
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.bar_type = BarType.from_str(config.bar_type)
        self._fast: float | None = None
        self._slow: float | None = None
        self._seen = 0
        self._state = 0  # +1 after an up-cross signal, -1 after a down-cross
        self._instrument = None

    def on_start(self) -> None:
        self._instrument = self.cache.instrument(self.instrument_id)
        if self._instrument is None:
            self.log.error(f"no instrument {self.instrument_id}")
            self.stop()
            return
        self.subscribe_bars(self.bar_type)

    def on_bar(self, bar: Bar) -> None:
        close = float(bar.close)
        a_fast = 2.0 / (self.config.fast_period + 1)
        a_slow = 2.0 / (self.config.slow_period + 1)
        self._fast = close if self._fast is None else self._fast + a_fast * (close - self._fast)
        self._slow = close if self._slow is None else self._slow + a_slow * (close - self._slow)
        self._seen += 1
        if self._seen < self.config.slow_period:
            return
        signal = 1 if self._fast > self._slow else -1
        if signal == self._state:
            return
        self._state = signal
        self.cancel_all_orders(self.instrument_id)
        # Close the opposite leg first, then enter the new one.
        for position in self.cache.positions_open(instrument_id=self.instrument_id, strategy_id=self.id):
            self.close_position(position)
        side = OrderSide.BUY if signal > 0 else OrderSide.SELL
        qty = self._instrument.make_qty(self.config.trade_size)
        if self.config.entry == "MARKET":
            order = self.order_factory.market(self.instrument_id, side, qty)
        else:
            tick = self._instrument.price_increment.as_decimal()
            offset = tick * self.config.limit_offset_ticks
            px = bar.close.as_decimal() + (-offset if side == OrderSide.BUY else offset)
            order = self.order_factory.limit(
                self.instrument_id, side, qty, self._instrument.make_price(px), time_in_force=TimeInForce.GTC
            )
        self.submit_order(order)

    def on_stop(self) -> None:
        self.cancel_all_orders(self.instrument_id)
        if self.config.close_on_stop:
            self.close_all_positions(self.instrument_id)


class ScriptedConfig(StrategyConfig, frozen=True):
    """actions: one dict per order, keys
    bar (int, 1-based bar count of that instrument), instrument_id, side (BUY/SELL),
    quantity (decimal string), type (MARKET, LIMIT, STOP_MARKET, STOP_LIMIT; default MARKET),
    offset (decimal string added to the bar close for price/trigger; default 0),
    limit_offset (for STOP_LIMIT: added to the trigger for the limit price),
    time_in_force (default GTC), close_all ("1": close all positions instead of an order),
    cancel_all ("1": cancel all open orders of the instrument instead of an order).
    """

    bar_types: tuple[str, ...]
    actions: tuple[dict[str, str], ...] = ()


class Scripted(Strategy):
    """Submits a fixed list of orders at given bars."""

    def __init__(self, config: ScriptedConfig) -> None:
        super().__init__(config)
        self._counts: dict[str, int] = {}
        self._due: dict[tuple[str, int], list[dict[str, str]]] = {}
        for action in config.actions:
            self._due.setdefault((action["instrument_id"], int(action["bar"])), []).append(action)

    def on_start(self) -> None:
        for bt in self.config.bar_types:
            self.subscribe_bars(BarType.from_str(bt))

    def on_bar(self, bar: Bar) -> None:
        key = str(bar.bar_type.instrument_id)
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        for action in self._due.get((key, n), ()):
            self._act(action, bar)

    def _act(self, action: dict[str, str], bar: Bar) -> None:
        instrument_id = InstrumentId.from_str(action["instrument_id"])
        if action.get("close_all") == "1":
            self.close_all_positions(instrument_id)
            return
        if action.get("cancel_all") == "1":
            self.cancel_all_orders(instrument_id)
            return
        instrument = self.cache.instrument(instrument_id)
        side = OrderSide[action["side"]]
        qty = instrument.make_qty(Decimal(action["quantity"]))
        kind = action.get("type", "MARKET")
        tif = TimeInForce[action.get("time_in_force", "GTC")]
        px = instrument.make_price(bar.close.as_decimal() + Decimal(action.get("offset", "0")))
        f = self.order_factory
        if kind == "MARKET":
            order = f.market(instrument_id, side, qty, time_in_force=tif)
        elif kind == "LIMIT":
            order = f.limit(instrument_id, side, qty, px, time_in_force=tif)
        elif kind == "STOP_MARKET":
            order = f.stop_market(instrument_id, side, qty, px, time_in_force=tif)
        elif kind == "STOP_LIMIT":
            limit = instrument.make_price(px.as_decimal() + Decimal(action.get("limit_offset", "0")))
            order = f.stop_limit(instrument_id, side, qty, limit, px, time_in_force=tif)
        else:
            raise ValueError(f"unsupported order type {kind!r}")
        self.submit_order(order)
