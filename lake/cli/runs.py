"""`lake runs`: the committed runs of a lake side by side (also shown by `lake demo`)."""

from __future__ import annotations

import argparse

# The runs-table columns worth comparing at a glance, in display order.
FIELDS = [
    "strategy_ids", "instrument_ids", "backtest_start", "backtest_end", "order_count", "fill_count",
    "position_count", "pnl_currency", "realized_pnl", "commission", "win_rate", "sharpe_ratio", "created_at",
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="committed runs side by side, read from the lake with DuckDB")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--last", type=int, default=6, help="show the N most recent runs")
    p.set_defaults(func=cmd_runs)


def cmd_runs(args) -> int:
    from lake.stores import default_dest

    print(runs_side_by_side(args.dest or default_dest(), args.last))
    return 0


def runs_side_by_side(dest: str, last: int = 6, run_ids: list[str] | None = None) -> str:
    """The chosen committed runs (else the `last` most recent) as columns, one row per field."""
    from lake.catalog.engine import query_lake
    from lake.catalog.translate import command_query
    from lake.cli.format import side_by_side

    if run_ids == []:  # none chosen; an empty @run_ids would mean "the most recent"
        rows = []
    else:
        rows = query_lake(dest, command_query("runs"), {"run_ids": run_ids or [], "last": last}).to_pylist()
    if not rows:
        return f"no committed runs in {dest}"
    ids = [r["run_id"] for r in rows]
    numbered = max(map(len, ids)) > 24  # long ids would make the table too wide: number the columns instead
    labels = [f"run {i}" for i in range(1, len(ids) + 1)] if numbered else ids
    legend = [f"run {i}: {rid}" for i, rid in enumerate(ids, 1)] + [""] if numbered else []
    return "\n".join([*legend, side_by_side("field", labels, rows, FIELDS, glance=True)])
