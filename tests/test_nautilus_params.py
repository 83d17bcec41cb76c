"""A real NautilusTrader run's parameters: from its strategies' and actors' configs into params_json, and back.

Engines built by the backtest runner (EMACross on synthetic bars, in this process), written with an
experiment and tags, then read back through sweep.sql on DuckDB: every config field of every strategy and
actor, the venue's settings and the data window are there, values as the config's own JSON gives them.
A strategy config holding an API key and a DSN password leaves no byte of either anywhere.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from lake import layout, write_run
from lake.catalog.engine import query_lake
from lake.errors import InvalidExperimentError, InvalidTagsError
from lake.nautilus import from_nautilus, write_engine
from lake.nautilus.backtest.runner import BacktestSpec, build_engine
from tests.conftest import files_under

FAST, SLOW = "EMACross-BTCUSDT.fast_period", "EMACross-BTCUSDT.slow_period"
API_KEY, DSN_PASSWORD = "nt-key-7f3a91c2d4", "dsn-pw-5e6b7c8d"


def finished(spec: BacktestSpec):
    engine = build_engine(spec)
    engine.run()
    return engine


@pytest.fixture(scope="module")
def grid_lake(tmp_path_factory):
    """Three grid points of one experiment, written from real engines."""
    dest = tmp_path_factory.mktemp("nautilus-params")
    engines = {}
    for fast, slow, oms in ((5, 30, "NETTING"), (10, 30, "HEDGING"), (10, 60, "NETTING")):
        spec = BacktestSpec(bars=300, bar_minutes=1, fast_period=fast, slow_period=slow, oms_type=oms)
        engine = finished(spec)
        run = from_nautilus(engine, run_id=f"nt-{fast}x{slow}", experiment="nt-grid", tags={"oms": oms})
        write_run(run, dest)
        engines[run.run_id] = (engine, run)
    yield dest, engines
    for engine, _ in engines.values():
        engine.dispose()


def test_parameters_round_trip_from_the_configs_through_sweep_sql(grid_lake):
    dest, engines = grid_lake
    rows = {r["run_id"]: r for r in query_lake(dest, "sweep", {"experiment": "nt-grid", "x": FAST, "y": SLOW}).to_pylist()}
    assert set(rows) == set(engines)
    for run_id, (engine, run) in engines.items():
        row = rows[run_id]
        strategy = engine.trader.strategies()[0]
        assert (row["x"], row["y"]) == (str(strategy.config.fast_period), str(strategy.config.slow_period))
        params = json.loads(row["params"])
        # every field of every strategy's and actor's config, as the config's own JSON gives it
        for component in [*engine.trader.strategies(), *engine.trader.actors()]:
            for name, value in json.loads(component.config.json()).items():
                expected = json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, (dict, list)) else value
                assert params[f"{component.id}.{name}"] == expected, (component.id, name)
        assert params["EMACross-BTCUSDT.trade_size"] == str(strategy.config.trade_size)  # a Decimal, exact as text
        # the venue's settings and the data window
        assert params["venue.BINANCE.oms_type"] == row_oms(run_id) and params["venue.BINANCE.account_type"] == "MARGIN"
        assert json.loads(params["venue.BINANCE.starting_balances"]) == ["1000000.00000000 USDT"]
        assert params["data.start"] == run.summary["backtest_start"] and params["data.end"] == run.summary["backtest_end"]
        assert json.loads(params["data.bar_types"]) == ["BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL"]
        # and the runs row: both Sharpe ratios, each named for what it is
        committed = pq.read_table(dest / layout.commit_key(run_id)).to_pylist()[0]
        nautilus_sharpe = run.summary["stats_returns"]["Sharpe Ratio (252 days)"]
        assert committed["position_returns_sharpe"] == committed["sharpe_ratio"] == nautilus_sharpe
        assert committed["experiment"] == "nt-grid" and json.loads(committed["tags_json"]) == {"oms": row_oms(run_id)}
    effect = query_lake(dest, "param_effect", {"experiment": "nt-grid", "param": FAST}).to_pylist()
    assert [(r["value"], r["runs"]) for r in effect] == [("5", 1), ("10", 2)]


def row_oms(run_id: str) -> str:
    return "HEDGING" if run_id == "nt-10x30" else "NETTING"


def test_secrets_in_a_strategy_config_never_reach_params_json(tmp_path):
    from lake.nautilus.backtest.strategies import Scripted, ScriptedConfig

    class KeyedConfig(ScriptedConfig, frozen=True):
        api_key: str = ""
        exchange_url: str = ""

    engine = build_engine(BacktestSpec(bars=120, bar_minutes=1))
    config = KeyedConfig(bar_types=("BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL",), actions=(), order_id_tag="KEYED",
                         api_key=API_KEY, exchange_url=f"postgresql://bot:{DSN_PASSWORD}@db:5432/x")
    engine.add_strategy(Scripted(config))
    engine.run()
    report = write_engine(engine, tmp_path, run_id="keyed", experiment="secret-grid")
    engine.dispose()
    params = json.loads(pq.read_table(tmp_path / layout.commit_key("keyed")).column("params_json")[0].as_py())
    assert params["Scripted-KEYED.api_key"] == "***"
    assert params["Scripted-KEYED.exchange_url"] == "postgresql://bot:***@db:5432/x"
    assert report.objects and files_under(tmp_path)
    for path in files_under(tmp_path):  # no byte of either secret in any file written
        data = (tmp_path / path).read_bytes()
        assert API_KEY.encode() not in data and DSN_PASSWORD.encode() not in data, path


def test_bad_experiment_or_tags_are_refused_before_anything_is_written(tmp_path):
    engine = finished(BacktestSpec(bars=120, bar_minutes=1))
    try:
        with pytest.raises(InvalidExperimentError, match="invalid experiment 'no/slashes'"):
            write_engine(engine, tmp_path, experiment="no/slashes")
        with pytest.raises(InvalidTagsError, match="tag 'token' looks like a secret"):
            write_engine(engine, tmp_path, tags={"token": "abc"})
        with pytest.raises(InvalidTagsError, match="the value must be text"):
            from_nautilus(engine, tags={"fast": 5})
    finally:
        engine.dispose()
    assert files_under(tmp_path) == []
