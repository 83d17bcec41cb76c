-- Run A versus run B per instrument: where does one run make or lose money against the other?
-- One row per instrument and currency seen in either run, run A and run B side by side, then B minus A.
--   net_pnl           sum of positions.realized_pnl in this currency (net of commission, as NautilusTrader
--                     reports it; NETTING snapshots count as positions of their own)
--   commission        sum of fills.commission charged in this currency
--   fills, volume     fills and sum of last_qty of the instrument whose commission is in this currency
--                     (for a run that pays commission in one currency: all of the instrument's fills)
--   closed_positions  positions with ts_closed set; win_rate: share of them with realized_pnl > 0
-- An instrument one run never traded shows zeros (and a null win rate) for that run.
-- Parameters:
--   @run_a STRING  the first run (A)
--   @run_b STRING  the second run (B)
-- (Counts are cast back to INT64: DuckDB sums integers into 128-bit ones.)
WITH pnl AS (
  SELECT
    p.run_id,
    p.instrument_id,
    p.currency,
    SUM(p.realized_pnl) AS net_pnl,
    COUNTIF(p.ts_closed IS NOT NULL) AS closed_positions,
    COUNTIF(p.ts_closed IS NOT NULL AND p.realized_pnl > 0) AS winning_positions
  FROM execution.positions AS p
  WHERE p.run_id IN (@run_a, @run_b)
  GROUP BY p.run_id, p.instrument_id, p.currency
),
activity AS (
  SELECT
    f.run_id,
    f.instrument_id,
    f.commission_currency AS currency,
    SUM(f.commission) AS commission,
    COUNT(*) AS fills,
    SUM(f.last_qty) AS volume
  FROM execution.fills AS f
  WHERE f.run_id IN (@run_a, @run_b)
  GROUP BY f.run_id, f.instrument_id, f.commission_currency
),
per_run AS (
  SELECT
    COALESCE(p.run_id, a.run_id) AS run_id,
    COALESCE(p.instrument_id, a.instrument_id) AS instrument_id,
    COALESCE(p.currency, a.currency) AS currency,
    COALESCE(p.net_pnl, 0) AS net_pnl,
    COALESCE(a.commission, 0) AS commission,
    COALESCE(a.fills, 0) AS fills,
    COALESCE(a.volume, 0) AS volume,
    COALESCE(p.closed_positions, 0) AS closed_positions,
    COALESCE(p.winning_positions, 0) AS winning_positions
  FROM pnl AS p
  FULL OUTER JOIN activity AS a
    ON a.run_id = p.run_id AND a.instrument_id = p.instrument_id AND a.currency = p.currency
)
SELECT
  instrument_id,
  currency,
  SUM(IF(run_id = @run_a, net_pnl, 0)) AS net_pnl_a,
  SUM(IF(run_id = @run_b, net_pnl, 0)) AS net_pnl_b,
  SUM(IF(run_id = @run_b, net_pnl, -net_pnl)) AS net_pnl_diff,
  SUM(IF(run_id = @run_a, commission, 0)) AS commission_a,
  SUM(IF(run_id = @run_b, commission, 0)) AS commission_b,
  SUM(IF(run_id = @run_b, commission, -commission)) AS commission_diff,
  CAST(SUM(IF(run_id = @run_a, fills, 0)) AS INT64) AS fills_a,
  CAST(SUM(IF(run_id = @run_b, fills, 0)) AS INT64) AS fills_b,
  SUM(IF(run_id = @run_a, volume, 0)) AS volume_a,
  SUM(IF(run_id = @run_b, volume, 0)) AS volume_b,
  CAST(SUM(IF(run_id = @run_a, closed_positions, 0)) AS INT64) AS closed_positions_a,
  CAST(SUM(IF(run_id = @run_b, closed_positions, 0)) AS INT64) AS closed_positions_b,
  SAFE_DIVIDE(SUM(IF(run_id = @run_a, winning_positions, 0)), SUM(IF(run_id = @run_a, closed_positions, 0))) AS win_rate_a,
  SAFE_DIVIDE(SUM(IF(run_id = @run_b, winning_positions, 0)), SUM(IF(run_id = @run_b, closed_positions, 0))) AS win_rate_b
FROM per_run
GROUP BY instrument_id, currency
ORDER BY instrument_id, currency;
