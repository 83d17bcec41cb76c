"""A BacktestNode run over a ParquetDataCatalog written in a temp folder, written with write_node_results."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from lake.nautilus.backtest import market_data as md
from lake.errors import LakeError
from lake.nautilus import from_nautilus, write_node_results
from tests.test_nautilus import assert_account_matches, assert_fills_match, assert_orders_match, assert_positions_match


def _run_config(catalog_path: str, *, dispose: bool):
    from nautilus_trader.config import (
        BacktestDataConfig,
        BacktestEngineConfig,
        BacktestRunConfig,
        BacktestVenueConfig,
        ImportableActorConfig,
        ImportableStrategyConfig,
        LoggingConfig,
    )
    from nautilus_trader.model.data import Bar

    strategies = [
        ImportableStrategyConfig(
            strategy_path="lake.nautilus.backtest.strategies:EMACross",
            config_path="lake.nautilus.backtest.strategies:EMACrossConfig",
            config={
                "instrument_id": f"{symbol}.BINANCE",
                "bar_type": str(md.bar_type(symbol)),
                "trade_size": size,
                "fast_period": 5,
                "slow_period": 15,
                "entry": entry,
                "order_id_tag": symbol,
            },
        )
        for symbol, size, entry in (("BTCUSDT", "0.5", "MARKET"), ("ETHUSDT", "8", "LIMIT"))
    ]
    actors = [
        ImportableActorConfig(
            actor_path="lake.nautilus:EquityRecorder",
            config_path="lake.nautilus:EquityRecorderConfig",
            config={"bar_types": [str(md.bar_type(s)) for s in ("BTCUSDT", "ETHUSDT")]},
        )
    ]
    return BacktestRunConfig(
        engine=BacktestEngineConfig(
            strategies=strategies,
            actors=actors,
            logging=LoggingConfig(bypass_logging=True),
        ),
        venues=[
            BacktestVenueConfig(
                name="BINANCE",
                oms_type="NETTING",
                account_type="MARGIN",
                starting_balances=["1000000 USDT"],
            )
        ],
        data=[
            BacktestDataConfig(catalog_path=catalog_path, data_cls=Bar, instrument_id=f"{s}.BINANCE")
            for s in ("BTCUSDT", "ETHUSDT")
        ],
        dispose_on_completion=dispose,
    )


@pytest.fixture(scope="module")
def node_run(tmp_path_factory):
    from nautilus_trader.backtest.node import BacktestNode
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    root = tmp_path_factory.mktemp("catalog")
    catalog = ParquetDataCatalog(str(root))
    for symbol in ("BTCUSDT", "ETHUSDT"):
        catalog.write_data([md.instrument(symbol)])
        catalog.write_data(md.bars(symbol, 240, seed=3))
    node = BacktestNode(configs=[_run_config(str(root), dispose=False)])
    node.run()
    return node


def test_node_results_written_and_equal_reports(node_run, tmp_path):
    node = node_run
    (config,) = node.configs
    engine = node.get_engine(config.id)
    run = from_nautilus(engine, config=config)
    assert_orders_match(engine, run)
    assert_fills_match(engine, run)
    assert_positions_match(engine, run)
    assert_account_matches(engine, run)
    assert run.fills.num_rows > 20 and {r["instrument_id"] for r in run.fills.to_pylist()} == {
        "BTCUSDT.BINANCE", "ETHUSDT.BINANCE"}
    assert run.summary["run_config_id"] == config.id and run.summary["equity_source"] == "equity_recorder"

    (report,) = write_node_results(node, tmp_path, experiment="node-sweep", tags={"source": "BacktestNode"})
    row = pq.read_table(tmp_path / "lake" / "runs" / f"run_id={report.run_id}" / "part-00000.parquet").to_pylist()[0]
    assert (row["experiment"], json.loads(row["tags_json"])) == ("node-sweep", {"source": "BacktestNode"})
    btc = next(s for s in engine.trader.strategies() if s.id.value == "EMACross-BTCUSDT")
    assert json.loads(row["params_json"])["EMACross-BTCUSDT.fast_period"] == btc.config.fast_period
    stored = json.loads((tmp_path / "config" / report.run_id / "backtest_config.json").read_text())
    assert stored["venues"][0]["starting_balances"] == ["1000000 USDT"]
    assert stored["engine"]["strategies"][0]["strategy_path"] == "lake.nautilus.backtest.strategies:EMACross"
    fills = pq.read_table(tmp_path / "lake" / "fills" / f"run_id={report.run_id}" / "part-00000.parquet")
    assert fills.num_rows == run.fills.num_rows
    assert sum(fills.column("commission").to_pylist(), Decimal(0)) == sum(run.fills.column("commission").to_pylist(), Decimal(0))


def test_disposed_node_is_refused(tmp_path):
    from nautilus_trader.backtest.node import BacktestNode
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(str(tmp_path / "catalog"))
    catalog.write_data([md.instrument("BTCUSDT"), md.instrument("ETHUSDT")])
    for symbol in ("BTCUSDT", "ETHUSDT"):
        catalog.write_data(md.bars(symbol, 30, seed=3))
    node = BacktestNode(configs=[_run_config(str(tmp_path / "catalog"), dispose=True)])
    node.run()
    with pytest.raises(LakeError, match="dispose_on_completion"):
        write_node_results(node, tmp_path / "lake")
    with pytest.raises(LakeError, match="invalid experiment 'a b'"):  # refused before the node's runs are read
        write_node_results(node, tmp_path / "lake", experiment="a b")
    assert not (tmp_path / "lake").exists()
