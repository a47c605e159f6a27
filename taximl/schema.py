"""The canonical trip record and the column names of every TLC variant that map onto it.

TLC data comes with several naming schemes for the same fields:

- official yellow/green files: ``tpep_*`` / ``lpep_*`` timestamps, ``VendorID``, ``RatecodeID``,
  ``PULocationID`` (any letter case, e.g. ``vendorid`` in lower-cased exports);
- snake_case test sets: ``vendor_id``, ``pickup_datetime``, ``rate_code_id``,
  ``pickup_location_id``;
- BigQuery exports: ``rate_code``, ``imp_surcharge``, timestamps with ``+00:00``.

Everything downstream (validation, features, the Lambda, the gold layer) sees only the canonical
names below. Column lookup is case-insensitive. This module is standard library only, except
:func:`normalize_frame`, which imports pandas lazily.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TAXI_TYPES = ("yellow", "green")

#: Canonical trip fields, in output order.
TRIP_FIELDS: tuple[str, ...] = (
    "taxi_type",
    "vendor_id",
    "pickup_datetime",
    "dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "rate_code_id",
    "store_and_fwd_flag",
    "pu_location_id",
    "do_location_id",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
    "airport_fee",
)

#: The trip's identifier: always computed from its own fields (:func:`trip_id_for`), never
#: taken from the input, so a record cannot choose (or collide with) another trip's id.
TRIP_ID = "trip_id"

TIMESTAMP_FIELDS = ("pickup_datetime", "dropoff_datetime")
INTEGER_FIELDS = (
    "vendor_id",
    "rate_code_id",
    "pu_location_id",
    "do_location_id",
    "payment_type",
)
FLOAT_FIELDS = (
    "passenger_count",
    "trip_distance",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
    "airport_fee",
)
NUMERIC_FIELDS = INTEGER_FIELDS + FLOAT_FIELDS
TEXT_FIELDS = ("taxi_type", "store_and_fwd_flag")

# --- the TLC data dictionary: the codes each categorical field may take -----------------------
#: VendorID: 1 Creative Mobile Technologies, 2 Curb Mobility (VeriFone), 6 Myle Technologies,
#: 7 Helix (2024 dictionary); 4 is not in the dictionary but occurs in real 2018-2020 files.
KNOWN_VENDOR_IDS = frozenset({1, 2, 4, 6, 7})
#: RatecodeID: 1 standard, 2 JFK, 3 Newark, 4 Nassau/Westchester, 5 negotiated, 6 group ride,
#: 99 unknown (seen in 2023-24 data).
KNOWN_RATE_CODES = frozenset({1, 2, 3, 4, 5, 6, 99})
#: payment_type: 0 flex fare/unknown, 1 credit card, 2 cash, 3 no charge, 4 dispute,
#: 5 unknown, 6 voided trip.
KNOWN_PAYMENT_TYPES = frozenset(range(7))
#: store_and_fwd_flag: Y (stored in the vehicle, sent later) or N; empty when not reported.
STORE_AND_FWD_FLAGS = frozenset({"Y", "N"})
#: Integer code fields checked against the dictionary by the generic ``unknown_code`` rule
#: (``rate_code_id`` keeps its own historical reason, ``unknown_rate_code``).
INTEGER_CODES: dict[str, frozenset[int]] = {
    "vendor_id": KNOWN_VENDOR_IDS,
    "payment_type": KNOWN_PAYMENT_TYPES,
}
#: Text code fields (compared after stripping; ``taxi_type`` case-insensitively).
TEXT_CODES: dict[str, frozenset[str]] = {
    "store_and_fwd_flag": STORE_AND_FWD_FLAGS,
    "taxi_type": frozenset(TAXI_TYPES),
}

#: Fields without which a trip cannot be scored.
REQUIRED_FIELDS = (
    "pickup_datetime",
    "dropoff_datetime",
    "trip_distance",
    "pu_location_id",
    "do_location_id",
    "fare_amount",
)

# Lower-cased source column -> canonical name. Names equal to the canonical one are implied.
_ALIASES: dict[str, str] = {
    "vendorid": "vendor_id",
    "tpep_pickup_datetime": "pickup_datetime",
    "lpep_pickup_datetime": "pickup_datetime",
    "tpep_dropoff_datetime": "dropoff_datetime",
    "lpep_dropoff_datetime": "dropoff_datetime",
    "ratecodeid": "rate_code_id",
    "rate_code": "rate_code_id",
    "pulocationid": "pu_location_id",
    "pickup_location_id": "pu_location_id",
    "dolocationid": "do_location_id",
    "dropoff_location_id": "do_location_id",
    "imp_surcharge": "improvement_surcharge",
}
COLUMN_ALIASES: dict[str, str] = {
    **{name: name for name in TRIP_FIELDS},
    **_ALIASES,
}


def canonical_name(column: str) -> str | None:
    """The canonical field a source column maps to, or None when it is not a trip field."""
    return COLUMN_ALIASES.get(column.strip().lower())


def taxi_type_from_columns(columns: list[str] | tuple[str, ...]) -> str:
    """Infer the taxi type from the timestamp prefix (``lpep_`` = green); yellow otherwise."""
    lowered = {col.strip().lower() for col in columns}
    if "lpep_pickup_datetime" in lowered:
        return "green"
    return "yellow"


def normalize_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Map one record of any TLC variant onto canonical names (values untouched).

    Unknown keys (``trip_id`` among them: it is computed, never read) are dropped; missing fields
    are None. ``taxi_type`` comes from the record when present, else from the column prefix.
    The first source column wins when two map to one field.
    """
    record: dict[str, Any] = dict.fromkeys(TRIP_FIELDS)
    seen: set[str] = set()
    for key, value in raw.items():
        name = canonical_name(str(key))
        if name is None or name in seen:
            continue
        seen.add(name)
        record[name] = value
    if record["taxi_type"] in (None, ""):
        record["taxi_type"] = taxi_type_from_columns(list(map(str, raw.keys())))
    return record


