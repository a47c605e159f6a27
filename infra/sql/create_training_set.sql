-- Step 2: the training set (CTAS): clean, optionally sampled trips as Parquet in
-- the processed bucket, under training/<job name>/trips/ (a new empty folder per run, as CTAS
-- requires).
-- Columns get the project's canonical names (taximl.schema) so the training script reads them
-- directly; it validates them again with taximl.validation (the same rules as the Lambda).
CREATE TABLE ${database}.${training_table}
WITH (
  format = 'PARQUET',
  write_compression = 'SNAPPY',
  external_location = '${location}'
) AS
SELECT
  'yellow' AS taxi_type,
  vendorid AS vendor_id,
  tpep_pickup_datetime AS pickup_datetime,
  tpep_dropoff_datetime AS dropoff_datetime,
  passenger_count,
  trip_distance,
  ratecodeid AS rate_code_id,
  store_and_fwd_flag,
  pulocationid AS pu_location_id,
  dolocationid AS do_location_id,
  payment_type,
  fare_amount,
  extra,
  mta_tax,
  tip_amount,
  tolls_amount,
  improvement_surcharge,
  total_amount,
  congestion_surcharge,
  airport_fee
FROM ${database}.${raw_table}
WHERE
  -- filters of the course template
  fare_amount > 0 AND fare_amount < 500
  AND trip_distance > 0 AND trip_distance < 100
  AND passenger_count > 0
  -- plausibility filters added by this project
  AND fare_amount >= 2.5                                 -- below the meter's initial charge
  AND ratecodeid IN (1, 2, 3, 4)                         -- metered or flat fares; negotiated (5),
                                                         -- group (6) and unknown (99) have no rule
  AND pulocationid BETWEEN 1 AND 265 AND dolocationid BETWEEN 1 AND 265
  AND date_diff('second', tpep_pickup_datetime, tpep_dropoff_datetime) BETWEEN 60 AND 10800
  AND trip_distance * 3600.0
      / date_diff('second', tpep_pickup_datetime, tpep_dropoff_datetime) <= 80  -- mph
  -- months to use (year || month, e.g. '202401'), and an optional random sample
  AND concat(year, month) BETWEEN '${from_month}' AND '${to_month}'
  AND rand() < ${sample_fraction}
