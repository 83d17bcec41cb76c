-- Run leaderboard: which committed run made the most after commission, and at what risk?
-- One row per run and currency (settlement currency of positions, currency of commissions or of the
-- equity curve), ranked by net PnL within each currency.
--   net_pnl           sum of positions.realized_pnl, which NautilusTrader reports net of commission;
--                     NETTING snapshots (closed legs) count as positions of their own
--   commission        sum of fills.commission charged in this currency
--   trades            fills of the run (one trade_id each); a run-level figure, repeated per currency
--   closed_positions  positions with ts_closed set, snapshots included
--   win_rate          share of closed positions with realized_pnl > 0
--   max_drawdown      largest fall of equity below its running peak (peak_equity), over every equity sample
--   max_drawdown_pct  that fall as a fraction of the peak it fell from (the largest such fraction)
--   sharpe            mean / sample standard deviation of daily equity returns, times SQRT(252); a day's
--                     equity is its last sample (UTC); days without samples are skipped; null with
--                     fewer than two returns
--   return_days       daily returns behind sharpe
--   turnover          sum of last_qty * last_px over the run's fills, in the instruments' quote
--                     currency; each product rounded to 9 decimals (half away from zero) before the
--                     sum, as BigQuery computes NUMERIC products; a run-level figure, repeated per currency
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to rank; empty (the default) ranks every committed run
-- Each lake table is filtered on run_id itself (the views show committed runs only): a filter on the
-- partition column prunes files in both engines, where a join through a list of runs would not.
WITH fills_by_currency AS (
  -- One pass over the fills: commission per currency, and what the run totals need.
  SELECT
    f.run_id,
    f.commission_currency AS currency,
    SUM(f.commission) AS commission,
    COUNT(*) AS trades,
    SUM(CAST(f.last_qty * f.last_px AS NUMERIC)) AS turnover  -- rounded per fill, as BigQuery does
  FROM execution.fills AS f
  WHERE ARRAY_LENGTH(@run_ids) = 0 OR f.run_id IN UNNEST(@run_ids)
  GROUP BY f.run_id, f.commission_currency
),
activity AS (
  -- Casts keep BigQuery's types on every engine (DuckDB sums INT64 into 128 bits).
  SELECT run_id, CAST(SUM(trades) AS INT64) AS trades, CAST(SUM(turnover) AS NUMERIC) AS turnover
  FROM fills_by_currency
  GROUP BY run_id
),
pnl AS (
  SELECT
    p.run_id,
    p.currency,
    SUM(p.realized_pnl) AS net_pnl,
    COUNTIF(p.ts_closed IS NOT NULL) AS closed_positions,
    COUNTIF(p.ts_closed IS NOT NULL AND p.realized_pnl > 0) AS winning_positions
  FROM execution.positions AS p
  WHERE ARRAY_LENGTH(@run_ids) = 0 OR p.run_id IN UNNEST(@run_ids)
  GROUP BY p.run_id, p.currency
),
equity_days AS (
  -- One pass over the equity samples: each UTC day's last sample and its deepest fall below the
  -- running peak (peak_equity is stored with every sample, so no window over the samples is needed).
  SELECT
    e.run_id,
    e.currency,
    DATE(e.ts) AS day,
    MAX_BY(e.equity, e.ts) AS equity,
    MAX(e.peak_equity - e.equity) AS drawdown,
    MAX(SAFE_DIVIDE(CAST(e.peak_equity - e.equity AS FLOAT64), CAST(e.peak_equity AS FLOAT64))) AS drawdown_pct
  FROM execution.equity_curve AS e
  WHERE ARRAY_LENGTH(@run_ids) = 0 OR e.run_id IN UNNEST(@run_ids)
  GROUP BY e.run_id, e.currency, DATE(e.ts)
),
drawdown AS (
  SELECT run_id, currency, MAX(drawdown) AS max_drawdown, MAX(drawdown_pct) AS max_drawdown_pct
  FROM equity_days
  GROUP BY run_id, currency
),
sharpe AS (
  SELECT
    run_id,
    currency,
    COUNT(daily_return) AS return_days,
    SAFE_DIVIDE(AVG(daily_return), STDDEV_SAMP(daily_return)) * SQRT(252) AS sharpe
  FROM (
    SELECT
      run_id,
      currency,
      SAFE_DIVIDE(CAST(equity AS FLOAT64), CAST(LAG(equity) OVER (PARTITION BY run_id, currency ORDER BY day) AS FLOAT64)) - 1
        AS daily_return
    FROM equity_days
  ) AS daily_returns
  GROUP BY run_id, currency
),
run_currencies AS (
  SELECT run_id, currency FROM pnl
  UNION DISTINCT
  SELECT run_id, currency FROM fills_by_currency
  UNION DISTINCT
  SELECT run_id, currency FROM drawdown
)
SELECT
  RANK() OVER (PARTITION BY k.currency ORDER BY COALESCE(p.net_pnl, 0) DESC) AS rank,
  k.run_id,
  k.currency,
  COALESCE(p.net_pnl, 0) AS net_pnl,
  COALESCE(c.commission, 0) AS commission,
  COALESCE(a.trades, 0) AS trades,
  COALESCE(p.closed_positions, 0) AS closed_positions,
  SAFE_DIVIDE(p.winning_positions, p.closed_positions) AS win_rate,
  d.max_drawdown,
  d.max_drawdown_pct,
  s.sharpe,
  COALESCE(s.return_days, 0) AS return_days,
  COALESCE(a.turnover, 0) AS turnover
FROM run_currencies AS k
LEFT JOIN pnl AS p ON p.run_id = k.run_id AND p.currency = k.currency
LEFT JOIN fills_by_currency AS c ON c.run_id = k.run_id AND c.currency = k.currency
LEFT JOIN activity AS a ON a.run_id = k.run_id
LEFT JOIN drawdown AS d ON d.run_id = k.run_id AND d.currency = k.currency
LEFT JOIN sharpe AS s ON s.run_id = k.run_id AND s.currency = k.currency
ORDER BY k.currency, rank, k.run_id;
