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

#: Optional identifier added by the producer; kept by the contract when present.
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
    **{name: name for name in (*TRIP_FIELDS, TRIP_ID)},
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

    Unknown keys are dropped; missing fields are None. ``taxi_type`` comes from the record when
    present, else from the column prefix. The first source column wins when two map to one field.
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
    if TRIP_ID in seen:
        return record
    record.pop(TRIP_ID, None)
    return record


def normalize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Rename the columns of any TLC variant to canonical names; drop the rest; add missing ones."""
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
    ordered = [*((TRIP_ID,) if TRIP_ID in out.columns else ()), *TRIP_FIELDS]
    return out[ordered].reset_index(drop=True)


def trip_id_for(trip: Mapping[str, Any]) -> str:
    """A stable identifier computed from a trip's own fields (same trip -> same id).

    Use it on validated trips (typed values): replays and retries then carry the same id, which
    makes the gold layer and the search index idempotent.
    """
    key = "|".join(_id_part(trip.get(name)) for name in _ID_FIELDS)
    return hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]


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
