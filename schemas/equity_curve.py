import polars as pl
import pyarrow as pa

from schemas.contract import Column, Kind, RowCheck, Table, not_blank


def running_peak(table: pa.Table) -> pa.Array:
    """Highest equity so far, per currency in time order: exact on decimals, rows kept in place.

    Stored so that max drawdown is a plain aggregate (MAX(peak_equity - equity)) instead
    of a window over every sample, which dominated the leaderboard's cost.
    """
    frame = pl.from_arrow(table.select(["ts", "currency", "equity"]))
    peak = frame.select(pl.col("equity").cum_max().over("currency", order_by="ts")).to_series()
    return peak.to_arrow().cast(pa.decimal128(38, 9))


EQUITY_CURVE = Table(
    name="equity_curve",
    version=1,
    description="Account equity over time, one row per sample and currency.",
    columns=(
        Column("ts", Kind.TIMESTAMP, "Sample time (UTC)."),
        Column("currency", Kind.STRING, "Currency the amounts are in."),
        Column("balance", Kind.DECIMAL, "Account balance (realized) at ts."),
        Column("unrealized_pnl", Kind.DECIMAL, "Unrealized PnL of open positions at ts."),
        Column("equity", Kind.DECIMAL, "balance + unrealized_pnl."),
        Column(
            "peak_equity",
            Kind.DECIMAL,
            "Highest equity of the run in this currency up to ts; drawdown = peak_equity - equity.",
            derive=running_peak,
        ),
    ),
    unique_together=("ts", "currency"),
    row_checks=(
        *not_blank("currency"),
        RowCheck(
            "equity_eq_balance_plus_unrealized",
            ("equity", "balance", "unrealized_pnl"),
            lambda: pl.col("equity") == pl.col("balance") + pl.col("unrealized_pnl"),
            "equity must equal balance + unrealized_pnl",
        ),
    ),
)
