"""Environment variable names and defaults, in one place.

Resolution order everywhere: explicit argument > environment variable > default.
"""

# --- environment variable names -------------------------------------------------------------
ENV_REGION = "AWS_REGION"
ENV_DEFAULT_REGION = "AWS_DEFAULT_REGION"
ENV_PROJECT_PREFIX = "PROJECT_PREFIX"
ENV_RAW_BUCKET = "RAW_BUCKET"
ENV_PROCESSED_BUCKET = "PROCESSED_BUCKET"
ENV_MODELS_BUCKET = "MODELS_BUCKET"
ENV_GOLD_BUCKET = "GOLD_BUCKET"
ENV_GLUE_DATABASE = "GLUE_DATABASE"
ENV_RAW_TABLE = "RAW_TABLE"
ENV_TRAINING_TABLE = "TRAINING_TABLE"
ENV_STREAM_NAME = "STREAM_NAME"
ENV_FUNCTION_NAME = "FUNCTION_NAME"
ENV_GOLD_DELIVERY_STREAM = "GOLD_DELIVERY_STREAM"
ENV_QUARANTINE_DELIVERY_STREAM = "QUARANTINE_DELIVERY_STREAM"
ENV_ENDPOINT_NAME = "ENDPOINT_NAME"
ENV_MODEL_PACKAGE_GROUP = "MODEL_PACKAGE_GROUP"
ENV_PARAMS_TABLE = "PARAMS_TABLE"
ENV_OPENSEARCH_ENDPOINT = "OPENSEARCH_ENDPOINT"
ENV_OPENSEARCH_INDEX = "OPENSEARCH_INDEX"
ENV_QUARANTINE_INDEX = "QUARANTINE_INDEX"
ENV_FIXED_THRESHOLD = "FIXED_THRESHOLD"

#: The course template's names for the same settings (accepted as aliases; see taximl.config).
TEMPLATE_ALIASES: dict[str, str] = {
    ENV_STREAM_NAME: "KINESIS_STREAM_NAME",
    ENV_GOLD_DELIVERY_STREAM: "FIREHOSE_STREAM",
    ENV_ENDPOINT_NAME: "SAGEMAKER_ENDPOINT",
    ENV_FIXED_THRESHOLD: "THRESHOLD",
}

# --- defaults --------------------------------------------------------------------------------
DEFAULT_REGION = "us-east-1"
DEFAULT_PROJECT_PREFIX = "st1630-taxi"
#: The course template's index family is ``taxi-predictions-*`` (Firehose appends the day).
DEFAULT_OPENSEARCH_INDEX = "taxi-predictions"
#: Quarantined records, indexed for the dashboard's "quarantined by reason" panel.
DEFAULT_QUARANTINE_INDEX = "taxi-quarantine"
# The course template flags |actual - predicted| > $10; kept as a selectable threshold mode.
DEFAULT_FIXED_THRESHOLD = 10.0
