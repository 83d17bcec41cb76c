import polars as pl

from schemas.contract import Column, Kind, RowCheck, Table

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
    ),
    unique_together=("ts", "currency"),
    row_checks=(
        RowCheck(
            "equity_eq_balance_plus_unrealized",
            ("equity", "balance", "unrealized_pnl"),
            lambda: pl.col("equity") == pl.col("balance") + pl.col("unrealized_pnl"),
            "equity must equal balance + unrealized_pnl",
        ),
    ),
)
