-- Step 7: the gold layer read as distinct trips (one row per trip_id), for every query of it.
-- Delivery is at least once end to end (a Kinesis retry on a cold Lambda container, a Firehose
-- retry, a replay of the on-failure destination): S3 may hold a trip twice, so queries never
-- read scored_trips directly. This SELECT keeps the first copy delivered (processing_time,
-- then model_version, decide); use it as a CTE:
--   WITH trips AS ( <this query> ) SELECT model_version, count(*) FROM trips GROUP BY 1
-- On AWS it can also be stored as a view (CREATE VIEW scored_trips_distinct AS <this query>);
-- the local Athena stand-in has no views, so the project's own queries inline it.
SELECT *
FROM (
  SELECT t.*,
         row_number() OVER (PARTITION BY trip_id ORDER BY processing_time, model_version)
           AS copy_rank
  FROM scored_trips t
)
WHERE copy_rank = 1
