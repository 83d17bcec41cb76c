"""How the commands show results: one rule per cell, aligned tables, runs side by side, the --format outputs."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Mapping, Sequence

FORMATS = ("table", "csv", "json", "parquet")


def cell(value, *, glance: bool = False) -> str:
    """One value as text: exact by default (decimals without trailing zeros, full timestamps).

    glance=True is for an overview whose columns should line up: floats to four
    places, decimals at their scale, times to the second.
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        if glance:
            return f"{value:.4f}"
        return f"{value:.6g}" if value == value else "NaN"
    if isinstance(value, Decimal):
        return format(value, "f") if glance else format(value.normalize(), "f")
    if glance and isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def aligned(header: Sequence[str], body: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """The header, a rule, then the body; each column as wide as its widest cell, right-aligned where asked."""
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, body)]


def side_by_side(corner: str, labels: Sequence[str], records: Sequence[Mapping], fields: Sequence[str], *, glance: bool = False) -> str:
    """Records as columns under `labels`, one row per field: the easiest way to compare a few runs."""
    body = [[name] + [cell(r[name], glance=glance) for r in records] for name in fields]
    return "\n".join(aligned([corner, *labels], body, [False] + [True] * len(labels)))


def column_labels(labels: Sequence[str], widest: int = 24) -> tuple[list[str], list[str]]:
    """(column headers, legend lines) for runs shown side by side: the labels themselves, or, when one is wider
    than `widest` (long run ids would make the table too wide), `run 1`, `run 2`, ... and a legend naming each."""
    if not labels or max(map(len, labels)) <= widest:
        return list(labels), []
    numbered = [f"run {i}" for i in range(1, len(labels) + 1)]
    return numbered, [f"{n}: {label}" for n, label in zip(numbered, labels)] + [""]


def table(result) -> str:
    """A pyarrow table as aligned text: numbers right-aligned, then the row count."""
    import pyarrow as pa

    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in result.schema.types]
    columns = [[cell(v) for v in result.column(name).to_pylist()] for name in result.column_names]
    rows = [[col[i] for col in columns] for i in range(result.num_rows)]
    n = result.num_rows
    return "\n".join([*aligned(result.column_names, rows, numeric), f"({n} row{'s' if n != 1 else ''})"])


def _plain(value):
    """A JSON value: decimals exact as strings (JSON numbers are floats), times in ISO 8601."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def write_result(result, fmt: str, output: str | None) -> None:
    """A pyarrow table in one of FORMATS, to `output` or stdout (parquet needs a file)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(result, output)
        print(f"wrote {result.num_rows} rows to {output}", file=sys.stderr)
        return
    if fmt == "csv":
        import io

        import pyarrow.csv as pcsv

        buf = io.BytesIO()
        pcsv.write_csv(result, buf)
        text = buf.getvalue().decode()
    elif fmt == "json":
        rows = [{k: _plain(v) for k, v in row.items()} for row in result.to_pylist()]
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        text = table(result) + "\n"
    if output:
        Path(output).write_text(text)
        print(f"wrote {result.num_rows} rows to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
