"""Validation of trip records: one explicit reason per rejected record.

Two paths make identical decisions (a parity test checks it on every shared real sample):

- :func:`validate_record` for one record (standard library only, used by the Lambda);
- :func:`validate_frame` for a DataFrame (vectorised, used by the producer and training).

Both share the same scalar parsers and limits; the frame path applies the scalar parsers only
to text columns (messy CSV) and uses vectorised arithmetic on typed columns.

Rejection reasons (first failing rule wins, in this order):

``missing_field:<f>``, ``wrong_type:<f>``, ``non_numeric:<f>``, ``non_finite:<f>``,
``non_integer:<f>``, ``bad_timestamp:<f>``
    a field of the record cannot be read (fields checked in :data:`TRIP_FIELDS` order);
    ``wrong_type`` is a list or object where a single value belongs;
``dropoff_not_after_pickup``, ``duration_too_long``, ``pickup_out_of_range``
    impossible or implausible times;
``negative_distance``, ``absurd_distance``
    distance below zero or above :data:`MAX_DISTANCE_MILES`;
``unknown_location:<f>``
    zone id outside 1..265;
``unknown_rate_code``, ``absurd_passenger_count``, ``negative_fare``, ``absurd_fare``
    categorical or amount values outside what the TLC defines;
``unknown_code:<f>``
    a code field outside the TLC data dictionary (:mod:`taximl.schema`): ``taxi_type``
    (yellow/green), ``vendor_id``, ``store_and_fwd_flag`` (Y, N or empty), ``payment_type``.
    No free text passes validation: every text field of a valid trip is one of its codes.

Values are bounded before they are parsed (:data:`MAX_SCALAR_TEXT` characters for numbers and
timestamps), so a hostile record costs as little as a good one and no input raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from taximl.schema import (
    FLOAT_FIELDS,
    INTEGER_CODES,
    INTEGER_FIELDS,
    KNOWN_RATE_CODES,
    REQUIRED_FIELDS,
    TEXT_CODES,
    TIMESTAMP_FIELDS,
    TRIP_FIELDS,
    normalize_record,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# --- limits ------------------------------------------------------------------------------
MAX_DURATION_SECONDS = 5 * 3600
MAX_DISTANCE_MILES = 150.0
MAX_FARE = 1000.0
MAX_PASSENGERS = 9
MIN_LOCATION_ID, MAX_LOCATION_ID = 1, 265
PICKUP_RANGE = (datetime(2009, 1, 1), datetime(2031, 1, 1))

#: Longest text read as a number or a timestamp (``2024-01-31T23:59:59.999999+00:00`` is 32).
MAX_SCALAR_TEXT = 64

_MICROSECOND = timedelta(microseconds=1)

# Error kinds of the scalar parsers.
_MISSING = "missing"
_NON_NUMERIC = "non_numeric"
_NON_FINITE = "non_finite"
_NON_INTEGER = "non_integer"
_BAD_TIMESTAMP = "bad_timestamp"
_WRONG_TYPE = "wrong_type"
_UNKNOWN_CODE = "unknown_code"


@dataclass(frozen=True)
class RecordCheck:
    """Outcome of validating one record: the typed trip, or the reason it was rejected."""

    trip: dict[str, Any] | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class FrameCheck:
    """Outcome of validating a frame: typed valid rows, and rejected rows with a ``reason``.

    ``valid_rows`` holds the positions (0-based, in the input frame) of the ``valid`` rows, in
    their order: callers that carry their own per-row data (labels, ...) align it with them.
    """

    valid: pd.DataFrame
    rejected: pd.DataFrame
    valid_rows: np.ndarray

    def reason_counts(self) -> dict[str, int]:
        """Rejected rows per reason, most frequent first."""
        return {str(k): int(v) for k, v in self.rejected["reason"].value_counts().items()}


# --- scalar parsers (shared by both paths) -------------------------------------------------
def _is_collection(value: Any) -> bool:
    """A list, object, array or bytes where one value belongs (strings are single values)."""
    return not isinstance(value, str) and hasattr(value, "__len__")


def _is_missing(value: Any) -> bool:
    """None, NaN, or pandas' missing markers (``pd.NA``, ``pd.NaT``) without importing pandas."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def parse_number(value: Any) -> tuple[float | None, str | None]:
    """Parse a numeric field: (value, None), (None, None) when missing, or (None, error kind)."""
    if _is_missing(value):
        return None, None
    if isinstance(value, bool):
        return None, _NON_NUMERIC
    if _is_collection(value):
        return None, _WRONG_TYPE
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            return None, _NON_FINITE
    else:
        text = str(value).strip()
        if not text:
            return None, None
        if len(text) > MAX_SCALAR_TEXT:
            return None, _NON_NUMERIC
        try:
            number = float(text)
        except ValueError:
            return None, _NON_NUMERIC
    if math.isnan(number):
        return None, None
    if math.isinf(number):
        return None, _NON_FINITE
    return number, None


