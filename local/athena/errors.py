"""Errors of the local Athena: API errors (HTTP 400) and query failures (state FAILED)."""

from __future__ import annotations


class ApiError(Exception):
    """When a request is invalid: becomes an AWS JSON error (``__type`` + message)."""

    def __init__(self, message: str, error_type: str = "InvalidRequestException",
                 status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


class QueryError(Exception):
    """When a query fails: the execution becomes FAILED with ``<code>: <message>`` as reason.

    ``category`` follows Athena's ``AthenaError.ErrorCategory``: 1 system, 2 user, 3 other.
    """

    def __init__(self, code: str, message: str, category: int = 2) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.category = category

    @property
    def reason(self) -> str:
        """The ``StateChangeReason`` Athena would show."""
        return str(self)


class QueryCancelled(Exception):
    """When a running query was stopped by StopQueryExecution."""


def position(line: int | None, col: int | None) -> str:
    """Athena's ``line L:C: `` prefix of a message (empty when the position is unknown)."""
    if not line or not col:
        return ""
    return f"line {line}:{col}: "
