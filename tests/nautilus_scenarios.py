"""Small real NautilusTrader backtests for the extraction tests, and report parsers to compare against."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from lake.nautilus.backtest import market_data as md
from lake.nautilus.backtest.strategies import Scripted, ScriptedConfig
from lake.nautilus import EquityRecorder, EquityRecorderConfig

UNIT = Decimal("0.000000001")
BTC = "BTCUSDT.BINANCE"
ETH = "ETHUSDT.BINANCE"


def act(bar: int, instrument: str, side: str = "", quantity: str = "", **kw) -> dict[str, str]:
    out = {"bar": str(bar), "instrument_id": instrument}
    if side:
        out["side"] = side
    if quantity:
        out["quantity"] = quantity
    out.update({k: str(v) for k, v in kw.items()})
    return out


def instrument(symbol: str, maker_fee: Decimal | None = None):
    """The synthetic instrument of `symbol`; with maker_fee, that maker fee (negative: a rebate for resting orders)."""
    from nautilus_trader.model.instruments import CurrencyPair

    pair = md.instrument(symbol)
    if maker_fee is None:
        return pair
    return CurrencyPair.from_dict({**CurrencyPair.to_dict(pair), "maker_fee": str(maker_fee)})


def engine(*, oms: str, account: str, actions: list[dict], symbols=("BTCUSDT",), bars: int = 60, seed: int = 7,
           recorder: bool = True, balances=("1000000 USDT", "5 BTC", "50 ETH"), maker_fee: Decimal | None = None):
    """A finished BacktestEngine: one BINANCE venue, Scripted orders on synthetic 1-minute bars (maker_fee: the
    instruments' maker fee instead of the synthetic one)."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    eng = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    eng.add_venue(
        Venue(md.VENUE),
        oms_type=OmsType[oms],
        account_type=AccountType[account],
        base_currency=None,
        starting_balances=[Money.from_str(b) for b in balances],
    )
    bar_types = []
    for symbol in symbols:
        eng.add_instrument(instrument(symbol, maker_fee))
        eng.add_data(md.bars(symbol, bars, seed=seed))
        bar_types.append(str(md.bar_type(symbol)))
    eng.add_strategy(Scripted(ScriptedConfig(bar_types=tuple(bar_types), actions=tuple(actions))))
    if recorder:
        eng.add_actor(EquityRecorder(EquityRecorderConfig(bar_types=tuple(bar_types))))
    eng.run()
    return eng


# ------------------------------------------------------------- parsing Nautilus's report strings


def dec(value) -> Decimal | None:
    """A report quantity/price ('0.500000', 42000.5, None/NaN) as an exact Decimal at 9 decimals."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(UNIT)
    return Decimal(str(value)).quantize(UNIT)


def money(value: str) -> tuple[Decimal, str]:
    """'525.00000000 USDT' -> (Decimal('525.000000000'), 'USDT')."""
    amount, currency = str(value).split(" ")
    return Decimal(amount).quantize(UNIT), currency


def ns(value) -> int | None:
    """A report timestamp (pd.Timestamp or int ns) as int ns."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.value
    return int(value)


def rows(table, key: str) -> dict:
    """pyarrow table -> {key: row dict}."""
    return {r[key]: r for r in table.to_pylist()}
