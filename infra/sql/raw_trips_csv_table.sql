-- The course template's CSV raw table, corrected. Step 1 no longer uses it (setup_datalake.py
-- keeps the TLC's Parquet as Parquet: raw_yellow_table.sql and raw_green_table.sql); it stays
-- here as the reference for loading CSV files by hand, e.g. the older TLC CSV downloads:
-- s3://${raw_bucket}/csv/yellow/year=YYYY/month=MM/, each file with a header row, columns in the
-- official TLC yellow order (extra trailing columns, such as a label, are ignored).
--
-- Fixes of the course template's DDL:
--   * LazySimpleSerDe splits fields on 'field.delim' ('separatorChar' belongs to OpenCSVSerde
--     and is silently ignored by LazySimpleSerDe, which then reads whole lines as one column);
--   * the header row is skipped with 'skip.header.line.count' (otherwise it becomes a row of
--     NULLs and, for string columns, a row with the column names);
--   * passenger_count and ratecodeid are DOUBLE: real TLC files write them as 1 or 1.0, and
--     an INT column turns 1.0 into NULL.
CREATE EXTERNAL TABLE IF NOT EXISTS ${database}.${raw_table} (
  vendorid INT,
  tpep_pickup_datetime TIMESTAMP,
  tpep_dropoff_datetime TIMESTAMP,
  passenger_count DOUBLE,
  trip_distance DOUBLE,
  ratecodeid DOUBLE,
  store_and_fwd_flag STRING,
  pulocationid INT,
  dolocationid INT,
  payment_type INT,
  fare_amount DOUBLE,
  extra DOUBLE,
  mta_tax DOUBLE,
  tip_amount DOUBLE,
  tolls_amount DOUBLE,
  improvement_surcharge DOUBLE,
  total_amount DOUBLE,
  congestion_surcharge DOUBLE,
  airport_fee DOUBLE
)
PARTITIONED BY (year STRING, month STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
WITH SERDEPROPERTIES ('field.delim' = ',', 'serialization.format' = ',')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://${raw_bucket}/csv/yellow/'
TBLPROPERTIES ('skip.header.line.count' = '1')
