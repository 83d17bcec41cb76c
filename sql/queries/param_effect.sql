-- Parameter effect: across the runs of one experiment, how do net PnL and Sharpe move with one parameter?
-- One row per value of parameter @param (and currency) among the committed runs of @experiment that have
-- it, ordered by the value (as a number when it is one). Figures from the runs rows, as in sweep.sql:
--   value             the parameter's value as JSON_VALUE gives it (text)
--   runs              runs with that value
--   mean_net_pnl      mean of their net PnL (FLOAT64: a mean of NUMERIC values is NUMERIC in BigQuery and
--                     DOUBLE in DuckDB, so the values are averaged as FLOAT64 on both)
--   min_net_pnl, max_net_pnl  the worst and best of them, exact
--   mean_sharpe, min_sharpe, max_sharpe  of their equity_sharpe (daily equity returns; runs without one
--                     are left out of these three)
-- Parameters:
--   @experiment STRING  the experiment (runs.experiment)
--   @param STRING  a key of params_json, e.g. 'EMACross-BTCUSDT.fast_period'
WITH runs AS (
  SELECT
    JSON_VALUE(r.params_json, CONCAT('$."', @param, '"')) AS value,
    r.pnl_currency AS currency,
    COALESCE(r.realized_pnl, IF(r.realized_pnl_by_currency = '{}', CAST(0 AS NUMERIC), NULL)) AS net_pnl,
    r.equity_sharpe AS sharpe
  FROM execution.runs AS r
  WHERE r.experiment = @experiment
)
SELECT
  value,
  currency,
  COUNT(*) AS runs,
  AVG(CAST(net_pnl AS FLOAT64)) AS mean_net_pnl,
  MIN(net_pnl) AS min_net_pnl,
  MAX(net_pnl) AS max_net_pnl,
  AVG(sharpe) AS mean_sharpe,
  MIN(sharpe) AS min_sharpe,
  MAX(sharpe) AS max_sharpe
FROM runs
WHERE value IS NOT NULL
GROUP BY value, currency
ORDER BY SAFE_CAST(value AS FLOAT64) NULLS LAST, value, currency NULLS LAST
