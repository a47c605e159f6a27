"""Labelled fare anomalies of the kinds a fare audit looks for, mixed into real trips.

Used to measure the outlier flag on a real month (``evaluate_detection.py``,
``benchmarks/bench_detection.py``, the demo and its end-to-end test). Only ``fare_amount`` (and
``total_amount``, by the same amount) of a chosen trip changes; every other field stays as the
TLC recorded it, so the model sees the real trip. The magnitudes come from the TLC's fare rules
(``shared/reference/tlc-fares.md``; the rules of the trip's own date: before 2022-12-19 $2.50
initial charge and $52 JFK flat fare, then $3.00 and $70), not from the detector:

``padded_fare``
    the meter run at the out-of-city rate inside the city: rate code 4 (Nassau/Westchester)
    charges double the metered amount, and setting it on city trips was the TLC's 2010
    overcharging case (1.8 million trips). Fare = initial + 2 x (fare - initial). Metered trips.
``made_up_surcharge``
    an airport surcharge added to the fare of a trip that does not touch that airport: the
    Newark surcharge ($17.50, $20 from 2022-12-19), the JFK rush-hour surcharge ($4.50, $5) or,
    from 2022-12-19, the LaGuardia surcharge ($5); one of those the trip does not qualify for,
    at random. Metered trips.
``flat_rate_abuse``
    the JFK flat fare charged for a LaGuardia trip (there is no flat fare from or to LaGuardia:
    the classic tourist overcharge). Metered LaGuardia trips whose fare is below the flat fare.
``undercharged``
    the meter ran for only part of the trip (started late or stopped early, fare skimming):
    fare = initial + f x (fare - initial), f uniform in [0.3, 0.7]. Metered trips.

Materiality: a change of $2.00 or less, or of 10 % of the trip's fare or less, is below the
materiality floor of the thresholds (:mod:`taximl.thresholds`): by the pipeline's own definition
it is not a wrong fare. Such draws are not labelled (the trip stays untouched) and are counted
in ``immaterial_draws``, so the share of each kind's draws that were too small is reported.

Trips are drawn among the contract-valid ones (``taximl.validation``), equally per kind, with a
seeded generator: the same file, rate and seed give the same anomalies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taximl.fares import RULES_2023, RULES_2023_START, RULES_BEFORE_2023
from taximl.schema import canonical_name
from taximl.thresholds import DEFAULT_MATERIALITY_ABS, DEFAULT_MATERIALITY_REL

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

KINDS: tuple[str, ...] = ("padded_fare", "made_up_surcharge", "flat_rate_abuse", "undercharged")
LABEL_COLUMN = "anomaly_label"
ORIGINAL_FARE_COLUMN = "original_fare_amount"
DEFAULT_RATE = 0.03
DEFAULT_SEED = 1630

METERED_RATE_CODE = 1
EWR, JFK, LGA = 1, 132, 138
#: Airport surcharges by fare period: (before 2022-12-19, from 2022-12-19); None = none yet.
AIRPORT_SURCHARGES: dict[int, tuple[float | None, float]] = {
    EWR: (17.50, 20.00),  # Newark surcharge (rate code 3)
    JFK: (4.50, 5.00),  # JFK flat-fare weekday rush-hour surcharge
    LGA: (None, 5.00),  # LaGuardia surcharge, new with the 2022-12-19 rules
}
UNDERCHARGE_SHARE = (0.3, 0.7)


@dataclass(frozen=True)
class Materiality:
    """The smallest fare change that counts as wrong: more than both ``abs_usd`` and ``rel``."""

    abs_usd: float = DEFAULT_MATERIALITY_ABS
    rel: float = DEFAULT_MATERIALITY_REL

    def is_material(self, change: float, fare: float) -> bool:
        return abs(change) > max(self.abs_usd, self.rel * abs(fare))


@dataclass
class Injection:
    """The trips with anomalies mixed in, and what was asked for and done per kind."""

    trips: pd.DataFrame
    requested: dict[str, int] = field(default_factory=dict)
    injected: dict[str, int] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)
    immaterial_draws: dict[str, int] = field(default_factory=dict)
    valid_trips: int = 0

    def summary(self) -> dict[str, Any]:
        return {"valid_trips": self.valid_trips, "requested": self.requested,
                "injected": self.injected, "eligible": self.eligible,
                "immaterial_draws": self.immaterial_draws}


def inject(
    trips: pd.DataFrame,
    rate: float = DEFAULT_RATE,
    seed: int = DEFAULT_SEED,
    materiality: Materiality = Materiality(),
    kinds: Sequence[str] = KINDS,
) -> Injection:
    """Alter the fares of ``rate`` of the contract-valid trips of ``trips`` (any TLC variant).

    Returns a copy with the same columns plus ``anomaly_label`` (kind, or empty) and
    ``original_fare_amount``; ``fare_amount`` and ``total_amount`` of the labelled trips changed.
    """
    import numpy as np

    if not 0 <= rate < 0.5:
        raise ValueError("the anomaly rate must be in [0, 0.5)")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown anomaly kinds {sorted(unknown)} (known: {', '.join(KINDS)})")
    out = trips.copy().reset_index(drop=True)
    if LABEL_COLUMN in out.columns:
        out = out.drop(columns=[LABEL_COLUMN])
    cols = _columns(out)
    values = _values(out, cols)
    valid = _contract_valid(out)
    rng = np.random.default_rng(seed)
    target = round(rate * int(valid.sum()))
    quotas = {k: target // len(kinds) + (1 if i < target % len(kinds) else 0)
              for i, k in enumerate(kinds)}
    fare = values["fare"]
    new_fare = fare.copy()
    labels = np.full(len(out), "", dtype=object)
    used = np.zeros(len(out), dtype=bool)
    result = Injection(trips=out, requested=quotas, valid_trips=int(valid.sum()))
    for kind in kinds:
        pool = np.flatnonzero(_eligible(kind, values) & valid & ~used)
        result.eligible[kind] = len(pool)
        done = immaterial = 0
        for i in rng.permutation(pool):
            if done >= quotas[kind]:
                break
            changed = round(_altered(kind, i, values, rng), 2)
            if not materiality.is_material(changed - fare[i], fare[i]):
                immaterial += 1
                continue
            new_fare[i], labels[i], used[i] = changed, kind, True
            done += 1
        result.injected[kind], result.immaterial_draws[kind] = done, immaterial
    delta = np.where(used, new_fare - fare, 0.0)
    out[ORIGINAL_FARE_COLUMN] = np.where(used, fare, np.nan)
    out[cols["fare_amount"]] = _write_back(out[cols["fare_amount"]], used, new_fare)
    if cols.get("total_amount") is not None:
        total = values["total"]
        out[cols["total_amount"]] = _write_back(out[cols["total_amount"]], used,
                                                np.round(total + delta, 2))
    out[LABEL_COLUMN] = labels
    result.trips = out
    return result


def _columns(frame: pd.DataFrame) -> dict[str, Any]:
    """Canonical field -> the frame's column for the fields the anomalies need."""
    found: dict[str, Any] = {}
    for column in frame.columns:
        name = canonical_name(str(column))
        if name is not None and name not in found:
            found[name] = column
    needed = ("pickup_datetime", "rate_code_id", "pu_location_id", "do_location_id",
              "fare_amount")
    missing = [n for n in needed if n not in found]
    if missing:
        raise ValueError(f"trips lack the columns {missing} needed to inject fare anomalies")
    return found


