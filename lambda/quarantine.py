"""Quarantine records: why a record was refused, and a bounded, inert excerpt of what it held.

What reaches the quarantine stream is read by people (``aws s3 cp``, Athena, a dashboard), so
it never carries a hostile payload verbatim: a 900 KB string, HTML or terminal escape codes.
What is kept is enough to debug the producer:

- ``record``: the decoded object's fields (at most :data:`MAX_FIELDS`), each key and text value
  cut to :data:`MAX_KEY_CHARS` / :data:`MAX_TEXT_CHARS` and *escaped*: every character outside
  plain printable ASCII, and the markup characters ``< > & " ' ` \\``, is written as ``\\xNN``,
  ``\\uNNNN`` or ``\\UNNNNNNNN`` (``<script>`` becomes ``\\x3cscript\\x3e``). Numbers, booleans
  and nulls stay as they are; nested lists and objects become a short ``[array of N items]``
  summary (never walked, however deep);
- ``raw``: for payloads that are not a JSON object, the first :data:`MAX_RAW_CHARS` characters
  of the text (undecodable bytes as ``\\xNN``), escaped the same way;
- ``payload_bytes`` (size of what came in) and ``truncated`` (anything left out).

The whole record stays under about 16 KB, far below Firehose's 1,000 KiB per record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAX_FIELDS = 40
MAX_KEY_CHARS = 64
MAX_TEXT_CHARS = 120
MAX_RAW_CHARS = 512
MAX_REASON_CHARS = 200
#: Integers beyond this lose precision in JavaScript (a dashboard): kept as text instead.
MAX_SAFE_INTEGER = 2**53 - 1

_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("<>&\"'`\\")


def neutralise(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, every risky character escaped; (result, cut?)."""
    cut = len(text) > limit
    out = []
    for ch in text[:limit]:
        if ch in _PLAIN:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    if cut:
        out.append(f"...({len(text)} chars)")
    return "".join(out), cut


def _value(value: Any) -> tuple[Any, bool]:
    """A JSON value safe to show: scalars kept, text escaped and cut, containers summarised."""
    if value is None or isinstance(value, bool):
        return value, False
    if isinstance(value, int):
        if abs(value) <= MAX_SAFE_INTEGER:
            return value, False
        digits = len(str(abs(value)))  # JSON integers have at most 4,300 digits
        return f"[integer of {digits} digits]", True
    if isinstance(value, float):
        return (value if math.isfinite(value) else str(value)), False
    if isinstance(value, str):
        return neutralise(value, MAX_TEXT_CHARS)
    if isinstance(value, list):
        return f"[array of {len(value)} items]", True
    if isinstance(value, Mapping):
        return f"[object of {len(value)} keys]", True
    return neutralise(type(value).__name__, MAX_KEY_CHARS)[0], True


def excerpt_object(payload: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The object's first :data:`MAX_FIELDS` fields, made safe; (excerpt, truncated?)."""
    out: dict[str, Any] = {}
    truncated = len(payload) > MAX_FIELDS
    for i, (key, value) in enumerate(payload.items()):
        if i >= MAX_FIELDS:
            break
        safe_key, key_cut = neutralise(str(key), MAX_KEY_CHARS)
        safe_value, value_cut = _value(value)
        out[safe_key] = safe_value
        truncated = truncated or key_cut or value_cut
    return out, truncated


def excerpt_raw(raw: bytes) -> tuple[str, bool]:
    """The start of an undecodable or non-object payload, as escaped text."""
    text = raw[: MAX_RAW_CHARS * 4].decode("utf-8", "backslashreplace")
    return neutralise(text, MAX_RAW_CHARS)


def quarantine_document(*, trip_id: str | None, reason: str, payload: Any, raw: bytes,
                        sequence_number: str, event_time: str, processing_time: str) -> bytes:
    """One JSON line for the quarantine delivery stream (ends with a newline)."""
    record: dict[str, Any] | None = None
    raw_text: str | None = None
    if isinstance(payload, Mapping):
        record, truncated = excerpt_object(payload)
    else:
        raw_text, truncated = excerpt_raw(raw)
    safe_reason, _ = neutralise(reason, MAX_REASON_CHARS)
    document = {
        "trip_id": trip_id,
        "reason": safe_reason,
        "record": record,
        "raw": raw_text,
        "payload_bytes": len(raw),
        "truncated": truncated,
        "sequence_number": sequence_number,
        "event_time": event_time,
        "processing_time": processing_time,
    }
    return (json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n").encode()
