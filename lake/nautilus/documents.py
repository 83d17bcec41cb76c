"""A run's documents besides its tables: the summary, the config, the parameters and the engine's log.

The summary uses NautilusTrader's BacktestResult names (plus identity and row
counts), the config is the run config the caller passes or what the engine's
components show, the parameters are the settings that decided the result (flat,
for the runs row's params_json), and the log is the file Nautilus's logger wrote.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import nautilus_trader

from lake.errors import LakeError
from lake.nautilus.tables import account_type_name, oms_type_name
from lake.nautilus.units import ns_to_iso


def build_summary(engine, result, tables: dict[str, pa.Table], equity_source: str, snapshot_count: int) -> dict:
    """The run's summary under NautilusTrader's BacktestResult names, plus identity and counts.

    NautilusTrader's own run UUID (BacktestResult.run_id) is `nautilus_run_id`: `run_id` is the lake's,
    set by the caller once it is chosen.
    """
    cache = engine.cache
    analyzer = engine.portfolio.analyzer
    try:
        general = analyzer.get_performance_stats_general()
    except Exception as exc:  # statistics are optional; an analyzer failure must not lose the run
        general = {"error": f"{type(exc).__name__}: {exc}"}
    accounts = {a.id.get_issuer(): account_type_name(a.type) for a in cache.accounts()}
    return _finite(
        {
            "trader_id": result.trader_id,
            "nautilus_run_id": result.run_id,
            "run_config_id": result.run_config_id,
            "instance_id": result.instance_id,
            "backtest_start": ns_to_iso(result.backtest_start),
            "backtest_end": ns_to_iso(result.backtest_end),
            "run_started": ns_to_iso(result.run_started),
            "run_finished": ns_to_iso(result.run_finished),
            "backtest_start_ns": result.backtest_start,
            "backtest_end_ns": result.backtest_end,
            "run_started_ns": result.run_started,
            "run_finished_ns": result.run_finished,
            "elapsed_time": result.elapsed_time,
            "iterations": result.iterations,
            "total_events": result.total_events,
            "total_orders": result.total_orders,
            "total_positions": result.total_positions,
            "stats_pnls": result.stats_pnls,
            "stats_returns": result.stats_returns,
            "stats_general": general,
            "strategy_ids": sorted(s.id.value for s in engine.trader.strategies()),
            "instrument_ids": sorted(str(i) for i in cache.instrument_ids()),
            "venues": sorted(v.value for v in engine.list_venues()),
            "account_types": accounts,
            "nautilus_trader_version": nautilus_trader.__version__,
            "equity_source": equity_source,
            "counts": {
                "orders": tables["orders"].num_rows,
                "fills": tables["fills"].num_rows,
                "positions": tables["positions"].num_rows,
                "position_snapshots": snapshot_count,
                "equity_points": tables["equity_curve"].num_rows,
            },
        }
    )


def _finite(value: Any) -> Any:
    """NaN and inf become None, at any depth; numpy scalars become Python values (the summary is JSON)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def config_dict(config: Any) -> dict:
    """A config the caller passed (a dict or any NautilusConfig) as a JSON-ready dict."""
    if isinstance(config, dict):
        return config
    if hasattr(config, "json"):  # NautilusConfig (msgspec): its own JSON form
        return json.loads(config.json())
    raise LakeError(f"config must be a dict or a NautilusTrader config, got {type(config).__name__}")


def engine_config(engine) -> dict:
    """The venues (as their accounts show them), strategy and actor configs as JSON-ready dicts.

    BacktestEngine keeps its own config private: pass `config=` to record it.
    """
    out: dict[str, Any] = {}
    out["venues"] = [
        {
            "venue": a.id.get_issuer(),
            "account_type": account_type_name(a.type),
            "base_currency": None if a.base_currency is None else str(a.base_currency),
            "starting_balances": [str(m) for m in a.starting_balances().values()],
        }
        for a in engine.cache.accounts()
    ]
    out["strategies"] = [_component_config(s) for s in engine.trader.strategies()]
    out["actors"] = [_component_config(a) for a in engine.trader.actors()]
    return out


