-- Sweep: across the runs of one experiment, which parameter values won, and by how much?
-- One row per committed run of @experiment, ranked by net PnL within its currency, with the values of two
-- chosen parameters. Every figure comes from the run's runs row (computed by the writer from the run's
-- tables), so the query reads one small file per run, however many fills and samples the runs hold.
--   x, y              the values of parameters @x and @y (keys of params_json, e.g.
--                     'EMACross-BTCUSDT.fast_period') as JSON_VALUE gives them (text); null when not
--                     asked for, or when the run has no such parameter
--   currency          pnl_currency: the single settlement currency of the run's positions (null: several)
--   net_pnl           sum of positions.realized_pnl in that currency (NautilusTrader reports it net of
--                     commission; NETTING snapshots count); 0 for a run without positions
--   commission        sum of fills.commission, when all is charged in that currency
--   trades            fills of the run
--   max_drawdown      largest fall of equity below its running peak, in that currency, over every sample
--   max_drawdown_pct  that fall as a fraction of the peak it fell from
--   equity_sharpe     mean / sample standard deviation of daily (UTC) equity returns, times SQRT(252)
--                     (the leaderboard's sharpe); not NautilusTrader's position-return Sharpe
--   params            every parameter of the run (params_json)
-- Parameters:
--   @experiment STRING  the experiment (runs.experiment)
--   @x STRING  a parameter to show as column x (default: '')
--   @y STRING  a parameter to show as column y (default: '')
SELECT
  RANK() OVER (PARTITION BY currency ORDER BY net_pnl DESC) AS rank,
  run_id,
  x,
  y,
  currency,
  net_pnl,
  commission,
  trades,
  max_drawdown,
  max_drawdown_pct,
  equity_sharpe,
  params
FROM (
  SELECT
    r.run_id,
    -- NULLIF: no path at all (a null result) when the parameter is not asked for.
    JSON_VALUE(r.params_json, CONCAT('$."', NULLIF(@x, ''), '"')) AS x,
    JSON_VALUE(r.params_json, CONCAT('$."', NULLIF(@y, ''), '"')) AS y,
    r.pnl_currency AS currency,
    COALESCE(r.realized_pnl, IF(r.realized_pnl_by_currency = '{}', CAST(0 AS NUMERIC), NULL)) AS net_pnl,
    r.commission,
    r.fill_count AS trades,
    r.max_drawdown,
    r.max_drawdown_pct,
    r.equity_sharpe,
    r.params_json AS params
  FROM execution.runs AS r
  WHERE r.experiment = @experiment
) AS runs
ORDER BY currency NULLS LAST, rank, run_id
