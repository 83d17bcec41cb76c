"""The commands' pictures: equity curves (`lake compare`) and a sweep's metric over its parameters (`lake sweep`).

Every picture is a PNG of a fixed size (FIGSIZE at DPI), laid out so that long titles, labels and run ids
wrap or fit inside it instead of being cut. Each plot returns what it drew (`Picture`), so a caller can
check the picture from its data, not from its pixels.
"""

from __future__ import annotations

import math
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

FIGSIZE = (10.0, 7.0)  # inches
DPI = 100
_TITLE_POINTS = 12


@dataclass(frozen=True)
class Picture:
    """A saved PNG and the data that drew it."""

    path: Path
    size: tuple[int, int]  # pixels: width, height
    title: str
    cells: list[list[float | None]] = field(default_factory=list)  # heatmap rows (y) x columns (x), or one row for a line
    labels: list[str] = field(default_factory=list)  # the text written on each cell or point, in drawing order


@dataclass(frozen=True)
class SweepGrid:
    """A metric over one or two parameters: cells[i][j] is the mean over the runs at y_values[i], x_values[j]
    (one row when there is no y), counts[i][j] how many runs that is (0: none, the cell is empty)."""

    metric: str
    x_name: str
    x_values: list[str]
    y_name: str | None
    y_values: list[str]
    cells: list[list[float | None]]
    counts: list[list[int]]
    higher_is_better: bool = True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _figure(plt, rows: int = 1):
    """A figure of the fixed size whose layout engine keeps titles, labels and legends inside it."""
    return plt.subplots(rows, 1, figsize=FIGSIZE, dpi=DPI, layout="constrained", squeeze=False)


def wrapped(text: str, points: float = _TITLE_POINTS) -> str:
    """`text` broken into lines that fit the figure's width at a font of `points` (long run ids included)."""
    chars = max(20, int(FIGSIZE[0] * 72 / (points * 0.62)))
    return "\n".join(textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False)) or text


def _save(fig, path: str | os.PathLike) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)  # never bbox_inches="tight": the size stays FIGSIZE x DPI
    return out


def plot_equity(samples, path: str | os.PathLike, title: str) -> Picture:
    """Equity, and equity over its first sample, one line per run and currency; saved as PNG.

    The legend sits below the plots, one entry a line, so long run ids neither cover the curves nor get cut.
    """
    plt = _pyplot()
    frame = samples.to_pandas()
    fig, axes = _figure(plt, rows=2)
    top, bottom = axes[0][0], axes[1][0]
    try:
        for (run_id, currency), group in frame.groupby(["run_id", "currency"], sort=True):
            label = f"{run_id} ({currency})"
            top.plot(group["ts"], group["equity"], label=label, linewidth=1.2)
            first = group["equity"].iloc[0]
            if first:
                bottom.plot(group["ts"], group["equity"] / first, label=label, linewidth=1.2)
        top.set_title(wrapped(title), fontsize=_TITLE_POINTS)
        top.set_ylabel("equity")
        bottom.set_ylabel("equity / first sample")
        bottom.set_xlabel("time (UTC)")
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        handles, labels = top.get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=1, fontsize="small", frameon=False)
        fig.autofmt_xdate()
        out = _save(fig, path)
    finally:
        plt.close(fig)
    return Picture(out, _size(), title, labels=labels)


def plot_sweep(grid: SweepGrid, path: str | os.PathLike, title: str) -> Picture:
    """A heatmap of the metric over two parameters (a line over one), every cell annotated; saved as PNG."""
    plt = _pyplot()
    fig, axes = _figure(plt)
    ax = axes[0][0]
    try:
        if grid.y_name is None:
            drawn, labels = _line(ax, grid)
        else:
            drawn, labels = _heatmap(fig, ax, grid)
        ax.set_xlabel(grid.x_name)
        ax.set_title(wrapped(title), fontsize=_TITLE_POINTS)
        out = _save(fig, path)
    finally:
        plt.close(fig)
    return Picture(out, _size(), title, cells=drawn, labels=labels)


def _heatmap(fig, ax, grid: SweepGrid) -> tuple[list[list[float | None]], list[str]]:
    import numpy as np
    from matplotlib.colors import Normalize, TwoSlopeNorm

    values = np.ma.masked_invalid(np.array([[math.nan if v is None else v for v in row] for row in grid.cells], dtype=float))
    low, high = (float(values.min()), float(values.max())) if values.count() else (0.0, 1.0)
    if grid.higher_is_better:  # centred on zero: gains green, losses red, whatever the range
        reach = max(abs(low), abs(high)) or 1.0
        cmap, norm = "RdYlGn", TwoSlopeNorm(0.0, -reach, reach)
    else:  # a cost (drawdown): the smallest green, the largest red
        cmap, norm = "RdYlGn_r", Normalize(low, high if high > low else low + 1.0)
    image = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto", origin="lower")
    ax.set_xticks(range(len(grid.x_values)), grid.x_values)
    ax.set_yticks(range(len(grid.y_values)), grid.y_values)
    ax.set_ylabel(grid.y_name)
    fig.colorbar(image, ax=ax, label=grid.metric)
    labels = []
    for i, row in enumerate(grid.cells):
        for j, value in enumerate(row):
            text = _annotation(value, grid.counts[i][j])
            shade = image.norm(value) if value is not None else 0.5
            ax.text(j, i, text, ha="center", va="center", fontsize="medium",
                    color="white" if shade < 0.2 or shade > 0.8 else "black")
            labels.append(text)
    drawn = [[None if np.ma.is_masked(v) else float(v) for v in row] for row in image.get_array()]
    return drawn, labels


def _line(ax, grid: SweepGrid) -> tuple[list[list[float | None]], list[str]]:
    row, counts = grid.cells[0], grid.counts[0]
    positions = range(len(grid.x_values))
    points = [(p, v) for p, v in zip(positions, row) if v is not None]
    line = ax.plot([p for p, _ in points], [v for _, v in points], marker="o", linewidth=1.5)[0]
    ax.set_xticks(list(positions), grid.x_values)
    ax.set_ylabel(grid.metric)
    ax.grid(True, alpha=0.3)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.margins(x=0.08, y=0.15)  # room for the labels above the points
    labels = []
    for p, value in zip(positions, row):
        text = _annotation(value, counts[p])
        ax.annotate(text, (p, value if value is not None else 0), textcoords="offset points", xytext=(0, 8), ha="center")
        labels.append(text)
    ys = list(line.get_ydata())
    drawn = [[float(ys.pop(0)) if value is not None else None for value in row]]
    return drawn, labels


def _annotation(value: float | None, count: int) -> str:
    if value is None:
        return "-"
    text = f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    return f"{text}\n(n={count})" if count > 1 else text


def _size() -> tuple[int, int]:
    return round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI)


def axis_values(values: Sequence[str | None]) -> list[str]:
    """The distinct values of a parameter in axis order: as numbers when all are numbers, else as text."""
    distinct = sorted({v for v in values if v is not None})
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct
