-- Step 1: the raw (bronze) table of the green taxi (street-hail livery) trips, over the TLC's
-- Parquet files uploaded by setup_datalake.py to s3://${raw_bucket}/trips/green/year=/month=/.
-- Columns: the TLC green trip record, in its order, names lower-cased; the same type rules as
-- the yellow table (raw_yellow_table.sql): each month is rewritten to exactly these types.
CREATE EXTERNAL TABLE IF NOT EXISTS ${database}.${raw_table}_green (
  vendorid BIGINT,
  lpep_pickup_datetime TIMESTAMP,
  lpep_dropoff_datetime TIMESTAMP,
  store_and_fwd_flag STRING,
  ratecodeid DOUBLE,
  pulocationid BIGINT,
  dolocationid BIGINT,
  passenger_count DOUBLE,
  trip_distance DOUBLE,
  fare_amount DOUBLE,
  extra DOUBLE,
  mta_tax DOUBLE,
  tip_amount DOUBLE,
  tolls_amount DOUBLE,
  ehail_fee DOUBLE,
  improvement_surcharge DOUBLE,
  total_amount DOUBLE,
  payment_type BIGINT,
  trip_type DOUBLE,
  congestion_surcharge DOUBLE,
  cbd_congestion_fee DOUBLE
)
PARTITIONED BY (year STRING, month STRING)
STORED AS PARQUET
LOCATION 's3://${raw_bucket}/trips/green/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
