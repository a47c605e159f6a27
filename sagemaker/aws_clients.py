"""boto3 clients of the batch scripts, created from the environment.

``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` (set by ``python -m local env`` for the
local stack) are honoured by boto3 itself: the code never asks where it runs.
"""

from __future__ import annotations

from types import SimpleNamespace

SERVICES = ("s3", "athena", "glue", "sagemaker", "sagemaker-runtime", "iam", "dynamodb", "events")


def make_clients(region: str) -> SimpleNamespace:
    """One client per service, attribute names with ``_`` (``clients.sagemaker_runtime``)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    return SimpleNamespace(
        **{name.replace("-", "_"): session.client(name, config=config) for name in SERVICES}
    )
