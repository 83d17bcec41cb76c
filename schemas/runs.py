from schemas.contract import Column, Kind, Table

RUNS = Table(
    name="runs",
    version=2,  # 2: data_file, table_versions
    description="One row per committed run: the flattened summary. A run exists for readers only once this row exists.",
    columns=(
        Column("trader_id", Kind.STRING, "NautilusTrader trader id.", nullable=True),
        Column("strategy_ids", Kind.STRING, "Strategy ids of the run, sorted, comma-separated.", nullable=True),
        Column("instrument_ids", Kind.STRING, "Instrument ids traded or configured, sorted, comma-separated.", nullable=True),
        Column("venues", Kind.STRING, "Venues of the run, sorted, comma-separated.", nullable=True),
        Column("backtest_start", Kind.TIMESTAMP, "Start of the simulated backtest window (UTC).", nullable=True),
        Column("backtest_end", Kind.TIMESTAMP, "End of the simulated backtest window (UTC).", nullable=True),
        Column("run_started", Kind.TIMESTAMP, "Wall-clock time the backtest started (UTC).", nullable=True),
        Column("run_finished", Kind.TIMESTAMP, "Wall-clock time the backtest finished (UTC).", nullable=True),
        Column("order_count", Kind.INT64, "Rows in orders.", non_negative=True),
        Column("fill_count", Kind.INT64, "Rows in fills.", non_negative=True),
        Column("position_count", Kind.INT64, "Rows in positions (snapshots included).", non_negative=True),
        Column("equity_point_count", Kind.INT64, "Rows in equity_curve.", non_negative=True),
        Column("pnl_currency", Kind.STRING, "The single settlement currency of positions; null if none or several.", nullable=True),
        Column("realized_pnl", Kind.DECIMAL, "Sum of positions.realized_pnl in pnl_currency.", nullable=True),
        Column("commission", Kind.DECIMAL, "Sum of fills.commission when all are in pnl_currency.", nullable=True),
        Column("realized_pnl_by_currency", Kind.STRING, "JSON object: currency -> sum of realized_pnl (decimal string)."),
        Column("commission_by_currency", Kind.STRING, "JSON object: currency -> sum of commission (decimal string)."),
        Column("win_rate", Kind.FLOAT64, "Share of winning positions in pnl_currency (NautilusTrader 'Win Rate').", nullable=True),
        Column("sharpe_ratio", Kind.FLOAT64, "Sharpe ratio, 252 days (NautilusTrader returns statistics).", nullable=True),
        Column("sortino_ratio", Kind.FLOAT64, "Sortino ratio, 252 days.", nullable=True),
        Column("profit_factor", Kind.FLOAT64, "Profit factor.", nullable=True),
        Column("returns_volatility", Kind.FLOAT64, "Returns volatility, 252 days.", nullable=True),
        Column("risk_return_ratio", Kind.FLOAT64, "Risk/return ratio.", nullable=True),
        Column("created_at", Kind.TIMESTAMP, "When the run was first written to the store (UTC)."),
        Column("schema_version", Kind.INT64, "Version of the runs table contract this row follows."),
        Column("writer_version", Kind.STRING, "execution-lake version that wrote the run."),
        Column("summary_json", Kind.STRING, "The whole summary.json of the run, for fields without a column."),
        Column(
            "data_file",
            Kind.STRING,
            "File name of the run's committed files in every data table (part-<generation>.parquet); "
            "readers read only these. Null in rows written before contract version 2: part-00000.parquet.",
            nullable=True,
            since=2,
        ),
        Column(
            "table_versions",
            Kind.STRING,
            "JSON object: data table -> the contract version its file was written under (readers of older "
            "files read added columns as NULL). Null in rows written before contract version 2: all 1.",
            nullable=True,
            since=2,
        ),
    ),
    exactly_one_row=True,
)
