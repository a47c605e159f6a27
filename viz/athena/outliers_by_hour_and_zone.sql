-- Outliers per hour of pickup and pickup zone (gold layer, one row per trip_id).
-- Named query of step 7 (python viz/athena_report.py). Its CTE is filled in with
-- infra/streaming/gold_distinct_trips.sql (gold read as one row per trip_id).
-- A retried batch can write a trip twice in S3: each trip counts once (its first scoring).
WITH scored AS (
${GOLD_DISTINCT_TRIPS}
)
SELECT CAST(substr(pickup_datetime, 12, 2) AS integer) AS pickup_hour,
       pu_location_id,
       count(*) AS trips,
       sum(CASE WHEN is_outlier THEN 1 ELSE 0 END) AS outliers,
       round(avg(CASE WHEN is_outlier THEN 1.0 ELSE 0.0 END), 4) AS outlier_rate
FROM scored
GROUP BY 1, 2
HAVING sum(CASE WHEN is_outlier THEN 1 ELSE 0 END) > 0
ORDER BY outliers DESC, pickup_hour, pu_location_id
