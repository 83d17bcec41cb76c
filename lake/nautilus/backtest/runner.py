"""Run real NautilusTrader backtests on synthetic data and write each one to the lake.

Each backtest runs in its own subprocess: Nautilus logging is set up once per
process, so only a fresh process captures a run's own log file. The parent
only schedules children (a few at a time) and shows progress.

    python -m lake.nautilus.backtest.runner '<spec json>' <dest>    # one backtest (what the parent starts)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path
from typing import Mapping, Sequence

from lake.errors import LakeError
from lake.run import check_experiment, new_run_id
from lake.stores import resolve


@dataclass(frozen=True)
class BacktestSpec:
    """One backtest: EMACross on each symbol of one BINANCE venue, on seeded synthetic bars."""

    symbols: tuple[str, ...] = ("BTCUSDT",)
    fast_period: int = 10
    slow_period: int = 30
    entry: str = "MARKET"  # MARKET or LIMIT
    oms_type: str = "NETTING"  # NETTING or HEDGING
    account_type: str = "MARGIN"  # MARGIN or CASH
    trade_notional: str = "20000"  # USDT per entry, turned into a quantity at each symbol's first price
    bars: int = 1440
    bar_minutes: int = 1
    seed: int = 1
    starting_usdt: str = "1000000"
    equity_interval_secs: float = 0.0  # 0: an equity sample at every bar
    run_id: str | None = None
    experiment: str | None = None

    def check(self) -> None:
        """Raise LakeError naming the field and value the backtest would fail on, before any subprocess starts."""
        from lake.nautilus.backtest.market_data import SPECS

        unknown = [s for s in self.symbols if s not in SPECS]
        choices = {"entry": ("MARKET", "LIMIT"), "oms_type": ("NETTING", "HEDGING"), "account_type": ("MARGIN", "CASH")}
        problems = [f"unknown symbols {unknown} (choose from {sorted(SPECS)})"] if unknown or not self.symbols else []
        problems += [f"{k}={getattr(self, k)!r} (choose from {', '.join(v)})" for k, v in choices.items() if getattr(self, k) not in v]
        if not 0 < self.fast_period < self.slow_period:
            problems.append(f"fast_period={self.fast_period}, slow_period={self.slow_period} (need 0 < fast_period < slow_period)")
        if self.bars < 100 or self.bar_minutes < 1:
            problems.append(f"bars={self.bars}, bar_minutes={self.bar_minutes} (need bars >= 100, bar_minutes >= 1)")
        if problems:
            name = f"{self.run_id} ({self.label})" if self.run_id else self.label
            raise LakeError(f"backtest {name}: " + "; ".join(problems))
        check_experiment(self.experiment)

    @property
    def label(self) -> str:
        return f"EMACross-{'-'.join(self.symbols)}-{self.fast_period}x{self.slow_period}-{self.entry.lower()}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "BacktestSpec":
        data = json.loads(text)
        data["symbols"] = tuple(data["symbols"])
        return cls(**data)


def variants(n: int, *, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"), bars: int = 1440, bar_minutes: int = 1,
             seed: int = 1) -> list[BacktestSpec]:
    """n parameter variants: EMA periods, entry type, OMS and account type, and one- or two-symbol runs."""
    grid = [
        dict(fast_period=10, slow_period=30, entry="MARKET", oms_type="NETTING", account_type="MARGIN"),
        dict(fast_period=5, slow_period=20, entry="LIMIT", oms_type="NETTING", account_type="MARGIN"),
        dict(fast_period=20, slow_period=60, entry="MARKET", oms_type="HEDGING", account_type="MARGIN"),
        dict(fast_period=8, slow_period=24, entry="MARKET", oms_type="NETTING", account_type="CASH"),
        dict(fast_period=12, slow_period=48, entry="LIMIT", oms_type="HEDGING", account_type="MARGIN"),
        dict(fast_period=6, slow_period=36, entry="MARKET", oms_type="NETTING", account_type="MARGIN"),
    ]
    out = []
    for i in range(n):
        params = grid[i % len(grid)]
        # Cycle single symbols and the pair, so every run set covers both and a two-instrument venue.
        choices = [(s,) for s in symbols] + ([tuple(symbols)] if len(symbols) > 1 else [])
        out.append(
            BacktestSpec(symbols=choices[i % len(choices)], bars=bars, bar_minutes=bar_minutes, seed=seed + i // len(grid), **params)
        )
    return out


# Fields a grid may vary, with the type of their values.
GRID_FIELDS = {
    f.name: {"int": int, "float": float, "str": str}[f.type]
    for f in dataclasses.fields(BacktestSpec)
    if f.type in ("int", "float", "str")
}


def grid(base: BacktestSpec, axes: Mapping[str, Sequence[str]]) -> list[BacktestSpec]:
    """Every combination of the axes' values (text, as given on the command line) applied to `base`,
    the last axis varying fastest. Raises LakeError naming an unknown field or a value of the wrong type."""
    for name in axes:
        if name not in GRID_FIELDS:
            raise LakeError(f"--grid {name}: not a backtest setting; choose from {', '.join(sorted(GRID_FIELDS))}")
    typed = {name: [_grid_value(name, v) for v in values] for name, values in axes.items()}
    return [dataclasses.replace(base, **dict(zip(typed, point))) for point in itertools.product(*typed.values())]


def _grid_value(name: str, text: str):
    kind = GRID_FIELDS[name]
    try:
        value = kind(text.strip())
        if name == "trade_notional":
            Decimal(value)
    except (ValueError, InvalidOperation):
        raise LakeError(f"--grid {name}: {text!r} is not a valid {kind.__name__}") from None
    return value.upper() if name in ("entry", "oms_type", "account_type") else value


def default_experiment(prefix: str = "sweep") -> str:
    """A fresh experiment name: `<prefix>-<UTC time>`."""
    return check_experiment(f"{prefix}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}Z")


# ------------------------------------------------------------------ one backtest (in-process)


def build_engine(spec: BacktestSpec, *, log_dir: str | None = None, log_name: str | None = None):
    """A ready-to-run BacktestEngine for spec (venue, instruments, bars, strategies, equity recorder)."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USDT
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import TraderId, Venue
    from nautilus_trader.model.objects import Money

    from lake.nautilus.backtest import market_data as md
    from lake.nautilus.backtest.strategies import EMACross, EMACrossConfig
    from lake.nautilus.recorder import EquityRecorder, EquityRecorderConfig

    if log_dir is not None:
        logging = LoggingConfig(
            log_level="ERROR",
            log_level_file="INFO",
            log_directory=log_dir,
            log_file_name=log_name,
            log_file_format="json",
            log_colors=False,
        )
    else:
        logging = LoggingConfig(log_level="ERROR", bypass_logging=True)
    engine = BacktestEngine(BacktestEngineConfig(trader_id=TraderId("BACKTESTER-001"), logging=logging))
    balances = [Money(Decimal(spec.starting_usdt), USDT)]
    if spec.account_type == "CASH":
        # A spot CASH account holds some of each base asset, so it can sell before it has bought.
        from nautilus_trader.model.currencies import Currency

        for symbol in spec.symbols:
            s = md.SPECS[symbol]
            amount = (Decimal(spec.starting_usdt) / 10 / Decimal(str(s.first_price))).quantize(Decimal("0.0001"), ROUND_DOWN)
            balances.append(Money(amount, Currency.from_str(s.base)))
    engine.add_venue(
        Venue(md.VENUE),
        oms_type=OmsType[spec.oms_type],
        account_type=AccountType[spec.account_type],
        base_currency=None,
        starting_balances=balances,
    )
    bar_types = []
    for symbol in spec.symbols:
        instrument = md.instrument(symbol)
        engine.add_instrument(instrument)
        engine.add_data(md.bars(symbol, spec.bars, seed=spec.seed, step_seconds=60 * spec.bar_minutes))
        bar_type = str(md.bar_type(symbol, step=f"{spec.bar_minutes}-MINUTE"))
        bar_types.append(bar_type)
        first = Decimal(str(md.SPECS[symbol].first_price))
        step = Decimal(1).scaleb(-md.SPECS[symbol].size_precision)
        size = (Decimal(spec.trade_notional) / first).quantize(step, ROUND_DOWN)
        engine.add_strategy(
            EMACross(
                EMACrossConfig(
                    instrument_id=str(instrument.id),
                    bar_type=bar_type,
                    trade_size=size,
                    fast_period=spec.fast_period,
                    slow_period=spec.slow_period,
                    entry=spec.entry,
                    order_id_tag=symbol,
                )
            )
        )
    engine.add_actor(EquityRecorder(EquityRecorderConfig(bar_types=tuple(bar_types), interval_secs=spec.equity_interval_secs)))
    return engine