def parse_integer(value: Any) -> tuple[float | None, str | None]:
    """Parse an integer field (``132`` or ``132.0``); a fractional value is ``non_integer``."""
    number, error = parse_number(value)
    if number is not None and number != math.floor(number):
        return None, _NON_INTEGER
    return number, error


def parse_timestamp(value: Any) -> tuple[datetime | None, str | None]:
    """Parse a timestamp to a naive wall-clock datetime (aware values are converted to UTC).

    TLC timestamps are New York wall-clock times without zone; BigQuery exports label the same
    wall-clock values ``+00:00``, so converting to UTC and dropping the zone keeps them intact.
    """
    if _is_missing(value):
        return None, None
    if _is_collection(value):
        return None, _WRONG_TYPE
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if not text or text.lower() in ("nat", "nan", "none"):
            return None, None
        if len(text) > MAX_SCALAR_TEXT:
            return None, _BAD_TIMESTAMP
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None, _BAD_TIMESTAMP
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except (OverflowError, ValueError):  # e.g. 9999-12-31T23:00-05:00 is past year 9999 UTC
            return None, _BAD_TIMESTAMP
    return parsed, None


def parse_text(value: Any) -> str | None:
    """Parse a text field: stripped string, or None when missing (see :func:`parse_code`)."""
    if _is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def parse_code(value: Any) -> tuple[str | None, str | None]:
    """Parse a text code field: (stripped text or None, None), or (None, ``wrong_type``)."""
    if _is_collection(value):
        return None, _WRONG_TYPE
    return parse_text(value), None


def _code_ok(name: str, value: Any) -> bool:
    """Whether a parsed value is a code of the TLC dictionary (missing values pass)."""
    if value is None:
        return True
    if name in TEXT_CODES:
        return (value.lower() if name == "taxi_type" else value) in TEXT_CODES[name]
    return value in INTEGER_CODES[name]


# --- single-record path ------------------------------------------------------------------
def validate_record(raw: Mapping[str, Any]) -> RecordCheck:
    """Validate one record of any TLC variant; return the typed canonical trip or the reason."""
    record = normalize_record(raw)
    trip: dict[str, Any] = {}
    for name in TRIP_FIELDS:
        value = record.get(name)
        if name in TIMESTAMP_FIELDS:
            parsed, error = parse_timestamp(value)
        elif name in INTEGER_FIELDS:
            parsed, error = parse_integer(value)
        elif name in FLOAT_FIELDS:
            parsed, error = parse_number(value)
        else:
            parsed, error = parse_code(value)
        if error is not None:
            return RecordCheck(None, f"{error}:{name}")
        if parsed is None and name in REQUIRED_FIELDS:
            return RecordCheck(None, f"{_MISSING}_field:{name}")
        trip[name] = parsed
    reason = _semantic_reason(trip)
    if reason is not None:
        return RecordCheck(None, reason)
    for name in INTEGER_FIELDS:
        if trip[name] is not None:
            trip[name] = int(trip[name])
    trip["taxi_type"] = (trip["taxi_type"] or "yellow").lower()
    return RecordCheck(trip, None)