def _values(frame: pd.DataFrame, cols: dict[str, Any]) -> dict[str, np.ndarray]:
    import numpy as np
    import pandas as pd

    def number(name: str) -> np.ndarray:
        if cols.get(name) is None:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[cols[name]], errors="coerce").to_numpy(dtype="float64",
                                                                             na_value=np.nan)

    pickup = pd.to_datetime(frame[cols["pickup_datetime"]], errors="coerce", utc=True,
                            format="mixed").dt.tz_localize(None)
    new_rules = (pickup >= pd.Timestamp(RULES_2023_START)).to_numpy(dtype=bool)
    return {
        "fare": number("fare_amount"),
        "total": number("total_amount"),
        "rate": number("rate_code_id"),
        "pu": number("pu_location_id"),
        "do": number("do_location_id"),
        "new_rules": new_rules,
        "initial": np.where(new_rules, RULES_2023.initial_charge,
                            RULES_BEFORE_2023.initial_charge),
        "flat": np.where(new_rules, RULES_2023.jfk_flat_fare, RULES_BEFORE_2023.jfk_flat_fare),
    }


def _contract_valid(frame: pd.DataFrame) -> np.ndarray:
    """Rows the streaming contract accepts (anomalies on quarantined rows could not count)."""
    import numpy as np

    from taximl.validation import validate_frame

    mask = np.zeros(len(frame), dtype=bool)
    mask[validate_frame(frame).valid_rows] = True
    return mask


def _eligible(kind: str, v: dict[str, np.ndarray]) -> np.ndarray:
    import numpy as np

    with np.errstate(invalid="ignore"):
        metered = (v["rate"] == METERED_RATE_CODE) & (v["fare"] >= v["initial"])
        if kind == "flat_rate_abuse":
            at_lga = (v["pu"] == LGA) | (v["do"] == LGA)
            return metered & at_lga & (v["fare"] < v["flat"])
    return metered


def _altered(kind: str, i: int, v: dict[str, np.ndarray], rng: np.random.Generator) -> float:
    fare, initial = float(v["fare"][i]), float(v["initial"][i])
    if kind == "padded_fare":
        return initial + 2.0 * (fare - initial)
    if kind == "undercharged":
        return initial + float(rng.uniform(*UNDERCHARGE_SHARE)) * (fare - initial)
    if kind == "flat_rate_abuse":
        return float(v["flat"][i])
    period = 1 if v["new_rules"][i] else 0
    touched = {v["pu"][i], v["do"][i]}
    options = [amounts[period] for zone, amounts in AIRPORT_SURCHARGES.items()
               if zone not in touched and amounts[period] is not None]
    return fare + float(options[int(rng.integers(len(options)))])


def _write_back(column: pd.Series, mask: np.ndarray, values: np.ndarray) -> pd.Series:
    """The column with ``values`` where ``mask`` (kept as text in a text column)."""
    import pandas as pd

    out = column.copy()
    if pd.api.types.is_numeric_dtype(out):
        out = out.astype("float64")
        out[mask] = values[mask]
        return out
    out = out.astype(object)
    out[mask] = [f"{x:.2f}" for x in values[mask]]
    return out
