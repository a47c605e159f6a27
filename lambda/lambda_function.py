"""Step 4: the scoring Lambda (Kinesis -> SageMaker endpoint -> Firehose), a thin handler.

Set-up happens once per execution environment (module level); each invocation scores the whole
batch (:mod:`scoring`) and returns the partial batch response, so only records that hit a
transient failure are retried by the event source mapping (``ReportBatchItemFailures``).
Handler: ``lambda_function.lambda_handler``.

No payload makes the handler raise: bad records are quarantined. Transient failures are retried
inside the invocation for up to ``TRANSIENT_RETRY_S`` (bounded by the time left), so that a
short outage does not use up the mapping's finite ``MaximumRetryAttempts``. An exception that
still escapes is a bug: it fails the invocation, the mapping bisects the batch to isolate the
record and, after its retries, sends that record to the on-failure destination.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parameters import DynamoDBProvider
from botocore.config import Config

from fare_endpoint import FareEndpoint
from scorer_config import ScorerSettings
from scoring import BatchScorer
from sinks import FirehoseSink
from telemetry import logger, metrics, publish
from threshold_source import ThresholdSource

settings = ScorerSettings.from_env()
#: A scoring pass must fit in the time left: at worst 3 attempts x (2 + 10) s per endpoint call.
_client_config = Config(retries={"mode": "standard", "total_max_attempts": 3},
                        connect_timeout=2, read_timeout=10, max_pool_connections=4)
#: Time kept back from the in-invocation retries for one more full pass and the response.
PASS_RESERVE_S = 45.0
_firehose = boto3.client("firehose", region_name=settings.region, config=_client_config)
scorer = BatchScorer(
    endpoint=FareEndpoint(
        boto3.client("sagemaker-runtime", region_name=settings.region, config=_client_config),
        settings.endpoint_name, max_rows=settings.inference_max_rows,
        max_bytes=settings.inference_max_bytes,
    ),
    thresholds=ThresholdSource(
        DynamoDBProvider(
            table_name=settings.params_table, key_attr="id", value_attr="value",
            boto3_client=boto3.resource("dynamodb", region_name=settings.region,
                                        config=_client_config),
        ),
        mode=settings.threshold_mode, fixed_threshold=settings.fixed_threshold,
        max_age_s=settings.thresholds_max_age_s,
    ),
    gold=FirehoseSink(_firehose, settings.gold_stream, max_attempts=settings.firehose_max_attempts),
    quarantine=FirehoseSink(_firehose, settings.quarantine_stream,
                            max_attempts=settings.firehose_max_attempts),
)
# A batch where every record must be retried is reported, not raised: same retry, clearer logs.
processor = BatchProcessor(event_type=EventType.KinesisDataStreams,
                           raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    left_s = context.get_remaining_time_in_millis() / 1000.0
    patience_s = min(settings.transient_retry_s, left_s - PASS_RESERVE_S)
    outcome = scorer.score(event["Records"], patience_s=patience_s)
    publish(outcome)
    return process_partial_response(event=event, record_handler=outcome.check_record,
                                    processor=processor, context=context)
