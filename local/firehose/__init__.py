"""Local stand-in for Amazon Data Firehose (DirectPut streams to S3 and OpenSearch).

The HTTP routing lives in :mod:`local.services.firehose`; this package holds the logic:

- :mod:`.errors`: AWS-shaped errors (``__type`` codes boto3 raises).
- :mod:`.prefixes`: ``!{namespace:value}`` prefix expressions and object names.
- :mod:`.config`: validation of ``CreateDeliveryStream`` requests and the describe shape.
- :mod:`.buffer`: per-destination record buffers backed by an append-only journal.
- :mod:`.s3_sink` / :mod:`.opensearch_sink`: delivery of a flushed batch.
- :mod:`.engine`: the delivery stream store, flusher threads and persistence.
"""

from local.firehose.engine import FirehoseEngine
from local.firehose.errors import FirehoseError

__all__ = ["FirehoseEngine", "FirehoseError"]