def _semantic_reason(trip: Mapping[str, Any]) -> str | None:
    pickup, dropoff = trip["pickup_datetime"], trip["dropoff_datetime"]
    duration_us = (dropoff - pickup) // _MICROSECOND
    if duration_us <= 0:
        return "dropoff_not_after_pickup"
    if duration_us > MAX_DURATION_SECONDS * 1_000_000:
        return "duration_too_long"
    if not PICKUP_RANGE[0] <= pickup < PICKUP_RANGE[1]:
        return "pickup_out_of_range"
    distance = trip["trip_distance"]
    if distance < 0:
        return "negative_distance"
    if distance > MAX_DISTANCE_MILES:
        return "absurd_distance"
    for name in ("pu_location_id", "do_location_id"):
        if not MIN_LOCATION_ID <= trip[name] <= MAX_LOCATION_ID:
            return f"unknown_location:{name}"
    rate_code = trip["rate_code_id"]
    if rate_code is not None and rate_code not in KNOWN_RATE_CODES:
        return "unknown_rate_code"
    passengers = trip["passenger_count"]
    if passengers is not None and not 0 <= passengers <= MAX_PASSENGERS:
        return "absurd_passenger_count"
    fare = trip["fare_amount"]
    if fare < 0:
        return "negative_fare"
    if fare > MAX_FARE:
        return "absurd_fare"
    for name in _CODE_FIELDS:
        if not _code_ok(name, trip[name]):
            return f"{_UNKNOWN_CODE}:{name}"
    return None


#: Code fields in :data:`TRIP_FIELDS` order (the order their ``unknown_code`` rules apply).
_CODE_FIELDS = tuple(name for name in TRIP_FIELDS if name in TEXT_CODES or name in INTEGER_CODES)


# --- frame path --------------------------------------------------------------------------
def validate_frame(df: pd.DataFrame) -> FrameCheck:
    """Validate a frame of any TLC variant (vectorised); same decisions as validate_record."""
    import numpy as np
    import pandas as pd

    from taximl.schema import normalize_frame

    frame = normalize_frame(df)
    n = len(frame)
    conditions: list[np.ndarray] = []
    reasons: list[str] = []
    typed: dict[str, pd.Series] = {}

    for name in TRIP_FIELDS:
        column = frame[name]
        if name in TIMESTAMP_FIELDS:
            values, errors = _timestamp_column(column)
        elif name in INTEGER_FIELDS:
            values, errors = _number_column(column, integer=True)
        elif name in FLOAT_FIELDS:
            values, errors = _number_column(column)
        else:
            values, errors = _text_column(column)
        typed[name] = values
        for kind in (_WRONG_TYPE, _NON_NUMERIC, _NON_FINITE, _NON_INTEGER, _BAD_TIMESTAMP):
            mask = (errors == kind).to_numpy(dtype=bool)
            if mask.any():
                conditions.append(mask)
                reasons.append(f"{kind}:{name}")
        if name in REQUIRED_FIELDS:
            conditions.append((values.isna() & errors.isna()).to_numpy(dtype=bool))
            reasons.append(f"{_MISSING}_field:{name}")

    pickup, dropoff = typed["pickup_datetime"], typed["dropoff_datetime"]
    duration_us = (dropoff - pickup).to_numpy(dtype="timedelta64[us]").astype("int64")
    distance = typed["trip_distance"].to_numpy()
    rate_code = typed["rate_code_id"]
    passengers = typed["passenger_count"]
    fare = typed["fare_amount"].to_numpy()
    pickup_np = pickup.to_numpy(dtype="datetime64[us]")
    with np.errstate(invalid="ignore"):
        semantic: list[tuple[np.ndarray, str]] = [
            (duration_us <= 0, "dropoff_not_after_pickup"),
            (duration_us > MAX_DURATION_SECONDS * 1_000_000, "duration_too_long"),
            (
                (pickup_np < np.datetime64(PICKUP_RANGE[0]))
                | (pickup_np >= np.datetime64(PICKUP_RANGE[1])),
                "pickup_out_of_range",
            ),
            (distance < 0, "negative_distance"),
            (distance > MAX_DISTANCE_MILES, "absurd_distance"),
        ]
        for name in ("pu_location_id", "do_location_id"):
            zone = typed[name].to_numpy()
            bad_zone = (zone < MIN_LOCATION_ID) | (zone > MAX_LOCATION_ID)
            semantic.append((bad_zone, f"unknown_location:{name}"))
        known = rate_code.isin(list(KNOWN_RATE_CODES)).to_numpy()
        semantic += [
            (rate_code.notna().to_numpy() & ~known, "unknown_rate_code"),
            (
                passengers.notna().to_numpy()
                & ~((passengers >= 0) & (passengers <= MAX_PASSENGERS)).to_numpy(),
                "absurd_passenger_count",
            ),
            (fare < 0, "negative_fare"),
            (fare > MAX_FARE, "absurd_fare"),
        ]
        for name in _CODE_FIELDS:
            semantic.append((_unknown_codes(name, typed[name]), f"{_UNKNOWN_CODE}:{name}"))
    for mask, reason in semantic:
        conditions.append(np.asarray(mask, dtype=bool))
        reasons.append(reason)

    reason_per_row = np.select(conditions, reasons, default="") if conditions else np.full(n, "")
    bad = reason_per_row != ""

    out = pd.DataFrame(typed)
    for name in INTEGER_FIELDS:
        out[name] = _to_int64(out[name])
    out["taxi_type"] = out["taxi_type"].fillna("yellow").str.lower()
    valid = out[~bad].reset_index(drop=True)
    rejected = frame[bad].reset_index(drop=True)
    rejected["reason"] = reason_per_row[bad]
    return FrameCheck(valid=valid, rejected=rejected, valid_rows=np.flatnonzero(~bad))


