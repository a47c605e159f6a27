"""The TLC taximeter formula: the fare a meter would show for a trip (``fare_amount`` only).

Used as a model feature and as the baseline every model is compared with. Rules from
``shared/reference/tlc-fares.md`` (yellow taxi rate of fare):

- from 2022-12-19: $3.00 initial charge, $0.70 per unit, JFK flat fare $70;
- before: $2.50 initial charge, $0.50 per unit, JFK flat fare $52.

A unit is 1/5 mile while the taxi moves at 12 mph or more, or 60 seconds while slower. The
split of a trip into fast and slow stretches is unknown, so the estimate charges the distance
at 5 units a mile and every minute beyond the time that distance takes at 12 mph as slow
time. Surcharges (``extra``, taxes, tolls) are not part of ``fare_amount`` and are left out.
Standard library only; :func:`meter_fare_array` is the vectorised twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

JFK_RATE_CODE = 2
UNITS_PER_MILE = 5.0
SLOW_SPEED_MPH = 12.0
RULES_2023_START = datetime(2022, 12, 19)


@dataclass(frozen=True)
class FareRules:
    """Meter tariff in force for a period."""

    initial_charge: float
    unit_price: float
    jfk_flat_fare: float


RULES_2023 = FareRules(initial_charge=3.00, unit_price=0.70, jfk_flat_fare=70.0)
RULES_BEFORE_2023 = FareRules(initial_charge=2.50, unit_price=0.50, jfk_flat_fare=52.0)


def rules_for(pickup: datetime) -> FareRules:
    """The tariff in force at a pickup time."""
    return RULES_2023 if pickup >= RULES_2023_START else RULES_BEFORE_2023


def meter_units(distance_miles: float, duration_min: float) -> float:
    """Meter units: distance units plus slow-time units (see the module docstring)."""
    fast_minutes = distance_miles * (60.0 / SLOW_SPEED_MPH)
    return distance_miles * UNITS_PER_MILE + max(0.0, duration_min - fast_minutes)


def meter_fare(
    distance_miles: float, duration_min: float, pickup: datetime, rate_code_id: int | None
) -> float:
    """Estimated ``fare_amount`` of a trip by the meter formula (flat fare for JFK trips)."""
    rules = rules_for(pickup)
    if rate_code_id == JFK_RATE_CODE:
        return rules.jfk_flat_fare
    return rules.initial_charge + rules.unit_price * meter_units(distance_miles, duration_min)


def meter_fare_array(
    distance_miles: np.ndarray,
    duration_min: np.ndarray,
    pickup: np.ndarray,
    rate_code_id: np.ndarray,
) -> np.ndarray:
    """Vectorised :func:`meter_fare` (pickup as datetime64, rate codes as float with NaN)."""
    import numpy as np

    new_rules = pickup >= np.datetime64(RULES_2023_START)
    initial = np.where(new_rules, RULES_2023.initial_charge, RULES_BEFORE_2023.initial_charge)
    unit = np.where(new_rules, RULES_2023.unit_price, RULES_BEFORE_2023.unit_price)
    flat = np.where(new_rules, RULES_2023.jfk_flat_fare, RULES_BEFORE_2023.jfk_flat_fare)
    fast_minutes = distance_miles * (60.0 / SLOW_SPEED_MPH)
    units = distance_miles * UNITS_PER_MILE + np.maximum(0.0, duration_min - fast_minutes)
    metered = initial + unit * units
    return np.where(rate_code_id == JFK_RATE_CODE, flat, metered)
