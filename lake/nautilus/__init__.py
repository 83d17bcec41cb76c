"""NautilusTrader -> Run: a finished engine's cache read straight into contract Arrow tables.

The only package that imports nautilus_trader (lake/__init__ imports it lazily, so
writing runs works without it). One job per module:

    units      Nautilus raw/float/Decimal numbers -> integer units of 1e-9; nanoseconds -> timestamps
    tables     orders + fills, positions, equity tables from the engine cache
    recorder   EquityRecorder, the actor that samples marked-to-market equity during a run
    documents  summary, config and log of a run
    build      from_nautilus, write_engine, write_node_results: the glue
    backtest/  real backtests on synthetic data (market data, strategies, the subprocess runner)
"""

from lake.nautilus.build import from_nautilus, write_engine, write_node_results
from lake.nautilus.recorder import EquityRecorder, EquityRecorderConfig
from lake.nautilus.tables import account_state_samples, equity_table
from lake.nautilus.units import ExtractionError, float_to_units, raw_to_units

__all__ = [
    "from_nautilus",
    "write_engine",
    "write_node_results",
    "EquityRecorder",
    "EquityRecorderConfig",
    "ExtractionError",
    # Building blocks, for runs assembled by hand (and the tests):
    "equity_table",
    "account_state_samples",
    "raw_to_units",
    "float_to_units",
]
