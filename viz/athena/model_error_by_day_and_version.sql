-- Model error per day (of arrival) and model version (gold layer, one row per trip_id).
-- Named query of step 7 (python viz/athena_report.py). Its CTE is filled in with
-- infra/streaming/gold_distinct_trips.sql (gold read as one row per trip_id).
-- residual = actual - predicted fare; mae/rmse in dollars; bias > 0: the model predicts low.
WITH scored AS (
${GOLD_DISTINCT_TRIPS}
)
SELECT substr(event_time, 1, 10) AS day,
       model_version,
       count(*) AS trips,
       round(avg(abs(residual)), 4) AS mae,
       round(sqrt(avg(residual * residual)), 4) AS rmse,
       round(avg(residual), 4) AS bias,
       sum(CASE WHEN is_outlier THEN 1 ELSE 0 END) AS outliers
FROM scored
GROUP BY 1, 2
ORDER BY day, model_version
