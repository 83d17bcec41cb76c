-- Which committed runs does a command show: the chosen ones, or the most recent?
-- Every field of their runs rows, for `lake runs`, `lake demo` and `lake compare`: the committed runs among
-- @run_ids, by run_id; with @run_ids empty, the @last most recent runs, oldest first.
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to show; empty (the default) shows the most recent
--   @last INT64  how many of the most recent runs to show when @run_ids is empty (default: 6)
SELECT * EXCEPT (recency)
FROM (
  SELECT r.*, ROW_NUMBER() OVER (ORDER BY r.created_at DESC, r.run_id) AS recency
  FROM execution.runs AS r
  WHERE ARRAY_LENGTH(@run_ids) = 0 OR r.run_id IN UNNEST(@run_ids)
)
WHERE ARRAY_LENGTH(@run_ids) > 0 OR recency <= @last
ORDER BY IF(ARRAY_LENGTH(@run_ids) > 0, run_id, NULL), recency DESC
