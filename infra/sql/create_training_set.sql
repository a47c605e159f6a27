-- Step 2: the training set (CTAS): clean, optionally sampled trips of every taxi type as
-- Parquet in the processed bucket, under training/<job name>/trips/ (a new empty folder per
-- run, as CTAS requires).
-- The raw tables of the taxi types are unioned with a taxi_type column, and the columns get
-- the project's canonical names (taximl.schema) so the training script reads them directly; it
-- validates them again with taximl.validation (the same rules as the Lambda).
CREATE TABLE ${database}.${training_table}
WITH (
  format = 'PARQUET',
  write_compression = 'SNAPPY',
  external_location = '${location}'
) AS
SELECT
  taxi_type, vendor_id, pickup_datetime, dropoff_datetime, passenger_count, trip_distance,
  rate_code_id, store_and_fwd_flag, pu_location_id, do_location_id, payment_type, fare_amount,
  extra, mta_tax, tip_amount, tolls_amount, improvement_surcharge, total_amount,
  congestion_surcharge, airport_fee
FROM (
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
    fare_amount, extra, mta_tax, tip_amount, tolls_amount, improvement_surcharge,
    total_amount, congestion_surcharge, airport_fee,
    year, month
  FROM ${database}.${raw_table}_yellow
  UNION ALL
  SELECT
    'green' AS taxi_type,
    vendorid AS vendor_id,
    lpep_pickup_datetime AS pickup_datetime,
    lpep_dropoff_datetime AS dropoff_datetime,
    passenger_count,
    trip_distance,
    ratecodeid AS rate_code_id,
    store_and_fwd_flag,
    pulocationid AS pu_location_id,
    dolocationid AS do_location_id,
    payment_type,
    fare_amount, extra, mta_tax, tip_amount, tolls_amount, improvement_surcharge,
    total_amount, congestion_surcharge,
    CAST(NULL AS DOUBLE) AS airport_fee,                 -- green trips have no airport fee
    year, month
  FROM ${database}.${raw_table}_green
) AS trips
WHERE
  -- filters of the course template (its passenger_count > 0 is dropped: no TLC rule charges
  -- per passenger, and drivers often leave the count at 0, so those trips are ordinary fares)
  fare_amount > 0 AND fare_amount < 500
  AND trip_distance > 0 AND trip_distance < 100
  -- plausibility filters added by this project
  AND fare_amount >= 2.5                                 -- below the meter's initial charge
  AND rate_code_id IN (1, 2, 3, 4)                       -- metered or flat fares; negotiated (5),
                                                         -- group (6) and unknown (99) have no rule
  AND pu_location_id BETWEEN 1 AND 265 AND do_location_id BETWEEN 1 AND 265
  AND date_diff('second', pickup_datetime, dropoff_datetime) BETWEEN 60 AND 10800
  AND trip_distance * 3600.0
      / date_diff('second', pickup_datetime, dropoff_datetime) <= 80  -- mph
  -- months to use (year || month, e.g. '202401'), and an optional random sample
  AND concat(year, month) BETWEEN '${from_month}' AND '${to_month}'
  AND rand() < ${sample_fraction}
