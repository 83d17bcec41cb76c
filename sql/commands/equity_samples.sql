-- What are the equity samples of the chosen runs?
-- The points of `lake compare`'s plot, equity as FLOAT64 (a plot needs no exact decimals).
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to plot
SELECT run_id, currency, ts, CAST(equity AS FLOAT64) AS equity
FROM execution.equity_curve
WHERE run_id IN UNNEST(@run_ids)
ORDER BY run_id, currency, ts
