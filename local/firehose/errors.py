"""AWS-shaped Firehose errors: the ``code`` is the ``__type`` boto3 turns into an exception."""

from __future__ import annotations


class FirehoseError(Exception):
    """When a request fails; carries the AWS error code and HTTP status."""

    code = "ServiceUnavailableException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(FirehoseError):
    """When a parameter is missing, malformed or out of range."""

    code = "InvalidArgumentException"
    status = 400


class ResourceNotFoundError(FirehoseError):
    """When the delivery stream does not exist."""

    code = "ResourceNotFoundException"
    status = 400


class ResourceInUseError(FirehoseError):
    """When a delivery stream with that name already exists or is not ACTIVE."""

    code = "ResourceInUseException"
    status = 400


class LimitExceededError(FirehoseError):
    """When an account or request limit would be exceeded."""

    code = "LimitExceededException"
    status = 400


class UnknownOperationError(FirehoseError):
    """When the X-Amz-Target names an operation the stand-in does not implement."""

    code = "UnknownOperationException"
    status = 400
