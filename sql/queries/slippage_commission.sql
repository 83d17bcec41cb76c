-- Slippage and commission by run and liquidity side: where does the cost of execution come from?
-- One row per run, liquidity side (MAKER, TAKER, NO_LIQUIDITY_SIDE) and commission currency.
-- Slippage of a fill is measured against a reference price:
--   the order's limit price (orders.price) when the order has one; otherwise the price of the order's
--   first fill (earliest ts_event_ns, then trade_id), so a market order's first fill has zero slippage
--   and its later fills show how far the order walked the book.
--   Per unit: last_px - reference for a BUY, reference - last_px for a SELL; positive is a cost
--   (worse than the reference), negative an improvement.
--   slippage             sum of per-unit slippage * last_qty, in the instrument's quote currency
--   slippage_bps         slippage / sum(reference * last_qty) * 10000
--   commission           sum of fills.commission, in commission_currency
--   commission_bps       commission / notional * 10000 (meaningful when commission is paid in the
--                        quote currency)
--   notional             sum of last_qty * last_px; volume: sum of last_qty
--   fills_vs_limit       fills measured against a limit price; fills_vs_first_fill: against the first fill
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to include; empty (the default) includes every committed run
WITH priced AS (
  SELECT
    f.run_id,
    f.liquidity_side,
    f.commission_currency,
    f.order_side,
    f.last_qty,
    f.last_px,
    f.commission,
    o.price AS limit_price,
    FIRST_VALUE(f.last_px) OVER (
      PARTITION BY f.run_id, f.client_order_id ORDER BY f.ts_event_ns, f.trade_id
    ) AS first_fill_px
  FROM execution.fills AS f
  LEFT JOIN (
    -- The orders filtered on run_id themselves, so their files are pruned too.
    SELECT run_id, client_order_id, price FROM execution.orders
    WHERE ARRAY_LENGTH(@run_ids) = 0 OR run_id IN UNNEST(@run_ids)
  ) AS o
    ON o.run_id = f.run_id AND o.client_order_id = f.client_order_id
  WHERE ARRAY_LENGTH(@run_ids) = 0 OR f.run_id IN UNNEST(@run_ids)
),
referenced AS (
  SELECT
    *,
    COALESCE(limit_price, first_fill_px) AS reference_px,
    IF(order_side = 'BUY', last_px - COALESCE(limit_price, first_fill_px), COALESCE(limit_price, first_fill_px) - last_px)
      AS slippage_per_unit
  FROM priced
),
amounts AS (
  -- NUMERIC * NUMERIC is NUMERIC in BigQuery; the CAST makes every engine round each product alike.
  SELECT
    *,
    CAST(last_qty * last_px AS NUMERIC) AS fill_notional,
    CAST(last_qty * reference_px AS NUMERIC) AS reference_notional,
    CAST(last_qty * slippage_per_unit AS NUMERIC) AS fill_slippage
  FROM referenced
)
SELECT
  run_id,
  liquidity_side,
  commission_currency,
  COUNT(*) AS fills,
  SUM(last_qty) AS volume,
  SUM(fill_notional) AS notional,
  SUM(commission) AS commission,
  SAFE_DIVIDE(CAST(SUM(commission) AS FLOAT64), CAST(SUM(fill_notional) AS FLOAT64)) * 10000 AS commission_bps,
  SUM(fill_slippage) AS slippage,
  SAFE_DIVIDE(CAST(SUM(fill_slippage) AS FLOAT64), CAST(SUM(reference_notional) AS FLOAT64)) * 10000 AS slippage_bps,
  COUNTIF(limit_price IS NOT NULL) AS fills_vs_limit,
  COUNTIF(limit_price IS NULL) AS fills_vs_first_fill
FROM amounts
GROUP BY run_id, liquidity_side, commission_currency
ORDER BY run_id, liquidity_side, commission_currency;
