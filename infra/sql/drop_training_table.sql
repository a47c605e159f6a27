-- Step 2: forget the previous training table (its Parquet files stay in S3, one folder per run).
DROP TABLE IF EXISTS ${database}.${training_table}
