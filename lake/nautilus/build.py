"""The glue: a finished engine (or BacktestNode) -> Run -> write_run.

The only module here that knows every part: tables, recorder, documents and
the writer. Everything it returns is a lake.Run, so nothing downstream sees
nautilus_trader.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Mapping

from lake.errors import LakeError
from lake.nautilus.documents import build_summary, config_dict, engine_config, read_log, run_params
from lake.nautilus.recorder import find_equity_recorder
from lake.nautilus.tables import account_state_samples, equity_table, orders_and_fills, positions_table
from lake.nautilus.units import ns_to_datetime
from lake.run import Run, check_experiment, check_tags, new_run_id
from lake.write import write_run


def from_nautilus(engine, *, run_id: str | None = None, config: Any = None, log_path: str | Path | None = None,
                  experiment: str | None = None, tags: Mapping[str, str] | None = None) -> Run:
    """The finished `engine` (a BacktestEngine after run()) as a Run.

    config: the BacktestRunConfig (or any Nautilus config, or a dict) the run came
    from; by default the engine, venue, strategy and actor configs are gathered.
    log_path: the engine's log file, or its LoggingConfig's log_directory / log_file_name
    (the suffix Nautilus adds differs between releases: the file it wrote is found);
    BacktestEngine does not expose its logging config, so it is passed explicitly.
    experiment, tags: the sweep the run belongs to and free labels (lake.Run checks them).
    The run's parameters (params) are read from the engine: every strategy's and
    actor's config field, the venues' settings and the data window.
    """
    # Checked before the extraction's work (lake.Run checks them again, cheaply).
    experiment, tags = check_experiment(experiment), check_tags(tags)
    # Extraction builds millions of short-lived acyclic objects next to the engine's large heap: pausing the
    # cyclic garbage collector avoids repeated full-heap scans (superlinear at 100k fills; bench/extract.py).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _from_nautilus(engine, run_id, config, log_path, experiment, tags)
    finally:
        if paused:
            gc.enable()


def _from_nautilus(engine, run_id, config, log_path, experiment, tags) -> Run:
    cache = engine.cache
    result = engine.get_result()
    orders = cache.orders()
    snapshots = cache.position_snapshots()
    recorder = find_equity_recorder(engine)
    if recorder is not None:
        equity = recorder.table()
        equity_source = "equity_recorder"
    else:  # without a recorder only realized balances are known
        equity = equity_table(account_state_samples(cache.accounts()))
        equity_source = "account_states"
    orders_arrow, fills_arrow = orders_and_fills(orders)
    tables = {
        "orders": orders_arrow,
        "fills": fills_arrow,
        "positions": positions_table(cache.positions(), snapshots),
        "equity_curve": equity,
    }
    summary = build_summary(engine, result, tables, equity_source, len(snapshots))
    if run_id is None:
        strategy_ids = summary["strategy_ids"]
        run_id = new_run_id(strategy_ids[0] if strategy_ids else None, ns_to_datetime(result.run_started))
    return Run(  # Run checks run_id
        run_id=run_id,
        summary={"run_id": str(run_id), **summary},
        config=config_dict(config) if config is not None else engine_config(engine),
        log=read_log(log_path),
        experiment=experiment,
        tags=tags,
        params=run_params(engine, result),
        **tables,
    )


def write_engine(engine, dest, *, run_id: str | None = None, config: Any = None, log_path=None,
                 experiment: str | None = None, tags: Mapping[str, str] | None = None,
                 overwrite: bool = False, progress=None):
    """from_nautilus + write_run in one call, after engine.run(). Returns the WriteReport."""
    run = from_nautilus(engine, run_id=run_id, config=config, log_path=log_path, experiment=experiment, tags=tags)
    return write_run(run, dest, overwrite=overwrite, progress=progress)


def write_node_results(node, dest, *, experiment: str | None = None, tags: Mapping[str, str] | None = None,
                       overwrite: bool = False) -> list:
    """Write every engine of a finished BacktestNode, each with its BacktestRunConfig as config,
    all under `experiment` with `tags` (a node's run configs are often one sweep).

    The node's run configs need dispose_on_completion=False, or the engines' caches
    are gone by the time the node returns.
    """
    experiment, tags = check_experiment(experiment), check_tags(tags)  # before the first run is written
    reports = []
    for run_config in node.configs:
        engine = node.get_engine(run_config.id)
        if engine is None:
            raise LakeError(f"BacktestNode has no engine for run config {run_config.id!r}")
        if run_config.dispose_on_completion:
            raise LakeError(
                f"run config {run_config.id!r} has dispose_on_completion=True: its engine state is gone; "
                "set dispose_on_completion=False to write the results"
            )
        reports.append(write_engine(engine, dest, config=run_config, experiment=experiment, tags=tags, overwrite=overwrite))
    return reports
