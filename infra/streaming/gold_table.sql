-- Step 7: the scored trips (gold layer) as an Athena table over the Firehose output.
-- JSON lines (GZIP) under s3://<gold bucket>/scored/year=YYYY/month=MM/day=DD/hour=HH/;
-- partitions are projected (no MSCK REPAIR needed). Placeholders: ${GLUE_DATABASE}, ${GOLD_BUCKET}.
-- Timestamps are ISO 8601 text: use from_iso8601_timestamp(event_time) in queries.
-- Delivery is at least once: a trip can be in S3 twice (never in the index). Read it through
-- gold_distinct_trips.sql (one row per trip_id), never this table directly.
CREATE EXTERNAL TABLE IF NOT EXISTS ${GLUE_DATABASE}.scored_trips (
  trip_id string,
  taxi_type string,
  vendor_id int,
  pickup_datetime string,
  dropoff_datetime string,
  passenger_count double,
  trip_distance double,
  rate_code_id int,
  store_and_fwd_flag string,
  pu_location_id int,
  do_location_id int,
  payment_type int,
  fare_amount double,
  extra double,
  mta_tax double,
  tip_amount double,
  tolls_amount double,
  improvement_surcharge double,
  total_amount double,
  congestion_surcharge double,
  airport_fee double,
  predicted_fare double,
  residual double,
  anomaly_score double,
  is_outlier boolean,
  threshold_rule string,
  threshold double,
  threshold_mode string,
  meter_fare double,
  model_version string,
  feature_version string,
  event_time string,
  processing_time string
)
PARTITIONED BY (year string, month string, day string, hour string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://${GOLD_BUCKET}/scored/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.year.type' = 'integer', 'projection.year.range' = '2024,2035',
  'projection.month.type' = 'integer', 'projection.month.range' = '1,12',
  'projection.month.digits' = '2',
  'projection.day.type' = 'integer', 'projection.day.range' = '1,31', 'projection.day.digits' = '2',
  'projection.hour.type' = 'integer', 'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://${GOLD_BUCKET}/scored/year=${year}/month=${month}/day=${day}/hour=${hour}/'
);
