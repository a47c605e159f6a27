"""Errors of the Lambda API, shaped like AWS's so boto3 raises the same exceptions."""

from __future__ import annotations


class LambdaApiError(Exception):
    """When an API call fails: carries the AWS error code and HTTP status."""

    code = "ServiceException"
    status = 500
    kind = "Service"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        """The JSON error body (botocore reads the code from header or ``__type``)."""
        return {"__type": self.code, "Type": self.kind, "Message": self.message,
                "message": self.message}


class ResourceNotFoundError(LambdaApiError):
    """When the function or mapping does not exist."""

    code, status, kind = "ResourceNotFoundException", 404, "User"


class ResourceConflictError(LambdaApiError):
    """When the resource exists already or is in a state that forbids the call."""

    code, status, kind = "ResourceConflictException", 409, "User"


class ResourceInUseError(LambdaApiError):
    """When a mapping is being created/updated/deleted by another call."""

    code, status, kind = "ResourceInUseException", 400, "User"


class InvalidParameterError(LambdaApiError):
    """When a parameter is missing or out of range."""

    code, status, kind = "InvalidParameterValueException", 400, "User"


class InvalidRequestContentError(LambdaApiError):
    """When the invoke payload is not JSON."""

    code, status, kind = "InvalidRequestContentException", 400, "User"


class RequestTooLargeError(LambdaApiError):
    """When the invoke payload is over 6 MB."""

    code, status, kind = "RequestTooLargeException", 413, "User"


class UnsupportedOperationError(LambdaApiError):
    """When the local stand-in does not implement the operation."""

    code, status, kind = "InvalidParameterValueException", 400, "User"
