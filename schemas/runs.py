from schemas.contract import Column, Kind, Table

RUNS = Table(
    name="runs",
    version=3,  # 2: data_file, table_versions; 3: experiment, tags, parameters, equity figures
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
        Column(
            "sharpe_ratio",
            Kind.FLOAT64,
            "Deprecated: the same value as position_returns_sharpe (NautilusTrader's Sharpe Ratio (252 days) of "
            "position returns, gross of commission), kept for readers of earlier rows. For the equity curve's, see equity_sharpe.",
            nullable=True,
        ),
        Column("sortino_ratio", Kind.FLOAT64, "Sortino ratio, 252 days (NautilusTrader, of position returns).", nullable=True),
        Column("profit_factor", Kind.FLOAT64, "Profit factor (NautilusTrader, of position returns).", nullable=True),
        Column("returns_volatility", Kind.FLOAT64, "Returns volatility, 252 days (NautilusTrader, of position returns).", nullable=True),
        Column("risk_return_ratio", Kind.FLOAT64, "Risk/return ratio (NautilusTrader, of position returns).", nullable=True),
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
        Column(
            "experiment",
            Kind.STRING,
            "Experiment (a sweep of runs) the run belongs to, named by the run_id rule. Null: none, or a row "
            "written before contract version 3.",
            nullable=True,
            since=3,
        ),
        Column("tags_json", Kind.STRING, "JSON object of the run's tags: name -> text. Null: none.", nullable=True, since=3),
        Column(
            "params_json",
            Kind.STRING,
            "JSON object of the settings that decided the result, flat: \"<strategy_id>.<field>\" (strategies and "
            "actors), \"venue.<VENUE>.<setting>\", \"data.<field>\" -> a JSON scalar (lists and objects as JSON "
            "text); secrets as ***. One value: JSON_VALUE(params_json, '$.\"<key>\"'). Null: none given.",
            nullable=True,
            since=3,
        ),
        Column(
            "position_returns_sharpe",
            Kind.FLOAT64,
            "NautilusTrader's Sharpe Ratio (252 days): of its returns statistics, from positions' realized returns "
            "(gross of commission), not from equity. Null in rows written before contract version 3: see sharpe_ratio.",
            nullable=True,
            since=3,
        ),
        Column(
            "equity_sharpe",
            Kind.FLOAT64,
            "Sharpe ratio of daily (UTC) equity returns in pnl_currency, times SQRT(252): mean / sample standard "
            "deviation, a day's equity its last sample (the leaderboard query's sharpe); null with fewer than two returns.",
            nullable=True,
            since=3,
        ),
        Column(
            "max_drawdown",
            Kind.DECIMAL,
            "Largest fall of equity below its running peak, in pnl_currency, over every equity sample (the leaderboard "
            "query's max_drawdown).",
            nullable=True,
            since=3,
        ),
        Column(
            "max_drawdown_pct",
            Kind.FLOAT64,
            "The largest such fall as a fraction of the peak it fell from (the leaderboard query's max_drawdown_pct).",
            nullable=True,
            since=3,
        ),
    ),
    exactly_one_row=True,
)
