"""`lake runs`: the committed runs of a lake side by side (also shown by `lake demo`)."""

from __future__ import annotations

import argparse
import json

# The runs-table columns worth comparing at a glance, in display order. Two Sharpe ratios, named for what they
# are: equity_sharpe (of daily equity returns) and NautilusTrader's position_returns_sharpe.
FIELDS = [
    "experiment", "strategy_ids", "instrument_ids", "backtest_start", "backtest_end", "order_count", "fill_count",
    "position_count", "pnl_currency", "realized_pnl", "commission", "max_drawdown", "win_rate", "equity_sharpe",
    "position_returns_sharpe", "created_at",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="committed runs side by side, read from the lake with DuckDB")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--last", type=int, default=None, help="show the N most recent runs (default 6; with --experiment all of them)")
    p.add_argument("--experiment", default=None, help="only the runs of this experiment, with the parameters that vary among them")
    p.set_defaults(func=cmd_runs)


def cmd_runs(args) -> int:
    from lake.run import check_experiment
    from lake.stores import default_dest

    experiment = check_experiment(args.experiment)
    last = args.last if args.last is not None else (2**62 if experiment else 6)
    print(runs_side_by_side(args.dest or default_dest(), last, experiment=experiment))
    return 0


def position_returns_sharpe(runs_row: dict) -> float | None:
    """NautilusTrader's Sharpe of a runs row; rows written before contract version 3 hold it as sharpe_ratio."""
    value = runs_row.get("position_returns_sharpe")
    return runs_row.get("sharpe_ratio") if value is None else value


def runs_side_by_side(dest: str, last: int = 6, run_ids: list[str] | None = None, experiment: str | None = None) -> str:
    """The chosen committed runs (else the `last` most recent, of `experiment` when given) as columns, one row per
    field, then one row per parameter whose value differs among them."""
    from lake.catalog.engine import query_lake
    from lake.catalog.translate import command_query
    from lake.cli.format import column_labels, side_by_side
    from lake.cli.sweep import varying_params

    if run_ids == []:  # none chosen; an empty @run_ids would mean "the most recent"
        rows = []
    else:
        params = {"run_ids": run_ids or [], "last": last, "experiment": experiment or ""}
        rows = query_lake(dest, command_query("runs"), params).to_pylist()
    if not rows:
        return f"no committed runs{f' of experiment {experiment}' if experiment else ''} in {dest}"
    ids = [r["run_id"] for r in rows]
    runs_params = {r["run_id"]: json.loads(r["params_json"]) if r["params_json"] else {} for r in rows}
    varying = varying_params(runs_params)
    records = [
        {**r, "position_returns_sharpe": position_returns_sharpe(r), **{k: runs_params[r["run_id"]].get(k) for k in varying}}
        for r in rows
    ]
    labels, legend = column_labels(ids)
    return "\n".join([*legend, side_by_side("field", labels, records, FIELDS + varying, glance=True)])