def normalize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Rename the columns of any TLC variant to canonical names; drop the rest (``trip_id``
    too); add missing ones."""
    import pandas as pd  # lazy: the Lambda never calls this

    renames: dict[str, str] = {}
    for column in df.columns:
        name = canonical_name(str(column))
        if name is not None and name not in renames.values():
            renames[column] = name
    out = df[list(renames)].rename(columns=renames)
    if "taxi_type" not in out.columns:
        out["taxi_type"] = taxi_type_from_columns([str(col) for col in df.columns])
    for name in TRIP_FIELDS:
        if name not in out.columns:
            out[name] = pd.NA if name in TEXT_FIELDS else float("nan")
    return out[list(TRIP_FIELDS)].reset_index(drop=True)


def trip_id_for(trip: Mapping[str, Any]) -> str:
    """A stable identifier computed from a trip's own fields (same trip -> same id).

    Use it on validated trips (typed values): replays and retries then carry the same id, which
    makes the gold layer and the search index idempotent.
    """
    key = "|".join(_id_part(trip.get(name)) for name in _ID_FIELDS)
    return hashlib.sha1(key.encode("utf-8", "surrogatepass"),
                        usedforsecurity=False).hexdigest()[:20]


def raw_trip_id(raw: Mapping[str, Any]) -> str:
    """The id of a record that may not validate, computed like the producer does for it.

    The producer sends an invalid row as its canonical raw values and names it
    ``trip_id_for(values)``; this gives the same id from the received record, so quarantined
    rows can be matched to what was sent. Only scalar values take part (a nested value counts
    as its type name), so no input can make this slow or deep.
    """
    record = normalize_record(raw)
    flat = {name: value if _is_scalar(value) else f"<{type(value).__name__}>"
            for name, value in record.items()}
    return trip_id_for(flat)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


_ID_FIELDS = (
    "taxi_type",
    "vendor_id",
    "pickup_datetime",
    "dropoff_datetime",
    "pu_location_id",
    "do_location_id",
    "trip_distance",
    "fare_amount",
    "total_amount",
)


def _id_part(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return repr(round(value, 6))
    return str(value)
