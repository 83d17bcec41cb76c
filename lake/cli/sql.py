"""SQL subcommands: sql generate, register, query, compare."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

from lake.errors import LakeError

FORMATS = ("table", "csv", "json", "parquet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="the SQL shipped in sql/: generate the DDL and views from schemas/")
    sql_sub = p.add_subparsers(dest="sql_command", required=True, metavar="SQL_COMMAND")
    g = sql_sub.add_parser("generate", help="write sql/ddl/*.sql and sql/views/*.sql from schemas/")
    g.add_argument("--out", default=None, help="folder to write ddl/ and views/ into (default: the sql package)")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files differ from schemas/")
    g.set_defaults(func=cmd_sql_generate)

    p = sub.add_parser("register", help="create the BigQuery dataset, external tables and views (idempotent)")
    p.add_argument("--project", default=None, help="BigQuery project (default: $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--dataset", default="execution", help="dataset (default: execution)")
    p.add_argument("--location", default=None, help="dataset location, needed when the dataset is created (e.g. US, europe-west1)")
    p.add_argument("--bucket", default=None, help="bucket of the lake, or gs://bucket/prefix (default: $EXECUTION_STORE_GCS_BUCKET)")
    p.add_argument("--dry-run", action="store_true", help="print the statements; call nothing")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("query", help="run a BigQuery query from sql/queries (or a file, or SQL text) on the lake with DuckDB")
    p.add_argument("query", nargs="?", metavar="FILE_OR_SQL", help="a shipped query name (leaderboard, ...), a .sql file, or SQL text")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a @parameter; arrays: a,b,c")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout (required for parquet)")
    p.add_argument("--list", action="store_true", help="list the shipped queries and their parameters, then exit")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("compare", help="leaderboard of runs side by side and a PNG of their equity curves")
    p.add_argument("runs", nargs="+", metavar="RUN_ID", help="two or more committed runs")
    p.add_argument("--dest", default=None, help="lake folder or gs://bucket[/prefix] (default: $LAKE_DEST or ./lakehouse)")
    p.add_argument("--png", default="lake-compare.png", help="where to save the equity curves (default: ./lake-compare.png)")
    p.set_defaults(func=cmd_compare)


def _dest(args) -> str:
    from lake.cli.core import default_dest

    return args.dest or default_dest()


# --- sql generate ----------------------------------------------------------------------------


def cmd_sql_generate(args) -> int:
    from lake.catalog.bigquery import drifted_files, write_generated_files
    from sql import SQL_DIR

    out = Path(args.out) if args.out else SQL_DIR
    if args.check:
        drift = drifted_files(out)
        if drift:
            print("out of date with schemas/ (run `lake sql generate`): " + ", ".join(drift))
            return 1
        print("sql/ddl and sql/views match schemas/")
        return 0
    changed = write_generated_files(out)
    print(f"wrote {', '.join(changed)}" if changed else "sql/ddl and sql/views already match schemas/")
    return 0


# --- register --------------------------------------------------------------------------------


def cmd_register(args) -> int:
    from lake.catalog import bigquery as bq

    project = args.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    from lake.stores.gcs import default_bucket

    bucket = args.bucket or default_bucket()
    lake_root = bq.lake_root_from_bucket(bucket)
    if args.dry_run:
        print(f"-- dry run: what `lake register` sends for {lake_root}; nothing is called")
        print(bq.dataset_sql(project, args.dataset, args.location))
        for stmt in bq.statements(dataset=args.dataset, lake_root=lake_root, project=project, fingerprints=True):
            print(stmt.sql)
        return 0
    if not project:
        raise LakeError("no project: pass --project or set GOOGLE_CLOUD_PROJECT")
    client = bq.make_client(project, args.location)
    report = bq.register(client, bucket=bucket, dataset=args.dataset, location=args.location, echo=print)
    n = sum(c.action != "unchanged" for c in report.changes)
    print(f"{n} object{'s' if n != 1 else ''} changed" if n else "nothing changed: already registered")
    return 0


# --- query -----------------------------------------------------------------------------------


def parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lstrip("@")
        if not sep or not name:
            raise LakeError(f"--param {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def cmd_query(args) -> int:
    from lake.catalog.duckdb_engine import query_lake
    from lake.catalog.translate import load_query, shipped_queries

    if args.list:
        for name in shipped_queries():
            q = load_query(name)
            params = " ".join(f"@{p.name}:{p.type}" for p in q.params.values())
            print(f"{name:22} {q.title}" + (f"\n{'':22} parameters: {params}" if params else ""))
        return 0
    if not args.query:
        raise LakeError("give a query: a shipped name (see --list), a .sql file, or SQL text")
    if args.format == "parquet" and not args.output:
        raise LakeError("--format parquet needs --output FILE")
    result = query_lake(_dest(args), load_query(args.query), parse_params(args.param))
    write_result(result, args.format, args.output)
    return 0


def _plain(value):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # exact, as a string: JSON numbers are floats
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def format_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}" if value == value else "NaN"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def format_table(table) -> str:
    """A pyarrow table as aligned text: numbers right-aligned, decimals without trailing zeros."""
    import pyarrow as pa

    names = table.column_names
    columns = [table.column(n).to_pylist() for n in names]
    numeric = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in table.schema.types
    ]
    cells = [[format_cell(v) for v in col] for col in columns]
    widths = [max([len(n)] + [len(c) for c in col]) for n, col in zip(names, cells)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    rows = [line(names), line(["-" * w for w in widths])]
    rows += [line([col[i] for col in cells]) for i in range(table.num_rows)]
    rows.append(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})")
    return "\n".join(rows)


def write_result(table, fmt: str, output: str | None) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, output)
        print(f"wrote {table.num_rows} rows to {output}", file=sys.stderr)
        return
    if fmt == "csv":
        import io

        import pyarrow.csv as pcsv

        buf = io.BytesIO()
        pcsv.write_csv(table, buf)
        text = buf.getvalue().decode()
    elif fmt == "json":
        rows = [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        text = format_table(table) + "\n"
    if output:
        Path(output).write_text(text)
        print(f"wrote {table.num_rows} rows to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


# --- compare ---------------------------------------------------------------------------------

_EQUITY_SAMPLES = """\
-- Equity samples of chosen runs, for the plot of `lake compare`.
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to plot
SELECT run_id, currency, ts, CAST(equity AS FLOAT64) AS equity
FROM execution.equity_curve
WHERE run_id IN UNNEST(@run_ids)
ORDER BY run_id, currency, ts
"""

_COMMITTED = """\
-- Which of the chosen runs are committed.
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to look for
SELECT run_id FROM execution.runs WHERE run_id IN UNNEST(@run_ids)
"""

# Leaderboard columns shown as rows, one column per run (and currency).
COMPARE_FIELDS = [
    "net_pnl", "commission", "trades", "closed_positions", "win_rate", "max_drawdown", "max_drawdown_pct",
    "sharpe", "return_days", "turnover",
]


def side_by_side(leaderboard) -> str:
    """Leaderboard rows turned into columns: one row per metric, one column per run and currency."""
    rows = leaderboard.to_pylist()
    header = ["metric"] + [f"{r['run_id']} ({r['currency']})" for r in rows]
    body = [[f] + [format_cell(r[f]) for r in rows] for f in COMPARE_FIELDS]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def fmt(line):
        return "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(line, widths)))

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)])


def plot_equity(samples, path: str | os.PathLike, title: str) -> Path:
    """Equity, and equity over its first sample, one line per run and currency; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    frame = samples.to_pandas()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), dpi=100, sharex=True)
    try:
        for (run_id, currency), group in frame.groupby(["run_id", "currency"], sort=True):
            label = f"{run_id} ({currency})"
            top.plot(group["ts"], group["equity"], label=label, linewidth=1.2)
            first = group["equity"].iloc[0]
            if first:
                bottom.plot(group["ts"], group["equity"] / first, label=label, linewidth=1.2)
        top.set_title(title)
        top.set_ylabel("equity")
        bottom.set_ylabel("equity / first sample")
        bottom.set_xlabel("time (UTC)")
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        top.legend(loc="best")
        fig.autofmt_xdate()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out


