"""Threshold documents per model version, from the DynamoDB parameters table (cached).

The item ``id = thresholds/<variant>`` holds the document (JSON text in ``value``) written by
the calibration step for that model version (see :mod:`taximl.thresholds`). The Powertools
DynamoDB provider caches each document for ``max_age`` seconds, so a batch costs no DynamoDB
call in the steady state. A missing or malformed document (or table) falls back to the
course's fixed threshold; a transient DynamoDB failure (throttling, 5xx, network) raises
:class:`ThresholdsUnavailableError`, so the records are retried instead of being judged by the
wrong rule.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from taximl.thresholds import doc_from_json, fixed_doc, param_id

logger = logging.getLogger(__name__)

#: DynamoDB error codes that mean "there is no such document": fall back to the fixed rule.
_MISSING_CODES = frozenset({"ResourceNotFoundException", "ValidationException"})


class ThresholdsUnavailableError(Exception):
    """When DynamoDB fails transiently: the batch's records are retried later."""


def _is_transient(exc: BaseException) -> bool:
    """True for throttling/5xx/network errors, also when wrapped by Powertools."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotoCoreError):
            return True
        if isinstance(current, ClientError):
            return current.response.get("Error", {}).get("Code") not in _MISSING_CODES
        current = current.__cause__ or current.__context__
    return False


class ThresholdSource:
    """``doc_for(variant)``: the threshold document to judge that model version's predictions."""

    def __init__(self, provider: Any | None, *, mode: str = "auto", fixed_threshold: float = 10.0,
                 max_age_s: int = 60) -> None:
        self.provider = provider
        self.mode = mode
        self.fixed_threshold = fixed_threshold
        self.max_age_s = max_age_s
        self._warned: set[str] = set()

    def doc_for(self, variant: str) -> dict[str, Any]:
        if self.mode == "fixed" or self.provider is None:
            return fixed_doc(self.fixed_threshold, variant)
        name = param_id(variant)
        try:
            value = self.provider.get(name, max_age=self.max_age_s)
            if value is None:
                raise LookupError(f"no item {name}")
            doc = doc_from_json(value) if isinstance(value, (str, bytes)) else dict(value)
        except Exception as exc:  # missing item, table or malformed document: keep scoring
            if _is_transient(exc):
                raise ThresholdsUnavailableError(f"{name}: {exc}") from exc
            if variant not in self._warned:
                logger.warning("no usable threshold document %s (%s): using the fixed $%.2f rule",
                               name, exc, self.fixed_threshold)
                self._warned.add(variant)
            return fixed_doc(self.fixed_threshold, variant)
        self._warned.discard(variant)
        return doc
