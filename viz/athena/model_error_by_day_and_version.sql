-- Model error per day (of arrival) and model version (gold layer, one row per trip_id).
-- Named query of step 7 (python viz/athena_report.py). Placeholders: ${GLUE_DATABASE}.
-- residual = actual - predicted fare; mae/rmse in dollars; bias > 0: the model predicts low.
WITH scored AS (
  SELECT trip_id, event_time, model_version, residual, is_outlier,
         row_number() OVER (PARTITION BY trip_id ORDER BY processing_time) AS copy
  FROM ${GLUE_DATABASE}.scored_trips
)
SELECT substr(event_time, 1, 10) AS day,
       model_version,
       count(*) AS trips,
       round(avg(abs(residual)), 4) AS mae,
       round(sqrt(avg(residual * residual)), 4) AS rmse,
       round(avg(residual), 4) AS bias,
       sum(CASE WHEN is_outlier THEN 1 ELSE 0 END) AS outliers
FROM scored
WHERE copy = 1
GROUP BY 1, 2
ORDER BY day, model_version
