-- Holding-time distribution of positions: how long do runs hold positions, and which holds pay?
-- One row per run, currency and holding-time bucket that has closed positions (NETTING snapshots
-- included: each closed leg is a position of its own). Open positions are left out.
-- Holding time is ts_closed_ns - ts_opened_ns (exact nanoseconds), in seconds.
--   bucket               0: < 1 s, 1: 1-10 s, 2: 10 s-1 min, 3: 1-10 min, 4: 10 min-1 h, 5: 1 h-1 day,
--                        6: >= 1 day (lower bound included)
--   positions, share     closed positions in the bucket, and their share of the run's (and currency's)
--   avg/min/max_holding_seconds
--   net_pnl              sum of their realized_pnl; win_rate: share with realized_pnl > 0
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to include; empty (the default) includes every committed run
WITH closed AS (
  SELECT
    p.run_id,
    p.currency,
    p.realized_pnl,
    (p.ts_closed_ns - p.ts_opened_ns) / 1e9 AS holding_seconds
  FROM execution.positions AS p
  WHERE p.ts_closed_ns IS NOT NULL
    AND (ARRAY_LENGTH(@run_ids) = 0 OR p.run_id IN UNNEST(@run_ids))
),
bucketed AS (
  SELECT
    *,
    CAST(CASE
      WHEN holding_seconds < 1 THEN 0
      WHEN holding_seconds < 10 THEN 1
      WHEN holding_seconds < 60 THEN 2
      WHEN holding_seconds < 600 THEN 3
      WHEN holding_seconds < 3600 THEN 4
      WHEN holding_seconds < 86400 THEN 5
      ELSE 6
    END AS INT64) AS bucket  -- INT64 on every engine (DuckDB types small literals INTEGER)
  FROM closed
)
SELECT
  run_id,
  currency,
  bucket,
  CASE bucket
    WHEN 0 THEN '< 1s'
    WHEN 1 THEN '1s - 10s'
    WHEN 2 THEN '10s - 1min'
    WHEN 3 THEN '1min - 10min'
    WHEN 4 THEN '10min - 1h'
    WHEN 5 THEN '1h - 1d'
    ELSE '>= 1d'
  END AS holding_time,
  COUNT(*) AS positions,
  COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY run_id, currency) AS share,
  AVG(holding_seconds) AS avg_holding_seconds,
  MIN(holding_seconds) AS min_holding_seconds,
  MAX(holding_seconds) AS max_holding_seconds,
  SUM(realized_pnl) AS net_pnl,
  COUNTIF(realized_pnl > 0) / COUNT(*) AS win_rate
FROM bucketed
GROUP BY run_id, currency, bucket
ORDER BY run_id, currency, bucket;