def _is_text(column: pd.Series) -> bool:
    import pandas as pd

    return not (
        pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    ) and not pd.api.types.is_datetime64_any_dtype(column)


def _split(parsed: pd.Series, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    values = pd.Series([p[0] for p in parsed], index=index, dtype=object)
    errors = pd.Series([p[1] for p in parsed], index=index, dtype=object)
    return values, errors


def _number_column(column: pd.Series, integer: bool = False) -> tuple[pd.Series, pd.Series]:
    import numpy as np
    import pandas as pd

    if _is_text(column):
        parser = parse_integer if integer else parse_number
        values, errors = _split(column.astype(object).map(parser), column.index)
        return values.astype("float64"), errors
    values = column.astype("float64")
    kinds = np.where(np.isinf(values), _NON_FINITE, None)
    if integer:
        with np.errstate(invalid="ignore"):
            fractional = np.isfinite(values) & (values != np.floor(values))
        kinds = np.where(fractional, _NON_INTEGER, kinds)
    errors = pd.Series(kinds, index=column.index, dtype=object)
    return values.where(errors.isna()), errors


def _timestamp_column(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        if getattr(column.dt, "tz", None) is not None:
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        values = column.astype("datetime64[us]")
        return values, pd.Series([None] * len(column), index=column.index, dtype=object)
    values, errors = _split(column.astype(object).map(parse_timestamp), column.index)
    return pd.to_datetime(values).astype("datetime64[us]"), errors


def _text_column(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    return _split(column.astype(object).map(parse_code), column.index)


def _unknown_codes(name: str, values: pd.Series) -> np.ndarray:
    """Rows whose (present) value is not a code of the dictionary: :func:`_code_ok`, vectorised."""
    if name in TEXT_CODES:
        allowed = list(TEXT_CODES[name])
        if name == "taxi_type":
            values = values.str.lower()
    else:
        allowed = list(INTEGER_CODES[name])
    return (values.notna() & ~values.isin(allowed)).to_numpy(dtype=bool)


def _to_int64(values: pd.Series) -> pd.Series:
    return values.astype("Float64").astype("Int64")
