"""Feature engineering shared by training (frame path) and inference (single-record path).

Both paths take *validated* trips (see :mod:`taximl.validation`) and compute the same values in
the same order of floating-point operations, so training and serving see identical features
(a parity test checks it on every shared real sample). No zone lookup table is needed: zone ids
are used as numbers and the three airport zones are constants.

The label is ``fare_amount``; :data:`FEATURE_COLUMNS` is the model's input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from taximl.fares import meter_fare, meter_fare_array

if TYPE_CHECKING:
    import pandas as pd

#: Bump when a feature's meaning changes: models record the version they were trained with.
FEATURE_VERSION = "1"

LABEL = "fare_amount"

FEATURE_COLUMNS: tuple[str, ...] = (
    "trip_distance",
    "duration_min",
    "speed_mph",
    "pickup_hour",
    "pickup_dow",
    "is_weekend",
    "is_rush_hour",
    "is_overnight",
    "pickup_airport",
    "dropoff_airport",
    "is_airport_trip",
    "rate_code_id",
    "passenger_count",
    "pu_location_id",
    "do_location_id",
    "meter_fare",
)

#: Airport zones -> code used by the ``*_airport`` features (0 = not an airport).
AIRPORT_CODES: dict[int, int] = {1: 1, 132: 2, 138: 3}  # Newark (EWR), JFK, LaGuardia
RUSH_HOURS = (16, 20)  # weekdays, [start, end)
OVERNIGHT_HOURS = (20, 6)  # [start, 24) and [0, end)

_MICROSECOND = timedelta(microseconds=1)


def features_for_record(trip: Mapping[str, Any]) -> dict[str, float | None]:
    """Features of one validated trip (standard library only); None marks a missing value."""
    pickup = trip["pickup_datetime"]
    duration_s = ((trip["dropoff_datetime"] - pickup) // _MICROSECOND) / 1e6
    duration_min = duration_s / 60.0
    distance = float(trip["trip_distance"])
    hour, dow = pickup.hour, pickup.weekday()
    weekend = dow >= 5
    pu_airport = AIRPORT_CODES.get(int(trip["pu_location_id"]), 0)
    do_airport = AIRPORT_CODES.get(int(trip["do_location_id"]), 0)
    rate_code = trip.get("rate_code_id")
    passengers = trip.get("passenger_count")
    return {
        "trip_distance": distance,
        "duration_min": duration_min,
        "speed_mph": distance / (duration_s / 3600.0),
        "pickup_hour": float(hour),
        "pickup_dow": float(dow),
        "is_weekend": float(weekend),
        "is_rush_hour": float(not weekend and RUSH_HOURS[0] <= hour < RUSH_HOURS[1]),
        "is_overnight": float(hour >= OVERNIGHT_HOURS[0] or hour < OVERNIGHT_HOURS[1]),
        "pickup_airport": float(pu_airport),
        "dropoff_airport": float(do_airport),
        "is_airport_trip": float(pu_airport > 0 or do_airport > 0),
        "rate_code_id": None if rate_code is None else float(rate_code),
        "passenger_count": None if passengers is None else float(passengers),
        "pu_location_id": float(trip["pu_location_id"]),
        "do_location_id": float(trip["do_location_id"]),
        "meter_fare": meter_fare(
            distance, duration_min, pickup, None if rate_code is None else int(rate_code)
        ),
    }


def features_frame(valid: pd.DataFrame) -> pd.DataFrame:
    """Features of a frame of validated trips (vectorised twin of features_for_record)."""
    import numpy as np
    import pandas as pd

    pickup = valid["pickup_datetime"].astype("datetime64[us]")
    dropoff = valid["dropoff_datetime"].astype("datetime64[us]")
    duration_us = (dropoff - pickup).to_numpy(dtype="timedelta64[us]").astype("int64")
    duration_s = duration_us / 1e6
    duration_min = duration_s / 60.0
    distance = valid["trip_distance"].to_numpy(dtype="float64")
    hour = pickup.dt.hour.to_numpy()
    dow = pickup.dt.day_of_week.to_numpy()
    weekend = dow >= 5
    pu_zone = valid["pu_location_id"].to_numpy(dtype="float64")
    do_zone = valid["do_location_id"].to_numpy(dtype="float64")
    pu_airport = _airport_code(pu_zone)
    do_airport = _airport_code(do_zone)
    rate_code = valid["rate_code_id"].to_numpy(dtype="float64", na_value=np.nan)
    passengers = valid["passenger_count"].to_numpy(dtype="float64", na_value=np.nan)
    columns = {
        "trip_distance": distance,
        "duration_min": duration_min,
        "speed_mph": distance / (duration_s / 3600.0),
        "pickup_hour": hour,
        "pickup_dow": dow,
        "is_weekend": weekend,
        "is_rush_hour": ~weekend & (hour >= RUSH_HOURS[0]) & (hour < RUSH_HOURS[1]),
        "is_overnight": (hour >= OVERNIGHT_HOURS[0]) | (hour < OVERNIGHT_HOURS[1]),
        "pickup_airport": pu_airport,
        "dropoff_airport": do_airport,
        "is_airport_trip": (pu_airport > 0) | (do_airport > 0),
        "rate_code_id": rate_code,
        "passenger_count": passengers,
        "pu_location_id": pu_zone,
        "do_location_id": do_zone,
        "meter_fare": meter_fare_array(
            distance, duration_min, pickup.to_numpy(dtype="datetime64[us]"), rate_code
        ),
    }
    return pd.DataFrame(
        {name: np.asarray(values, dtype="float64") for name, values in columns.items()},
        index=valid.index,
    )[list(FEATURE_COLUMNS)]


def _airport_code(zones: Any) -> Any:
    import numpy as np

    codes = np.zeros(len(zones), dtype="float64")
    for zone, code in AIRPORT_CODES.items():
        codes[zones == zone] = code
    return codes


def format_value(value: float | None) -> str:
    """One CSV field for SageMaker's text/csv: empty for missing, shortest exact repr otherwise."""
    if value is None or value != value:  # None or NaN
        return ""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def features_to_csv(rows: Iterable[Mapping[str, float | None]]) -> str:
    """SageMaker built-in XGBoost ``text/csv`` body: one line per row, no header, no label."""
    return "\n".join(",".join(format_value(row[name]) for name in FEATURE_COLUMNS) for row in rows)
