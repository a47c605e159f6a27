-- Step 1: register one month of raw trips of one taxi type (run once per uploaded
-- trips/<taxi_type>/year=/month= folder). Athena only reads partitions the Glue catalog knows.
ALTER TABLE ${database}.${raw_table}_${taxi_type} ADD IF NOT EXISTS
PARTITION (year = '${year}', month = '${month}')
LOCATION 's3://${raw_bucket}/trips/${taxi_type}/year=${year}/month=${month}/'
