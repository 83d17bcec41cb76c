"""`lake sweep`: the runs of one experiment ranked with their parameters, and a picture of a metric over them.

The table is sql/queries/sweep.sql's answer; the picture (plot.plot_sweep) is drawn from that same answer: a
heatmap of the metric over two parameters, or a line over one. Parameters are named by their params_json key
or by its last part when that is unambiguous (`fast_period` for `EMACross-BTCUSDT.fast_period`); without
--x/--y, the parameters that vary across the experiment are used.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass

from lake.errors import LakeError

# --metric -> the sweep query's column, what the picture calls it, and whether a higher value is better.
METRICS = {
    "net_pnl": ("net_pnl", "net PnL", True),
    "sharpe": ("equity_sharpe", "Sharpe of daily equity returns (equity_sharpe)", True),
    "max_drawdown": ("max_drawdown", "max drawdown", False),
}
COLUMNS = ["rank", "run_id", "x", "y", "currency", "net_pnl", "commission", "trades", "max_drawdown", "equity_sharpe"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="the runs of one experiment ranked with their parameters, and a heatmap of a metric")
    p.add_argument("experiment", metavar="EXPERIMENT", help="the experiment (lake backtest --experiment)")
    p.add_argument("--x", default=None, metavar="PARAM", help="parameter on the x axis (default: the first that varies)")
    p.add_argument("--y", default=None, metavar="PARAM", help="parameter on the y axis (default: the second that varies)")
    p.add_argument("--metric", choices=sorted(METRICS), default="net_pnl", help="what the picture shows (sharpe: of daily equity returns)")
    p.add_argument("--png", default="lake-sweep.png", help="where to save the picture (default: ./lake-sweep.png)")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from lake.stores import default_dest

    print(sweep_report(args.dest or default_dest(), args.experiment, x=args.x, y=args.y, metric=args.metric, png=args.png).text)
    return 0


@dataclass(frozen=True)
class SweepReport:
    text: str
    picture: object | None  # plot.Picture, None when no parameter varies
    grid: object | None  # plot.SweepGrid that drew it


def sweep_report(dest, experiment: str, *, x: str | None = None, y: str | None = None, metric: str = "net_pnl",
                 png: str = "lake-sweep.png") -> SweepReport:
    """The sweep table of `experiment` and its picture, saved to `png`."""
    from lake.catalog.engine import open_engine, run_query
    from lake.cli.format import table
    from lake.cli.plot import plot_sweep
    from lake.run import check_experiment

    experiment = check_experiment(experiment)
    if metric not in METRICS:
        raise LakeError(f"unknown metric {metric!r}: choose from {', '.join(sorted(METRICS))}")
    if y and not x:
        raise LakeError("--y needs --x (a line is drawn over --x alone)")
    con = open_engine(dest)
    try:
        rows = run_query(con, "sweep", {"experiment": experiment}).to_pylist()
        if not rows:
            raise LakeError(f"no committed run of experiment {experiment!r} in {dest}")
        params = {r["run_id"]: json.loads(r["params"]) if r["params"] else {} for r in rows}
        varying = varying_params(params)
        axes = [resolve_param(name, params) for name in (x, y) if name] or varying[:2]
        if len(set(axes)) < len(axes):
            raise LakeError(f"--x and --y both name {axes[0]}: choose two parameters")
        answer = run_query(con, "sweep", {"experiment": experiment, **dict(zip(("x", "y"), axes))})
    finally:
        con.close()
    names = [short_name(key, params) for key in axes]
    labels = dict(zip(("x", "y"), names))  # the axis columns the query filled, named by their parameter
    columns = [c for c in COLUMNS if c not in ("x", "y") or c in labels]
    shown = answer.select(columns).rename_columns([labels.get(c, c) for c in columns])
    lines = [f"experiment {experiment}: {answer.num_rows} run{'s' if answer.num_rows != 1 else ''}, ranked by net PnL", table(shown)]
    others = [short_name(k, params) for k in varying if k not in axes]
    if others:
        lines.append(f"also varying (averaged in the picture): {', '.join(others)}")
    if not axes:
        lines.append("no parameter varies across these runs: no picture")
        return SweepReport("\n".join(lines), None, None)
    grid = sweep_grid(answer.to_pylist(), metric, names)
    title = f"{experiment}: {grid.metric} by {' and '.join(names)}"
    picture = plot_sweep(grid, png, title)
    kind = "heatmap" if grid.y_name else "line"
    lines.append(f"{kind} of {metric} over {' x '.join(names)} saved to {picture.path.resolve()}")
    return SweepReport("\n".join(lines), picture, grid)


def varying_params(params: dict[str, dict]) -> list[str]:
    """The parameter keys whose value is not the same in every run (missing counts as a value), sorted."""
    keys = sorted({k for p in params.values() for k in p})
    return [k for k in keys if len({json.dumps(p.get(k, "<missing>")) for p in params.values()}) > 1]


def resolve_param(name: str, params: dict[str, dict]) -> str:
    """The params_json key `name` means: itself, or the one key ending in `.name` (several keys with equal
    values in every run, e.g. one setting of two strategies, count as one)."""
    keys = sorted({k for p in params.values() for k in p})
    if name in keys:
        return name
    matches = [k for k in keys if k.endswith("." + name)]
    if not matches:
        raise LakeError(f"no run of this experiment has a parameter {name!r}; varying: {', '.join(varying_params(params)) or 'none'}")
    if all(len({json.dumps(p.get(k)) for k in matches}) == 1 for p in params.values()):
        return matches[0]
    raise LakeError(f"parameter {name!r} is ambiguous: {', '.join(matches)} (give the whole name)")


def short_name(key: str, params: dict[str, dict]) -> str:
    """The last part of a key when no other key of the runs ends the same, else the key."""
    last = key.rsplit(".", 1)[-1]
    keys = {k for p in params.values() for k in p}
    return last if sum(k == last or k.endswith("." + last) for k in keys) == 1 else key


def sweep_grid(rows: list[dict], metric: str, names: list[str]):
    """The picture's data from the sweep query's rows (x, y already extracted by the query): the metric's mean
    per grid point, runs without a value (or without a single currency) left out."""
    from lake.cli.plot import SweepGrid, axis_values

    column, label, higher_is_better = METRICS[metric]
    currencies = sorted({r["currency"] for r in rows if r["currency"] is not None})
    if len(currencies) > 1:
        raise LakeError(f"the runs settle in several currencies ({', '.join(currencies)}): one picture cannot compare them")
    two = len(names) > 1
    xs = axis_values([r["x"] for r in rows])
    ys = axis_values([r["y"] for r in rows]) if two else [""]
    values: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["x"] is None or (two and r["y"] is None) or r[column] is None:
            continue
        values.setdefault((r["y"] if two else "", r["x"]), []).append(float(r[column]))
    cells = [[statistics.fmean(values[(yv, xv)]) if (yv, xv) in values else None for xv in xs] for yv in ys]
    counts = [[len(values.get((yv, xv), [])) for xv in xs] for yv in ys]
    return SweepGrid(label, names[0], xs, names[1] if two else None, ys if two else [], cells, counts, higher_is_better)
