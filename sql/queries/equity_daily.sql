-- Equity curves of chosen runs side by side, by day: how did the runs' equity evolve against each other?
-- One row per UTC day, run and currency, ordered by day then run; a day's figures are its last sample.
--   equity, balance, unrealized_pnl  the day's last sample of the equity curve
--   change        equity minus the run's first daily equity
--   rebased       equity / the run's first daily equity (1.0 at the start): runs of different capital
--                 compare on one scale
--   drawdown_pct  fall of the day's equity below the running peak of daily equity, as a fraction
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to show; empty (the default) shows every committed run
WITH last_of_day AS (
  SELECT run_id, currency, day, ts, balance, unrealized_pnl, equity
  FROM (
    SELECT
      e.run_id,
      e.currency,
      DATE(e.ts) AS day,
      e.ts,
      e.balance,
      e.unrealized_pnl,
      e.equity,
      ROW_NUMBER() OVER (PARTITION BY e.run_id, e.currency, DATE(e.ts) ORDER BY e.ts DESC) AS nth_last
    FROM execution.equity_curve AS e
    WHERE ARRAY_LENGTH(@run_ids) = 0 OR e.run_id IN UNNEST(@run_ids)
  ) AS samples
  WHERE nth_last = 1
)
SELECT
  day,
  run_id,
  currency,
  ts AS last_sample,
  equity,
  balance,
  unrealized_pnl,
  equity - FIRST_VALUE(equity) OVER running AS change,
  SAFE_DIVIDE(CAST(equity AS FLOAT64), CAST(FIRST_VALUE(equity) OVER running AS FLOAT64)) AS rebased,
  SAFE_DIVIDE(CAST(MAX(equity) OVER running - equity AS FLOAT64), CAST(MAX(equity) OVER running AS FLOAT64))
    AS drawdown_pct
FROM last_of_day
WINDOW running AS (PARTITION BY run_id, currency ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY day, run_id, currency;
