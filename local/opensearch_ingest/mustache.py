"""The subset of Mustache that ingest processors use in their options.

``{{name}}`` inserts a field's value JSON-escaped (OpenSearch compiles ingest templates with the
JSON content type), ``{{{name}}}`` and ``{{& name}}`` insert it as is. Names are dotted paths
into the document (``a.b``), optionally prefixed with ``_source.``; ``_ingest.timestamp`` and
the metadata fields ``_index``, ``_id`` and ``_routing`` are available too. A missing field
renders as the empty string. Sections (``{{#x}}``), partials and lambdas are not supported: a
template using them is rejected when the pipeline is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

TAG = re.compile(r"\{\{\{\s*([^{}]+?)\s*\}\}\}|\{\{\s*([&#^/>!]?)\s*([^{}]*?)\s*\}\}")

Lookup = Callable[[str], Any]


def is_template(text: str) -> bool:
    """True when ``text`` contains at least one Mustache tag."""
    return "{{" in text


def validate(text: str) -> str | None:
    """Why ``text`` cannot be rendered here (None when it can)."""
    for match in TAG.finditer(text):
        sigil = match.group(2)
        if sigil and sigil not in "&!":
            return f"mustache sections, inverted sections and partials are not supported: " \
                   f"{match.group(0)!r}"
    return None


def to_text(value: Any) -> str:
    """A value as Mustache prints it (Java's ``toString`` for scalars, JSON for the rest)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"))


def _json_escape(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def render(text: str, lookup: Lookup) -> str:
    """Render ``text`` with values from ``lookup(path)``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return to_text(lookup(match.group(1)))
        sigil, name = match.group(2), match.group(3)
        if sigil == "!":
            return ""
        value = to_text(lookup(name))
        return value if sigil == "&" else _json_escape(value)

    return TAG.sub(replace, text)
