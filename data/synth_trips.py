"""Vectorised synthetic NYC yellow taxi trips that follow the 2023-24 TLC fare rules.

One call to :func:`generate_chunk` builds trips ``start .. start + n - 1`` of a run as a pandas
DataFrame in the official yellow Parquet column names (2023+), plus the label column
``anomaly_label``. Every value of trip ``i`` is a function of the run configuration and ``i``
only (see :mod:`synth_rng`), so any chunking gives the same rows. Pickup times are spread over
the period by a weekday/hour volume profile and increase with the trip index (the output is
sorted by pickup, like a replayable stream).

Model, in order: trip segment (Manhattan local, Manhattan <-> boroughs, airports), zones, rate
code, distance (lognormal per segment), speed by hour of day (slower at rush hours, faster on
weekends and to the airports), meter units (distance units while fast, minutes while slow),
fare by rate code, surcharges, tolls, payment type, anomalies, tips, total, malformed rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from functools import lru_cache

import numpy as np
import pandas as pd

from synth_rng import TripRandom
from synth_zones import EWR, JFK, LGA, borough_of, congestion_zone_mask, group_zones

#: Official yellow trip record columns (2023+ Parquet names), in file order.
TRIP_COLUMNS: tuple[str, ...] = (
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
    "Airport_fee",
)
LABEL_COLUMN = "anomaly_label"

ANOMALY_LABELS = ("inflated_fare", "wrong_flat_fare", "undercharged")
MALFORMED_LABELS = (
    "malformed_missing_field",
    "malformed_dropoff_before_pickup",
    "malformed_non_numeric",  # CSV output: text in a numeric column
    "malformed_non_finite",  # Parquet output: infinity in a numeric column
    "malformed_negative_distance",
    "malformed_unknown_location",
)

# --- 2023-24 TLC fare rules (shared/reference/tlc-fares.md) ------------------------------------
INITIAL_CHARGE = 3.00
UNIT_PRICE = 0.70
UNITS_PER_MILE = 5.0  # one unit per 1/5 mile while moving at 12 mph or more
JFK_FLAT_FARE = 70.0
JFK_RUSH_SURCHARGE = 5.0
NEWARK_SURCHARGE = 20.0
RUSH_HOUR_EXTRA = 2.50  # weekdays 16-20h
OVERNIGHT_EXTRA = 1.00  # 20h-6h
LGA_SURCHARGE = 5.00
MTA_TAX = 0.50
IMPROVEMENT_SURCHARGE = 1.00
CONGESTION_SURCHARGE = 2.50


def airport_fee_for(pickup_day: np.ndarray) -> np.ndarray:
    """Airport fee for JFK/LGA pickups: $1.25 in 2023, $1.75 from 2024."""
    return np.where(pickup_day >= np.datetime64("2024-01-01"), 1.75, 1.25)


def _tunnel_toll(pickup_day: np.ndarray) -> np.ndarray:
    """MTA bridge/tunnel toll (E-ZPass): $6.55, $6.94 from 2023-08-06."""
    return np.where(pickup_day >= np.datetime64("2023-08-06"), 6.94, 6.55)


def _hudson_toll(pickup_day: np.ndarray) -> np.ndarray:
    """Port Authority Hudson crossing toll on Newark trips: $12.75, $13.38 from 2024."""
    return np.where(pickup_day >= np.datetime64("2024-01-01"), 13.38, 12.75)


class S(IntEnum):
    """Random streams (one independent draw per trip each)."""

    TIME = 1
    SEGMENT = 2
    PU = 3
    DO = 4
    DIST = 5
    ZERO = 6
    SPEED = 7
    V_SLOW = 8
    V_FAST = 9
    RATE = 10
    FLAT_OK = 11
    VENDOR = 12
    PASSENGERS = 13
    FLEX = 14
    FLEX_PRICE = 15
    PAYMENT = 16
    STORE = 17
    TOLL = 18
    TIP_YES = 19
    TIP_KIND = 20
    TIP_PCT = 21
    NEGOTIATED = 22
    OUT_OF_CITY = 23
    ANOMALY = 24
    ANOMALY_KIND = 25
    ANOMALY_SIZE = 26
    MALFORMED = 27
    MALFORMED_KIND = 28
    MALFORMED_FIELD = 29
    MALFORMED_VALUE = 30
    ZERO_TIME = 31
    ANOMALY_SIZE2 = 32


@dataclass(frozen=True)
class Segment:
    """A kind of trip: origin/destination zone groups and its distance, speed and toll model."""

    pu: str
    do: str
    share: float
    dist_median: float  # miles
    dist_sigma: float  # log-space
    speed_factor: float  # x the Manhattan speed of the hour
    toll_prob: float


# Shares tuned against real 2023 yellow trips with data/calibrate.py.
SEGMENTS: tuple[Segment, ...] = (
    Segment("M", "M", 0.760, 1.55, 0.64, 1.00, 0.0),
    Segment("M", "K", 0.034, 5.0, 0.45, 1.00, 0.08),
    Segment("M", "Q", 0.020, 5.0, 0.50, 1.05, 0.20),
    Segment("M", "X", 0.009, 6.5, 0.45, 1.05, 0.10),
    Segment("K", "M", 0.012, 4.5, 0.45, 1.00, 0.08),
    Segment("Q", "M", 0.008, 5.0, 0.50, 1.05, 0.20),
    Segment("X", "M", 0.003, 6.5, 0.45, 1.05, 0.10),
    Segment("K", "K", 0.008, 2.0, 0.70, 1.10, 0.0),
    Segment("Q", "Q", 0.006, 2.5, 0.80, 1.15, 0.0),
    Segment("K", "Q", 0.002, 6.0, 0.50, 1.10, 0.05),
    Segment("Q", "K", 0.002, 6.0, 0.50, 1.10, 0.05),
    Segment("M", "JFK", 0.018, 17.5, 0.12, 1.10, 0.45),
    Segment("JFK", "M", 0.030, 18.5, 0.12, 1.10, 0.60),
    Segment("JFK", "K", 0.010, 12.0, 0.35, 1.10, 0.05),
    Segment("JFK", "Q", 0.008, 7.0, 0.50, 1.10, 0.02),
    Segment("M", "LGA", 0.019, 9.5, 0.20, 1.10, 0.20),
    Segment("LGA", "M", 0.022, 10.0, 0.20, 1.10, 0.45),
    Segment("LGA", "Q", 0.004, 5.0, 0.60, 1.10, 0.02),
    Segment("LGA", "K", 0.002, 10.0, 0.40, 1.10, 0.10),
    Segment("JFK", "LGA", 0.0015, 12.0, 0.10, 1.10, 0.10),
    Segment("M", "EWR", 0.0035, 17.5, 0.15, 1.10, 0.90),
)


# Median door-to-door speed (mph) of a Manhattan trip by pickup hour, weekdays.
MANHATTAN_SPEED_BY_HOUR = np.array(
    [12.5, 12.8, 13.5, 13.5, 15.0, 15.0, 12.5, 10.5, 9.0, 8.4, 8.3, 7.9,
     7.9, 7.8, 7.6, 7.5, 7.6, 7.7, 8.2, 8.6, 9.1, 10.2, 10.6, 11.0]
)
DISTANCE_SPEED_PIVOT, DISTANCE_SPEED_EXP = 1.5, 0.38  # speed x (distance / 1.5 mi) ** 0.38
WEEKEND_DAYTIME_SPEEDUP = 1.12  # 8h-20h on Saturdays and Sundays
SPEED_SIGMA = 0.28

# Relative trip volume by pickup hour (NYC yellow pattern) and by weekday (Monday = 0).
WEEKDAY_VOLUME_BY_HOUR = np.array(
    [2.0, 1.2, 0.8, 0.55, 0.5, 0.8, 2.0, 3.5, 4.4, 4.6, 4.6, 4.8,
     5.1, 5.2, 5.6, 5.9, 6.0, 6.6, 7.0, 6.7, 6.2, 6.1, 5.6, 4.2]
)
WEEKEND_VOLUME_BY_HOUR = np.array(
    [4.5, 3.6, 2.7, 1.9, 1.1, 0.8, 0.9, 1.3, 1.9, 2.7, 3.6, 4.4,
     5.0, 5.3, 5.4, 5.5, 5.5, 5.6, 5.7, 5.5, 5.1, 5.0, 5.0, 4.7]
)
VOLUME_BY_WEEKDAY = np.array([0.92, 1.0, 1.05, 1.1, 1.08, 1.05, 0.85])

# Categorical shares of real 2023 yellow trips.
VENDORS, VENDOR_P = np.array([1, 2]), np.array([0.27, 0.73])
PASSENGERS = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
PASSENGERS_P = np.array([0.017, 0.766, 0.138, 0.036, 0.016, 0.018, 0.009])
PAYMENTS, PAYMENTS_P = np.array([1, 2, 3, 4]), np.array([0.787, 0.186, 0.009, 0.018])
FLEX_SHARE = 0.032  # payment_type 0 ("flex fare"): rate code, passengers, surcharges missing
NEGOTIATED_SHARE, UNKNOWN_RATE_SHARE, OUT_OF_CITY_SHARE = 0.006, 0.004, 0.002
ZERO_DISTANCE_SHARE = 0.015  # of Manhattan trips: meter not moving (GPS/meter glitch)
JFK_FLAT_COMPLIANCE = 0.96  # JFK <-> Manhattan trips charged the flat fare
NEWARK_RATE_SHARE = 0.93
STORE_AND_FORWARD_SHARE = 0.005
TIP_SHARE_CARD, TIP_SHARE_FLEX = 0.93, 0.85

# Anomalies: mix of kinds, and the shares of eligible trips used to keep the overall rate and
# the mix at the requested values: JFK flat-fare trips (the only ones eligible for
# ``wrong_flat_fare``) and, among the others, fares of $12 or more (eligible for ``undercharged``).
ANOMALY_MIX = {"inflated_fare": 0.45, "wrong_flat_fare": 0.20, "undercharged": 0.35}
UNDERCHARGE_MIN_FARE = 12.0
_FLAT_SHARE = 0.047
_UNDERCHARGE_ELIGIBLE = 0.53


@dataclass(frozen=True)
class GenConfig:
    """What a run generates. Trip ``i`` depends on these values and on ``i`` only."""

    rows: int
    seed: int = 42
    start: date = date(2024, 1, 1)
    days: int = 31
    anomaly_rate: float = 0.0
    malformed_rate: float = 0.0
    text_malformations: bool = True  # CSV: text tokens; Parquet: +/-inf instead

    def __post_init__(self) -> None:
        if self.rows < 0 or self.days < 1:
            raise ValueError("rows must be >= 0 and days >= 1")
        for name in ("anomaly_rate", "malformed_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@lru_cache(maxsize=8)
def _period_cdf(start: date, days: int) -> np.ndarray:
    """Cumulative trip volume at each hour boundary of the period (0 .. 1)."""
    first_weekday = start.weekday()
    hours = np.arange(days * 24)
    weekday = (first_weekday + hours // 24) % 7
    hour = hours % 24
    weekday_w = WEEKDAY_VOLUME_BY_HOUR / WEEKDAY_VOLUME_BY_HOUR.sum()
    weekend_w = WEEKEND_VOLUME_BY_HOUR / WEEKEND_VOLUME_BY_HOUR.sum()
    weights = np.where(weekday >= 5, weekend_w[hour], weekday_w[hour]) * VOLUME_BY_WEEKDAY[weekday]
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    return cdf / cdf[-1]


def _pickup_seconds(cfg: GenConfig, index: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Seconds from the period start: quantile (i + u) / rows of the volume profile."""
    cdf = _period_cdf(cfg.start, cfg.days)
    edges = np.arange(len(cdf), dtype=np.float64) * 3600.0
    q = (index + u) / max(cfg.rows, 1)
    return np.floor(np.interp(q, cdf, edges)).astype(np.int64)


