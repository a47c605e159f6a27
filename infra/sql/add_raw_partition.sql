-- Step 1: register one month of raw trips (run once per uploaded year=/month= folder).
-- Athena only reads partitions the Glue catalog knows about.
ALTER TABLE ${database}.${raw_table} ADD IF NOT EXISTS
PARTITION (year = '${year}', month = '${month}')
LOCATION 's3://${raw_bucket}/trips/year=${year}/month=${month}/'
