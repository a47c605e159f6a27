"""Hypothesis strategies for hostile Kinesis payloads (what an attacker or a buggy producer sends).

Each strategy draws the ``data`` of one Kinesis record: raw bytes (base64-encoded by the
factories) or, for ``bad_base64``, text that is not base64 at all.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from streaming_factories import tlc_row

#: Values to put in a trip's fields: wrong types, overflow, markup, control characters, huge text.
HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308, max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.sampled_from([
        "", "Y", "N", "y", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
        "'; DROP TABLE scored_trips;--", "\x1b[2J\x1b[31mpwned", "\u202egnp.exe", "\x00\x07",
        "{{7*7}}", "${jndi:ldap://x/a}", "1e999", "-0", "2024-01-15T08:00:00+14:00",
        "9999-12-31T23:00:00-05:00", "x" * 5000,
    ]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def mutated_trip(draw: st.DrawFn) -> bytes:
    """A real-looking trip with some fields replaced, unknown fields added, a forged id."""
    row = tlc_row(draw(st.integers(0, 10_000)))
    for key in draw(st.lists(st.sampled_from(sorted(row)), min_size=1, max_size=4)):
        row[key] = draw(HOSTILE_VALUES)
    extras = draw(st.dictionaries(st.text(max_size=30), HOSTILE_VALUES, max_size=3))
    row.update(extras)
    if draw(st.booleans()):
        row["trip_id"] = draw(st.sampled_from(["<b>forged</b>", "0" * 20, "x" * 2000]))
    return _dumps(row)


@st.composite
def deep_nesting(draw: st.DrawFn, min_depth: int = 900) -> bytes:
    """``[[[...]]]`` or ``{"a":{"a":...1}}``, deeper than any trip (and than Python's parser)."""
    depth = draw(st.integers(min_depth, 16_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    tail = "1" if opener.startswith("{") else ""
    return (opener * depth + tail + closer * depth).encode()


HOSTILE_PAYLOADS = st.one_of(
    mutated_trip(),
    JSON_VALUES.map(_dumps),
    deep_nesting(),
    st.binary(max_size=200),
    st.sampled_from([
        b"", b"null", b"[]", b'"a string"', b"NaN", b'{"fare_amount": NaN}',
        b'{"fare_amount": Infinity}', b'{"fare_amount": 1e999}',
        b'{"fare_amount": ' + b"9" * 5000 + b"}", b"\xff\xfe\x00{", b"\xed\xa0\x80",
        b'{"a": "\\ud800"}', b'{"store_and_fwd_flag": "' + b"A" * 900_000 + b'"}',
        b"<html><body onload=alert(1)>", b"{" * 40_000,
    ]),
)