def _grid_fare(units: np.ndarray) -> np.ndarray:
    """Meter fare for a number of units: initial charge + $0.70 per completed unit."""
    return np.round(INITIAL_CHARGE + UNIT_PRICE * np.floor(np.maximum(units, 0.0) + 1e-9), 2)


def _zones(rnd: TripRandom, seg: np.ndarray, stream: int, side: str) -> np.ndarray:
    out = np.zeros(len(seg), dtype=np.int64)
    u = rnd.uniform(stream)
    for k, segment in enumerate(SEGMENTS):
        mask = seg == k
        if not mask.any():
            continue
        ids, weights = group_zones(getattr(segment, side))
        cdf = np.cumsum(weights) / weights.sum()
        out[mask] = ids[np.minimum(np.searchsorted(cdf, u[mask], side="right"), len(ids) - 1)]
    return out


def generate_chunk(cfg: GenConfig, start: int, n: int) -> pd.DataFrame:
    """Trips ``start .. start + n - 1`` of the run ``cfg`` (TLC columns + ``anomaly_label``)."""
    n = max(0, min(n, cfg.rows - start))
    rnd = TripRandom(cfg.seed, start, n)
    index = np.arange(start, start + n, dtype=np.float64)

    # --- when --------------------------------------------------------------------------------
    offset_s = _pickup_seconds(cfg, index, rnd.uniform(S.TIME))
    period_start = np.datetime64(cfg.start, "s")
    pickup = period_start + offset_s.astype("timedelta64[s]")
    pickup_day = pickup.astype("datetime64[D]")
    hour = ((offset_s // 3600) % 24).astype(np.int64)
    weekday = (cfg.start.weekday() + offset_s // 86400) % 7
    weekend = weekday >= 5
    rush = ~weekend & (hour >= 16) & (hour < 20)
    overnight = (hour >= 20) | (hour < 6)

    # --- where -------------------------------------------------------------------------------
    seg_p = np.array([s.share for s in SEGMENTS])
    seg = rnd.choice(S.SEGMENT, np.arange(len(SEGMENTS)), seg_p)
    pu = _zones(rnd, seg, S.PU, "pu")
    do = _zones(rnd, seg, S.DO, "do")
    pu_boro, do_boro = borough_of(pu), borough_of(do)
    jfk_manhattan = ((pu == JFK) & (do_boro == b"M")) | ((do == JFK) & (pu_boro == b"M"))
    newark = do == EWR

    # --- rate code ---------------------------------------------------------------------------
    u_rate = rnd.uniform(S.RATE)
    rate = np.ones(n, dtype=np.int64)
    rate = np.where(u_rate < NEGOTIATED_SHARE, 5, rate)
    rate = np.where(
        (u_rate >= NEGOTIATED_SHARE) & (u_rate < NEGOTIATED_SHARE + UNKNOWN_RATE_SHARE), 99, rate
    )
    lo = NEGOTIATED_SHARE + UNKNOWN_RATE_SHARE
    rate = np.where((u_rate >= lo) & (u_rate < lo + OUT_OF_CITY_SHARE), 4, rate)
    u_flat = rnd.uniform(S.FLAT_OK)
    rate = np.where(jfk_manhattan, np.where(u_flat < JFK_FLAT_COMPLIANCE, 2, 1), rate)
    rate = np.where(newark, np.where(u_flat < NEWARK_RATE_SHARE, 3, 1), rate)
    out_of_city = rate == 4

    # --- distance and duration -------------------------------------------------------------
    dist_median = np.array([s.dist_median for s in SEGMENTS])[seg]
    dist_sigma = np.array([s.dist_sigma for s in SEGMENTS])[seg]
    dist_median = np.where(out_of_city, 20.0, dist_median)
    dist_sigma = np.where(out_of_city, 0.35, dist_sigma)
    distance = np.clip(rnd.lognormal(S.DIST, dist_median, dist_sigma), 0.1, 80.0)
    zero = (seg == 0) & (rnd.uniform(S.ZERO) < ZERO_DISTANCE_SHARE)
    distance = np.where(zero, 0.0, np.round(distance, 2))

    # Longer trips use avenues, bridges and highways: faster on average than short hops.
    speed_factor = np.array([s.speed_factor for s in SEGMENTS])[seg]
    speed_factor = np.where(out_of_city, 1.1, speed_factor)
    speed_factor = speed_factor * np.clip((distance / DISTANCE_SPEED_PIVOT) ** DISTANCE_SPEED_EXP,
                                          0.8, 3.2)
    daytime_weekend = weekend & (hour >= 8) & (hour < 20)
    base_speed = MANHATTAN_SPEED_BY_HOUR[hour] * np.where(daytime_weekend,
                                                          WEEKEND_DAYTIME_SPEEDUP, 1.0)
    speed = np.clip(rnd.lognormal(S.SPEED, base_speed * speed_factor, SPEED_SIGMA), 2.0, 55.0)
    duration_s = np.maximum(np.round(distance / speed * 3600.0), 30.0)
    zero_duration = np.clip(rnd.lognormal(S.ZERO_TIME, 120.0, 0.8), 5.0, 1800.0).round()
    duration_s = np.minimum(np.where(zero, zero_duration, duration_s), 4 * 3600.0)
    dropoff = pickup + duration_s.astype(np.int64).astype("timedelta64[s]")

    # --- meter: distance units while fast (>= 12 mph), minutes while slow ------------------
    hours_total = duration_s / 3600.0
    v_slow = 2.5 + 2.5 * rnd.uniform(S.V_SLOW)
    v_avg = distance / hours_total
    v_fast = np.maximum(v_avg * (1.3 + 0.6 * rnd.uniform(S.V_FAST)), 14.0)
    t_fast = np.clip((distance - v_slow * hours_total) / (v_fast - v_slow), 0.0, hours_total)
    units = UNITS_PER_MILE * v_fast * t_fast + 60.0 * (hours_total - t_fast)
    metered = _grid_fare(units)

    fare = metered.copy()
    fare = np.where(rate == 2, JFK_FLAT_FARE, fare)
    fare = np.where(rate == 3, metered + NEWARK_SURCHARGE, fare)
    out_city_mult = 1.1 + 0.5 * rnd.uniform(S.OUT_OF_CITY)
    fare = np.where(out_of_city, _grid_fare(units * out_city_mult), fare)
    negotiated = np.maximum(np.round(metered * (0.85 + 0.5 * rnd.uniform(S.NEGOTIATED))), 10.0)
    fare = np.where(rate == 5, negotiated, fare)

    # --- flex fares (payment_type 0): upfront price, several fields missing ------------------
    flex = (rnd.uniform(S.FLEX) < FLEX_SHARE) & (rate != 2) & (rate != 3)
    flex_price = np.round(metered * (0.95 + 0.35 * rnd.uniform(S.FLEX_PRICE)), 2)
    fare = np.where(flex, flex_price, fare)

    # --- surcharges and tolls ------------------------------------------------------------------
    lga = (pu == LGA) | (do == LGA)
    extra = np.where(
        rate == 2,
        np.where(rush, JFK_RUSH_SURCHARGE, 0.0),
        np.where(rush, RUSH_HOUR_EXTRA, 0.0) + np.where(overnight, OVERNIGHT_EXTRA, 0.0)
        + np.where(lga, LGA_SURCHARGE, 0.0),
    )
    extra = np.where(flex, 0.0, extra)
    congestion = np.where(congestion_zone_mask(pu) | congestion_zone_mask(do),
                          CONGESTION_SURCHARGE, 0.0)
    congestion = np.where(flex, np.nan, congestion)
    airport_fee = np.where((pu == JFK) | (pu == LGA), airport_fee_for(pickup_day), 0.0)
    airport_fee = np.where(flex, np.nan, airport_fee)
    toll_prob = np.array([s.toll_prob for s in SEGMENTS])[seg]
    toll_prob = np.where(out_of_city, 0.3, toll_prob)
    tolls = np.where(rnd.uniform(S.TOLL) < toll_prob,
                     np.where(newark, _hudson_toll(pickup_day), _tunnel_toll(pickup_day)), 0.0)

    # --- who pays how ------------------------------------------------------------------------
    vendor = rnd.choice(S.VENDOR, VENDORS, VENDOR_P)
    vendor = np.where(rate == 99, 1, vendor)
    payment = np.where(flex, 0, rnd.choice(S.PAYMENT, PAYMENTS, PAYMENTS_P))
    passengers = np.where(flex, np.nan, rnd.choice(S.PASSENGERS, PASSENGERS, PASSENGERS_P))
    store_flag = np.where(rnd.uniform(S.STORE) < STORE_AND_FORWARD_SHARE, "Y", "N").astype(object)
    store_flag[flex] = None
    rate_out = np.where(flex, np.nan, rate.astype(np.float64))

    # --- labels: malformed rows first, anomalies on the others -------------------------------
    malformed = rnd.uniform(S.MALFORMED) < cfg.malformed_rate
    labels = np.full(n, "", dtype=object)
    fare, labels = _inject_anomalies(cfg, rnd, fare, units, rate, flex, malformed, labels)

    # --- tips and total ----------------------------------------------------------------------
    tip_base = (fare + extra + MTA_TAX + IMPROVEMENT_SURCHARGE + np.nan_to_num(congestion)
                + np.nan_to_num(airport_fee))
    tip = _tips(rnd, tip_base, payment)
    total = np.round(fare + extra + MTA_TAX + tip + tolls + IMPROVEMENT_SURCHARGE
                     + np.nan_to_num(congestion) + np.nan_to_num(airport_fee), 2)

    frame = pd.DataFrame(
        {
            "VendorID": vendor.astype(np.int64),
            "tpep_pickup_datetime": pickup.astype("datetime64[us]"),
            "tpep_dropoff_datetime": dropoff.astype("datetime64[us]"),
            "passenger_count": passengers,
            "trip_distance": distance,
            "RatecodeID": rate_out,
            "store_and_fwd_flag": pd.array(store_flag, dtype="object"),
            "PULocationID": pd.array(pu, dtype="Int64"),
            "DOLocationID": pd.array(do, dtype="Int64"),
            "payment_type": payment.astype(np.int64),
            "fare_amount": np.round(fare, 2),
            "extra": extra,
            "mta_tax": np.full(n, MTA_TAX),
            "tip_amount": tip,
            "tolls_amount": tolls,
            "improvement_surcharge": np.full(n, IMPROVEMENT_SURCHARGE),
            "total_amount": total,
            "congestion_surcharge": congestion,
            "Airport_fee": airport_fee,
        }
    )
    if cfg.malformed_rate > 0:
        _inject_malformed(cfg, rnd, frame, malformed, labels)
    frame[LABEL_COLUMN] = pd.array(labels, dtype="object")
    return frame


def _inject_anomalies(
    cfg: GenConfig,
    rnd: TripRandom,
    fare: np.ndarray,
    units: np.ndarray,
    rate: np.ndarray,
    flex: np.ndarray,
    malformed: np.ndarray,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fare anomalies (labelled): inflated, wrong JFK flat fare, under-charged."""
    if cfg.anomaly_rate <= 0:
        return fare, labels
    flat = (rate == 2) & ~flex
    mix = ANOMALY_MIX
    p_flat = min(1.0, cfg.anomaly_rate * mix["wrong_flat_fare"] / _FLAT_SHARE)
    p_other = max(0.0, (cfg.anomaly_rate - _FLAT_SHARE * p_flat) / (1.0 - _FLAT_SHARE))
    chosen = (rnd.uniform(S.ANOMALY) < np.where(flat, p_flat, p_other)) & ~malformed
    u_kind = rnd.uniform(S.ANOMALY_KIND)
    u_size, u_size2 = rnd.uniform(S.ANOMALY_SIZE), rnd.uniform(S.ANOMALY_SIZE2)

    # Under-charging is only noticeable on fares of some size; small fares get inflated instead.
    under_share = mix["undercharged"] / (mix["undercharged"] + mix["inflated_fare"])
    under_share = min(1.0, under_share / _UNDERCHARGE_ELIGIBLE)
    under = chosen & ~flat & (u_kind < under_share) & (fare >= UNDERCHARGE_MIN_FARE)
    inflated = chosen & ~flat & ~under
    wrong_flat = chosen & flat

    inflated_fare = np.maximum(fare * (1.5 + 1.1 * u_size), fare + 6.0 + 6.0 * u_size2)
    inflated_fare = INITIAL_CHARGE + UNIT_PRICE * np.ceil(
        (inflated_fare - INITIAL_CHARGE) / UNIT_PRICE)
    under_fare = _grid_fare((fare * (0.3 + 0.3 * u_size) - INITIAL_CHARGE) / UNIT_PRICE)
    # Wrong flat fare: the pre-2023 $52, an over-charged flat ($85-$120) or a low one ($35-$55).
    over_flat = JFK_FLAT_FARE + 5.0 * np.floor(3 + 8 * u_size2)
    low_flat = 35.0 + 5.0 * np.floor(5 * u_size2)
    wrong_flat_fare = np.where(u_size < 0.35, 52.0, np.where(u_size < 0.8, over_flat, low_flat))

    fare = np.where(inflated, inflated_fare, fare)
    fare = np.where(under, under_fare, fare)
    fare = np.where(wrong_flat, wrong_flat_fare, fare)
    labels = labels.copy()
    labels[inflated] = "inflated_fare"
    labels[under] = "undercharged"
    labels[wrong_flat] = "wrong_flat_fare"
    return np.round(fare, 2), labels


def _tips(rnd: TripRandom, base: np.ndarray, payment: np.ndarray) -> np.ndarray:
    """Tips: card payments mostly tip (20/25/30 % buttons or a custom amount); cash shows $0."""
    u_yes = rnd.uniform(S.TIP_YES)
    tipped = (((payment == 1) & (u_yes < TIP_SHARE_CARD))
              | ((payment == 0) & (u_yes < TIP_SHARE_FLEX)))
    kind = rnd.uniform(S.TIP_KIND)
    custom = np.clip(rnd.lognormal(S.TIP_PCT, 0.17, 0.35), 0.05, 0.6)
    pct = np.select([kind < 0.32, kind < 0.52, kind < 0.62], [0.20, 0.25, 0.30], custom)
    return np.where(tipped, np.round(base * pct, 2), 0.0)


_MISSING_FIELDS = ("fare_amount", "trip_distance", "PULocationID", "tpep_dropoff_datetime")
_NUMERIC_FIELDS = ("fare_amount", "trip_distance")
_TEXT_TOKENS = np.array(["N/A", "unknown", "12,50", "#VALUE!"], dtype=object)
_MALFORMED_KINDS = ("missing_field", "dropoff_before_pickup", "non_numeric",
                    "negative_distance", "unknown_location")
_MALFORMED_P = np.array([0.30, 0.20, 0.25, 0.10, 0.15])


def _inject_malformed(cfg: GenConfig, rnd: TripRandom, frame: pd.DataFrame,
                      malformed: np.ndarray, labels: np.ndarray) -> None:
    """Break the selected rows in place (one defect per row) and label them."""
    kind = rnd.choice(S.MALFORMED_KIND, np.arange(len(_MALFORMED_KINDS)), _MALFORMED_P)
    u_field, u_value = rnd.uniform(S.MALFORMED_FIELD), rnd.uniform(S.MALFORMED_VALUE)
    rows = {k: malformed & (kind == i) for i, k in enumerate(_MALFORMED_KINDS)}

    field = np.array(_MISSING_FIELDS, dtype=object)[(u_field * len(_MISSING_FIELDS)).astype(int)]
    for name in _MISSING_FIELDS:
        mask = rows["missing_field"] & (field == name)
        if mask.any():
            frame.loc[mask, name] = None
    labels[rows["missing_field"]] = "malformed_missing_field"

    mask = rows["dropoff_before_pickup"]
    back = pd.to_timedelta(np.round(60 + 1740 * u_value[mask]), unit="s")
    frame.loc[mask, "tpep_dropoff_datetime"] = frame.loc[mask, "tpep_pickup_datetime"] - back
    labels[mask] = "malformed_dropoff_before_pickup"

    mask = rows["negative_distance"]
    frame.loc[mask, "trip_distance"] = -np.maximum(frame.loc[mask, "trip_distance"], 0.5)
    labels[mask] = "malformed_negative_distance"

    mask = rows["unknown_location"]
    column = np.where(u_field < 0.5, "PULocationID", "DOLocationID")
    bad_zone = np.where(u_value < 0.3, 0, 266 + np.floor(34 * u_value)).astype(np.int64)
    for name in ("PULocationID", "DOLocationID"):
        m = mask & (column == name)
        frame.loc[m, name] = bad_zone[m]
    labels[mask] = "malformed_unknown_location"

    # Text tokens need text columns: with text malformations on, these two columns are always
    # text (amounts formatted like the CSV writer does), so a column's type never depends on
    # which rows a chunk holds.
    mask = rows["non_numeric"]
    column = np.array(_NUMERIC_FIELDS, dtype=object)[(u_field * len(_NUMERIC_FIELDS)).astype(int)]
    for name in _NUMERIC_FIELDS:
        m = mask & (column == name)
        if cfg.text_malformations:
            values = frame[name].to_numpy(dtype=np.float64)
            text = np.array([f"{v:.2f}" if v == v else "" for v in values], dtype=object)
            text[m] = _TEXT_TOKENS[(u_value[m] * len(_TEXT_TOKENS)).astype(int)]
            frame[name] = pd.array(text, dtype="object")
        elif m.any():
            frame.loc[m, name] = np.where(u_value[m] < 0.5, np.inf, -np.inf)
    labels[mask] = "malformed_non_numeric" if cfg.text_malformations else "malformed_non_finite"