def run_one(spec: BacktestSpec, dest: str) -> dict:
    """Run spec in this process, write it to dest; a small JSON-ready report."""
    from lake.nautilus.build import from_nautilus
    from lake.nautilus.documents import engine_config
    from lake.write import write_run

    run_id = spec.run_id or new_run_id(spec.label)
    with tempfile.TemporaryDirectory(prefix="lake-backtest-") as log_dir:
        engine = build_engine(spec, log_dir=log_dir, log_name=run_id)
        engine.run()
        config = {"backtest": dataclasses.asdict(spec) | {"run_id": run_id}, **engine_config(engine)}
        # The log file is named as configured; from_nautilus finds it whatever suffix this Nautilus gives it.
        run = from_nautilus(engine, run_id=run_id, config=config, log_path=Path(log_dir) / run_id, experiment=spec.experiment)
        write_run(run, dest)
        engine.dispose()
    pnl = {k: v.get("PnL (total)") for k, v in run.summary["stats_pnls"].items()}
    return {"run_id": run_id, "label": spec.label, "fills": run.fills.num_rows, "orders": run.orders.num_rows, "pnl": pnl}


# ------------------------------------------------------------------ many backtests (one subprocess each)


def run_backtests(specs: list[BacktestSpec], dest: str | os.PathLike | None = None, *, jobs: int = 2,
                  progress: bool = True) -> list[dict]:
    """Run each spec in its own subprocess, `jobs` at a time; reports in spec order.

    dest: a folder or gs://bucket[/prefix] (None: the default lake), resolved and every
    spec checked before any backtest starts, so a refused destination or a bad setting
    costs no backtest.
    Raises LakeError naming the run whose subprocess failed (with the end of its stderr).
    """
    from tqdm import tqdm

    dest = resolve(dest).url
    for spec in specs:
        spec.check()
    specs = [s if s.run_id else dataclasses.replace(s, run_id=new_run_id(s.label)) for s in specs]
    results: dict[int, dict] = {}
    bar = tqdm(total=len(specs), desc="backtests", unit="run", disable=not progress, file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_child, spec, dest): i for i, spec in enumerate(specs)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.set_postfix_str(results[futures[future]]["label"], refresh=False)
                bar.update(1)
    finally:
        bar.close()
    return [results[i] for i in range(len(specs))]


def _child(spec: BacktestSpec, dest: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "lake.nautilus.backtest.runner", spec.to_json(), dest],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise LakeError(f"backtest {spec.run_id} ({spec.label}) failed with exit code {proc.returncode}:\n{tail}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise LakeError(f"backtest {spec.run_id} ({spec.label}) reported nothing")
    return json.loads(lines[-1])


# The demo's sweep: 3 x 2 EMA periods on BTCUSDT, ten days of 5-minute bars each.
DEMO_GRID = {"fast_period": ["5", "10", "20"], "slow_period": ["30", "60"]}


def run_demo_sweep(dest: str | os.PathLike | None = None, experiment: str | None = None, progress: bool = True) -> list[str]:
    """The demo's sweep (DEMO_GRID) written to dest under one experiment; the run ids."""
    base = BacktestSpec(symbols=("BTCUSDT",), bars=2880, bar_minutes=5, experiment=experiment or default_experiment("demo"))
    reports = run_backtests(grid(base, DEMO_GRID), dest, jobs=2, progress=progress)
    return [r["run_id"] for r in reports]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m lake.nautilus.backtest.runner '<spec json>' <dest>", file=sys.stderr)
        return 2
    report = run_one(BacktestSpec.from_json(args[0]), args[1])
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