def run_params(engine, result) -> dict[str, Any]:
    """The settings that decided the result, flat:

    - "<component id>.<field>": every field of every strategy's and actor's config, as the config's own JSON
      gives it (lists and objects stay as they are: the writer writes them as JSON text, secrets redacted);
    - "venue.<VENUE>.oms_type", ".account_type", ".base_currency", ".starting_balances";
    - "data.start", "data.end" (the backtest window, ISO 8601 UTC) and "data.bar_types" (the bars it ran on).
    """
    params: dict[str, Any] = {}
    for component in [*engine.trader.strategies(), *engine.trader.actors()]:
        for name, value in (_component_config(component)["config"] or {}).items():
            params[f"{component.id}.{name}"] = value
    oms = _oms_types(engine)
    for account in engine.cache.accounts():
        venue = account.id.get_issuer()
        params[f"venue.{venue}.oms_type"] = oms.get(venue)
        params[f"venue.{venue}.account_type"] = account_type_name(account.type)
        params[f"venue.{venue}.base_currency"] = None if account.base_currency is None else str(account.base_currency)
        params[f"venue.{venue}.starting_balances"] = sorted(str(m) for m in account.starting_balances().values())
    params["data.start"] = ns_to_iso(result.backtest_start)
    params["data.end"] = ns_to_iso(result.backtest_end)
    params["data.bar_types"] = sorted(str(b) for b in engine.cache.bar_types())
    return params


def _oms_types(engine) -> dict[str, str]:
    """Venue -> OMS type, from the engine's execution clients (no public accessor: read defensively, so a
    release that renames the attribute loses the OMS type, never the run)."""
    clients = getattr(getattr(engine.kernel, "exec_engine", None), "_clients", None) or {}
    out = {}
    for client in clients.values():
        venue, oms = getattr(client, "venue", None), getattr(client, "oms_type", None)
        if venue is not None and oms is not None:
            out[str(venue)] = oms_type_name(oms)
    return out


def _component_config(component) -> dict:
    config = component.config
    return {
        "id": str(component.id),
        "path": f"{type(component).__module__}:{type(component).__name__}",
        "config": json.loads(config.json()) if hasattr(config, "json") else None,
    }


# Suffixes Nautilus gives the file named by LoggingConfig.log_file_name: JSON logs are `.json` in 1.221 and
# `.jsonl` in 1.231, plain text `.log`. The file is found by looking for what the logger wrote, not by version.
LOG_SUFFIXES = (".json", ".jsonl", ".log")


def read_log(log_path: str | Path | None) -> bytes | None:
    """The bytes of the engine's log file, or None without log_path (see find_log_file).

    Bytes as written: write_run redacts and stores them as they are, so no decoding
    (and no lossy replacement of undecodable bytes) happens here.
    """
    if log_path is None:
        return None
    return _written_out(find_log_file(log_path)).read_bytes()


LOG_SETTLED_SECONDS = 0.5  # the log file unchanged this long after the flush: the logger thread is done with it
LOG_WAIT_SECONDS = 10.0


def _written_out(path: Path) -> Path:
    """path once Nautilus's logger thread has written out what the flush asked for.

    logger_flush only queues a flush behind the messages waiting for that thread; on a busy machine the
    file was read with the run's first lines only. So: wait until its size has not changed for
    LOG_SETTLED_SECONDS (at most LOG_WAIT_SECONDS; a log still growing then is taken as it is).
    """
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    size, since = path.stat().st_size, time.monotonic()
    while time.monotonic() - since < LOG_SETTLED_SECONDS and time.monotonic() < deadline:
        time.sleep(0.02)
        now = path.stat().st_size
        if now != size:
            size, since = now, time.monotonic()
    return path


def find_log_file(log_path: str | Path) -> Path:
    """The log file Nautilus wrote: log_path itself if it is a file, else the file its logger made of that name.

    log_path may be the LoggingConfig's log_directory / log_file_name: Nautilus
    replaces a suffix the name has (its last '.part') with its own, which
    differs between releases. With several candidates the newest wins (the
    logger was just flushed). Raises LakeError naming the folder and what was
    looked for when there is none.
    """
    _flush_logs()
    path = Path(log_path)
    if path.is_file():
        return path
    folder, stem = path.parent, path.stem
    candidates = [folder / f"{stem}{suffix}" for suffix in LOG_SUFFIXES]
    found = [c for c in candidates if c.is_file()]
    if not found:
        present = sorted(p.name for p in folder.iterdir())[:10] if folder.is_dir() else None
        raise LakeError(
            f"log file not found in {folder}: looked for {path.name} and {', '.join(c.name for c in candidates)}; "
            + (f"the folder holds {present or 'nothing'}" if present is not None else "the folder does not exist")
        )
    return max(found, key=lambda c: c.stat().st_mtime_ns)


def _flush_logs() -> None:
    """Nautilus writes its log file from a background thread: flush it before reading."""
    try:
        from nautilus_trader.core import nautilus_pyo3

        nautilus_pyo3.logger_flush()
    except (ImportError, AttributeError):  # older or newer builds without the binding flush on exit
        pass
