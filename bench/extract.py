"""Extraction benchmark: from_nautilus against NautilusTrader's four generate_*_report calls.

One real backtest with >= 100,000 fills (a strategy that trades every bar on four
synthetic instruments, so engine.run stays short); then, in this one process and
on the same engine, time from_nautilus (all four tables, summary included) and
generate_orders_report + generate_fills_report + generate_positions_report +
generate_account_report. Prints both, the ratio and peak RSS.

    .venv/bin/python bench/extract.py [--fills 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig  # noqa: E402
from nautilus_trader.config import LoggingConfig, StrategyConfig  # noqa: E402
from nautilus_trader.model.data import Bar, BarType  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide  # noqa: E402
from nautilus_trader.model.identifiers import Venue  # noqa: E402
from nautilus_trader.model.objects import Money  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402

from lake.nautilus.backtest import market_data as md  # noqa: E402
from lake.nautilus import from_nautilus  # noqa: E402

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")


class ChurnConfig(StrategyConfig, frozen=True):
    bar_types: tuple[str, ...]
    sizes: tuple[str, ...]  # one per bar type: large enough to be filled in two parts


class Churn(Strategy):
    """Buys on one bar and sells on the next, every bar: two fills per order, a closed leg every two bars."""

    def __init__(self, config: ChurnConfig) -> None:
        super().__init__(config)
        self._n: dict = {}

    def on_start(self) -> None:
        for bt in self.config.bar_types:
            self.subscribe_bars(BarType.from_str(bt))

    def on_bar(self, bar: Bar) -> None:
        iid = bar.bar_type.instrument_id
        n = self._n.get(iid, 0)
        self._n[iid] = n + 1
        size = Decimal(self.config.sizes[self.config.bar_types.index(str(bar.bar_type))])
        instrument = self.cache.instrument(iid)
        side = OrderSide.BUY if n % 2 == 0 else OrderSide.SELL
        order = self.order_factory.market(iid, side, instrument.make_qty(size))
        # The sell closes the position the buy opened (under HEDGING it must be named).
        open_positions = self.cache.positions_open(instrument_id=iid, strategy_id=self.id) if side == OrderSide.SELL else []
        self.submit_order(order, position_id=open_positions[0].id if open_positions else None)


def build(fills: int, oms: str = "NETTING") -> BacktestEngine:
    bars_per_symbol = fills // (2 * len(SYMBOLS)) + 2
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(Venue("BINANCE"), oms_type=OmsType[oms], account_type=AccountType.MARGIN,
                     base_currency=None, starting_balances=[Money(100_000_000, md.instrument("BTCUSDT").quote_currency)])
    bar_types, sizes = [], []
    for symbol in SYMBOLS:
        engine.add_instrument(md.instrument(symbol))
        engine.add_data(md.bars(symbol, bars_per_symbol, seed=11))
        bar_types.append(str(md.bar_type(symbol)))
        sizes.append(str(Decimal(str(md.SPECS[symbol].volume))))  # about a bar's volume: filled in parts
    engine.add_strategy(Churn(ChurnConfig(bar_types=tuple(bar_types), sizes=tuple(sizes))))
    return engine


def timed(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def reports(engine):
    trader = engine.trader
    return (
        trader.generate_orders_report(),
        trader.generate_fills_report(),
        trader.generate_positions_report(),
        trader.generate_account_report(Venue("BINANCE")),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timings are the best of N")
    parser.add_argument("--oms", choices=("NETTING", "HEDGING"), default="NETTING",
                        help="NETTING: a closed leg (position snapshot) every second order; HEDGING: no snapshots")
    args = parser.parse_args()

    t = time.perf_counter()
    engine = build(args.fills, args.oms)
    engine.run()
    run_secs = time.perf_counter() - t

    t_lake, run = timed(lambda: from_nautilus(engine, run_id="bench-extract"), args.repeat)
    t_reports, (orders, fills, positions, account) = timed(lambda: reports(engine), args.repeat)
    # Both sides unpickle every NETTING snapshot through cache.position_snapshots(): Nautilus's own cost.
    t_snapshots, snapshots = timed(engine.cache.position_snapshots, args.repeat)
    assert run.fills.num_rows == len(fills) >= args.fills * 0.99, (run.fills.num_rows, len(fills))
    assert run.orders.num_rows == len(orders) and run.positions.num_rows == len(positions)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"backtest: {len(SYMBOLS)} instruments, {args.oms}, engine.run {run_secs:.1f} s")
    print(f"rows: {run.orders.num_rows:,} orders, {run.fills.num_rows:,} fills, "
          f"{run.positions.num_rows:,} positions (snapshots incl.), {run.equity_curve.num_rows:,} equity points")
    print(f"from_nautilus (4 Arrow tables + summary)  {t_lake:8.3f} s")
    print(f"generate_*_report x4 (pandas, strings)     {t_reports:8.3f} s")
    print(f"ratio                                      {t_reports / t_lake:8.1f}x faster")
    if snapshots:
        rest_lake, rest_reports = t_lake - t_snapshots, t_reports - t_snapshots
        print(f"  of which cache.position_snapshots() ({len(snapshots):,} unpickled, paid by both) {t_snapshots:.3f} s;")
        print(f"  without it: {rest_lake:.3f} s vs {rest_reports:.3f} s = {rest_reports / rest_lake:.1f}x")
    print(f"peak RSS                                   {peak_mb:8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