def cmd_compare(args) -> int:
    from lake.catalog.duckdb_engine import open_engine, run_query
    from lake.run import check_run_id

    runs = list(dict.fromkeys(check_run_id(r) for r in args.runs))
    if len(runs) < 2:
        raise LakeError("compare needs at least two different run ids")
    dest = _dest(args)
    con = open_engine(dest)
    try:
        found = set(run_query(con, _COMMITTED, {"run_ids": runs}).column("run_id").to_pylist())
        missing = [r for r in runs if r not in found]
        if missing:
            raise LakeError(f"not committed in {dest}: {', '.join(missing)}")
        board = run_query(con, "leaderboard", {"run_ids": runs})
        order = {r: i for i, r in enumerate(runs)}
        board = board.take(sorted(range(board.num_rows), key=lambda i: (order[board["run_id"][i].as_py()], board["currency"][i].as_py())))
        print(side_by_side(board))
        if len(runs) == 2:
            per_instrument = run_query(con, "run_vs_run", {"run_a": runs[0], "run_b": runs[1]})
            print(f"\nper instrument (a = {runs[0]}, b = {runs[1]}):")
            print(format_table(per_instrument.select(
                ["instrument_id", "currency", "net_pnl_a", "net_pnl_b", "net_pnl_diff", "commission_a", "commission_b", "fills_a", "fills_b"]
            )))
        samples = run_query(con, _EQUITY_SAMPLES, {"run_ids": runs})
    finally:
        con.close()
    out = plot_equity(samples, args.png, "equity: " + " vs ".join(runs))
    print(f"\nequity curves saved to {out.resolve()}")
    return 0
