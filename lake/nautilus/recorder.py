"""EquityRecorder: an actor that samples equity (balance + unrealized PnL) while the backtest runs.

Nautilus keeps account states (realized balances) but no marked-to-market equity:
once the run is over, the prices that marked open positions are gone, so the
curve has to be recorded during the run.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.events import AccountState
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price

from lake.fixed_point import NS_PER_SECOND, NS_PER_US
from lake.nautilus.tables import equity_table
from lake.nautilus.units import decimal_to_units


class EquityRecorderConfig(ActorConfig, frozen=True):
    """bar_types / quote_instrument_ids: the prices that mark open positions and trigger samples.
    interval_secs: at most one price-triggered sample per interval (0 = at every bar or quote);
    account state changes are always sampled.
    """

    bar_types: tuple[str, ...] = ()
    quote_instrument_ids: tuple[str, ...] = ()
    interval_secs: float = 0.0


class EquityRecorder(Actor):
    """Samples balance, unrealized PnL and equity per currency at every bar (or interval) and account change.

    Several accounts in one currency are added up. A CASH account's holdings of a
    base asset (e.g. BTC bought with USDT) are valued in the quote currency at the
    last price, so its equity is one figure in the quote currency; unrealized PnL
    comes from the open positions, and balance = equity - unrealized PnL.
    """

    def __init__(self, config: EquityRecorderConfig | None = None) -> None:
        super().__init__(config or EquityRecorderConfig())
        self._interval_ns = int(self.config.interval_secs * NS_PER_SECOND)
        self._last_price: dict[InstrumentId, Any] = {}
        self._last_sample_ns: int | None = None
        self.samples: dict[tuple[int, str], tuple[int, int]] = {}

    def on_start(self) -> None:
        for bt in self.config.bar_types:
            self.subscribe_bars(BarType.from_str(bt))
        for iid in self.config.quote_instrument_ids:
            self.subscribe_quote_ticks(InstrumentId.from_str(iid))
        # Exact topics: in 1.221 a wildcard subscribed after a topic was first published never receives it.
        topics = {f"events.account.{account.id}" for account in self.cache.accounts()} | {"events.account.*"}
        for topic in sorted(topics):
            self.msgbus.subscribe(topic=topic, handler=self._on_account_state)

    def on_bar(self, bar: Bar) -> None:
        self._last_price[bar.bar_type.instrument_id] = bar.close
        self._maybe_sample(bar.ts_event)

    def on_quote_tick(self, tick: QuoteTick) -> None:
        self._last_price[tick.instrument_id] = _mid(tick)
        self._maybe_sample(tick.ts_event)

    def _on_account_state(self, event) -> None:
        # Sampled at the clock's now: 1.221 stamps some margin account states with an earlier ts_event.
        if isinstance(event, AccountState):
            self.sample(self.clock.timestamp_ns())

    def on_stop(self) -> None:
        self.sample(self.clock.timestamp_ns())

    def _maybe_sample(self, ts: int) -> None:
        if self._last_sample_ns is None or ts - self._last_sample_ns >= self._interval_ns:
            self.sample(ts)

    def sample(self, ts: int) -> None:
        """Record the accounts' state at ts (the last sample within one microsecond wins)."""
        self._last_sample_ns = ts
        balance: dict[str, Decimal] = defaultdict(Decimal)
        unrealized: dict[str, Decimal] = defaultdict(Decimal)
        open_positions = self.cache.positions_open()
        for account in self.cache.accounts():
            venue = account.id.get_issuer()
            cash = account.is_cash_account
            held: dict[str, Decimal] = defaultdict(Decimal)
            for currency, money in account.balances_total().items():
                quote = self._valuation(venue, currency) if cash else None
                if quote is None:
                    held[currency.code] += money.as_decimal()
                else:
                    instrument, price = quote
                    qc = instrument.quote_currency
                    step = Decimal(1).scaleb(-qc.precision)
                    held[qc.code] += (money.as_decimal() * price.as_decimal()).quantize(step, ROUND_HALF_EVEN)
            open_pnl: dict[str, Decimal] = defaultdict(Decimal)
            for position in open_positions:
                price = self._last_price.get(position.instrument_id)
                if position.account_id != account.id or price is None:
                    continue
                pnl = position.unrealized_pnl(price)
                open_pnl[pnl.currency.code] += pnl.as_decimal()
            for code in set(held) | set(open_pnl):
                # CASH holdings are marked at the last price, so they already contain the open PnL:
                # the realized balance is what remains without it. MARGIN balances are realized as they are.
                balance[code] += held.get(code, Decimal(0)) - (open_pnl.get(code, Decimal(0)) if cash else 0)
                unrealized[code] += open_pnl.get(code, Decimal(0))
        ts_us = ts // NS_PER_US
        for code in balance.keys() | unrealized.keys():
            self.samples[(ts_us, code)] = (
                decimal_to_units(balance[code], f"equity_curve.balance {code}"),
                decimal_to_units(unrealized[code], f"equity_curve.unrealized_pnl {code}"),
            )

    def _valuation(self, venue, currency):
        """(instrument, last price) that values `currency` in a quote currency, if currency is a traded base."""
        for instrument_id, price in sorted(self._last_price.items(), key=lambda kv: str(kv[0])):
            instrument = self.cache.instrument(instrument_id)
            if instrument is None or instrument_id.venue.value != venue:
                continue
            base = getattr(instrument, "base_currency", None)
            if base is not None and base == currency and instrument.quote_currency != currency:
                return instrument, price
        return None

    def table(self) -> pa.Table:
        return equity_table(self.samples)


def find_equity_recorder(engine) -> EquityRecorder | None:
    """The engine's EquityRecorder, if one was added."""
    for actor in engine.trader.actors():
        if isinstance(actor, EquityRecorder):
            return actor
    return None


def _mid(tick: QuoteTick) -> Price:
    """The quote's mid price, one digit finer than its bid (so a half tick is exact)."""
    bid, ask = tick.bid_price, tick.ask_price
    mid = (bid.as_decimal() + ask.as_decimal()) / 2
    return Price.from_str(str(mid.quantize(Decimal(1).scaleb(-(bid.precision + 1)))))
