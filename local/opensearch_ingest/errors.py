"""OpenSearch-shaped errors: ``{"error": {"root_cause": [...], "type", "reason"}, "status"}``."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """When a pipeline request or a processor fails; carries the OpenSearch error body."""

    def __init__(self, status: int, error_type: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.extra = extra

    def cause(self) -> dict[str, Any]:
        """The error object (``type``, ``reason`` and extra keys such as ``processor_type``)."""
        return {"type": self.error_type, "reason": self.reason, **self.extra}

    def body(self) -> dict[str, Any]:
        """The full response body OpenSearch sends for this error."""
        cause = self.cause()
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


def parse_error(processor_type: str | None, reason: str, property_name: str | None = None
                ) -> IngestError:
    """A ``parse_exception`` raised while a pipeline definition is read (HTTP 400)."""
    extra: dict[str, Any] = {}
    if processor_type:
        extra["processor_type"] = processor_type
    if property_name:
        extra["property_name"] = property_name
    return IngestError(400, "parse_exception", reason, **extra)
