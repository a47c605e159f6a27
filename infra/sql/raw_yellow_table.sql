-- Step 1: the raw (bronze) table of the yellow taxi trips, over the TLC's Parquet files
-- uploaded by setup_datalake.py to s3://${raw_bucket}/trips/yellow/year=YYYY/month=MM/.
-- Columns: the TLC yellow trip record, in its order, with the names lower-cased as Glue keeps
-- them (Athena matches Parquet columns by name, case-insensitively).
--
-- Every file under this location has exactly these column types. The TLC's own monthly files
-- drift (passenger_count and RatecodeID are double in some months and int64 in others; the
-- airport fee is Airport_fee or airport_fee), and Athena reads a Parquet column only as its
-- own type or a wider one of the same kind (INT -> BIGINT, FLOAT -> DOUBLE): an int64 file under
-- a DOUBLE column fails the query with HIVE_BAD_DATA. So setup_datalake.py rewrites each month
-- to these types on upload (values unchanged: integers to DOUBLE, whole doubles to BIGINT).
CREATE EXTERNAL TABLE IF NOT EXISTS ${database}.${raw_table}_yellow (
  vendorid BIGINT,
  tpep_pickup_datetime TIMESTAMP,
  tpep_dropoff_datetime TIMESTAMP,
  passenger_count DOUBLE,
  trip_distance DOUBLE,
  ratecodeid DOUBLE,
  store_and_fwd_flag STRING,
  pulocationid BIGINT,
  dolocationid BIGINT,
  payment_type BIGINT,
  fare_amount DOUBLE,
  extra DOUBLE,
  mta_tax DOUBLE,
  tip_amount DOUBLE,
  tolls_amount DOUBLE,
  improvement_surcharge DOUBLE,
  total_amount DOUBLE,
  congestion_surcharge DOUBLE,
  airport_fee DOUBLE,
  cbd_congestion_fee DOUBLE
)
PARTITIONED BY (year STRING, month STRING)
STORED AS PARQUET
LOCATION 's3://${raw_bucket}/trips/yellow/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY')
