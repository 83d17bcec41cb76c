-- Which committed runs does a command show: the chosen ones, or the most recent?
-- Every field of their runs rows, for `lake runs`, `lake demo` and `lake compare`: the committed runs among
-- @run_ids, by run_id; with @run_ids empty, the @last most recent runs, oldest first; either way only the
-- runs of @experiment when it is given.
-- Parameters:
--   @run_ids ARRAY<STRING>  runs to show; empty (the default) shows the most recent
--   @experiment STRING  show only this experiment's runs (default: '')
--   @last INT64  how many of the most recent runs to show when @run_ids is empty (default: 6)
SELECT * EXCEPT (recency)
FROM (
  SELECT r.*, ROW_NUMBER() OVER (ORDER BY r.created_at DESC, r.run_id) AS recency
  FROM execution.runs AS r
  WHERE (ARRAY_LENGTH(@run_ids) = 0 OR r.run_id IN UNNEST(@run_ids))
    AND (@experiment = '' OR r.experiment = @experiment)
)
WHERE ARRAY_LENGTH(@run_ids) > 0 OR recency <= @last
ORDER BY IF(ARRAY_LENGTH(@run_ids) > 0, run_id, NULL), recency DESC
