"""Compare the generator's distributions with real TLC yellow trips and print the differences.

Examples::

    python data/calibrate.py                       # generate 60,000 trips in memory, compare
    python data/calibrate.py --generated data/sample_nyc_taxi.csv
    python data/calibrate.py --strict              # exit 1 when a check is out of tolerance

The reference (default ``../shared/data/tlc/yellow_2023_sample.parquet``) holds 6 trips per
month x weekday x hour, so its hour mix is flat, not volume-shaped. To compare like with like,
generated trips are re-weighted to the reference's weekday x hour mix before quantiles and
shares are computed; the hour *volume* profile is printed for information only, and the hour
profile is compared through the median speed per hour band. Both sides drop labelled
anomalies/malformed rows and trips with no distance, no positive duration/fare, or > 3 h.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = REPO_ROOT.parent / "shared" / "data" / "tlc" / "yellow_2023_sample.parquet"
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
HOUR_BANDS = {"00-05h": range(0, 6), "06-09h": range(6, 10), "10-15h": range(10, 16),
              "16-19h": range(16, 20), "20-23h": range(20, 24)}
RATE_CODES = (1.0, 2.0, 3.0, 4.0, 5.0, 99.0)


@dataclass(frozen=True)
class Check:
    """One compared statistic. ``relative``: tolerance is a fraction of the reference value."""

    name: str
    generated: float
    reference: float
    tolerance: float
    relative: bool

    @property
    def diff(self) -> float:
        return self.generated - self.reference

    @property
    def ok(self) -> bool:
        if not (np.isfinite(self.generated) and np.isfinite(self.reference)):
            return False
        limit = self.tolerance * abs(self.reference) if self.relative else self.tolerance
        return abs(self.diff) <= limit + 1e-12


def load_trips(path: Path) -> pd.DataFrame:
    """Read a TLC-style CSV/Parquet file with lower-case column names (no validation)."""
    if path.suffix.lower() == ".csv":
        df = pd.read_csv(path, low_memory=False)
    else:
        df = pd.read_parquet(path)
    df.columns = [str(c).lower() for c in df.columns]
    for col in ("tpep_pickup_datetime", "tpep_dropoff_datetime"):
        df[col] = pd.to_datetime(df[col], errors="coerce")
    return df


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Plausible, unlabelled trips with derived duration (min), speed (mph), hour and weekday."""
    df = df.copy()
    if "anomaly_label" in df.columns:
        df = df[df["anomaly_label"].fillna("").astype(str) == ""]
    for col in ("trip_distance", "fare_amount", "ratecodeid", "pulocationid", "dolocationid"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    pickup = df["tpep_pickup_datetime"]
    df["duration_min"] = (df["tpep_dropoff_datetime"] - pickup).dt.total_seconds() / 60.0
    keep = (df["trip_distance"] > 0) & (df["duration_min"] > 0) & (df["duration_min"] <= 180)
    keep &= df["fare_amount"] > 0
    df = df[keep].copy()
    df["speed_mph"] = df["trip_distance"] / (df["duration_min"] / 60.0)
    df["hour"] = df["tpep_pickup_datetime"].dt.hour
    df["weekday"] = df["tpep_pickup_datetime"].dt.day_of_week
    return df.reset_index(drop=True)


def hour_weights(generated: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Weights that give the generated trips the reference's weekday x hour mix."""
    key_g = generated["weekday"] * 24 + generated["hour"]
    key_r = reference["weekday"] * 24 + reference["hour"]
    share_r = key_r.value_counts(normalize=True)
    share_g = key_g.value_counts(normalize=True)
    w = key_g.map(share_r).fillna(0.0) / key_g.map(share_g)
    return w.to_numpy(dtype=np.float64)


def weighted_quantile(values: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """Quantile ``q`` of ``values`` with optional weights (NaN dropped)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    if len(values) == 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cum = np.cumsum(weights) - 0.5 * weights
    return float(np.interp(q * weights.sum(), cum, values))


def _share(mask: pd.Series, weights: np.ndarray | None = None) -> float:
    m = mask.to_numpy(dtype=bool)
    if weights is None:
        return float(m.mean()) if len(m) else float("nan")
    return float(weights[m].sum() / weights.sum()) if weights.sum() > 0 else float("nan")


def compare(generated: pd.DataFrame, reference: pd.DataFrame) -> list[Check]:
    """Every check, generated vs reference (both as returned by :func:`prepare`)."""
    w = hour_weights(generated, reference)
    checks: list[Check] = []

    def quantiles(label: str, g: pd.Series, r: pd.Series, wg: np.ndarray, tol_mid: float,
                  tol_tail: float) -> None:
        for q in QUANTILES:
            tol = tol_mid if 0.25 <= q <= 0.75 else tol_tail
            checks.append(Check(f"{label} p{int(q * 100)}", weighted_quantile(g, q, wg),
                                weighted_quantile(r, q), tol, True))

    quantiles("distance (mi)", generated["trip_distance"], reference["trip_distance"], w,
              0.15, 0.25)
    quantiles("duration (min)", generated["duration_min"], reference["duration_min"], w,
              0.15, 0.25)
    quantiles("fare_amount ($)", generated["fare_amount"], reference["fare_amount"], w,
              0.15, 0.25)
    std_g = (generated["ratecodeid"] == 1) & (generated["trip_distance"] >= 0.5)
    std_r = (reference["ratecodeid"] == 1) & (reference["trip_distance"] >= 0.5)
    fpm_g = generated["fare_amount"] / generated["trip_distance"]
    fpm_r = reference["fare_amount"] / reference["trip_distance"]
    for q in (0.25, 0.50, 0.75):
        checks.append(Check(f"fare per mile, rate 1 ($/mi) p{int(q * 100)}",
                            weighted_quantile(fpm_g[std_g], q, w[std_g.to_numpy()]),
                            weighted_quantile(fpm_r[std_r], q), 0.10, True))
    for band, hours in HOUR_BANDS.items():
        in_g, in_r = generated["hour"].isin(hours), reference["hour"].isin(hours)
        checks.append(Check(f"median speed {band} (mph)",
                            weighted_quantile(generated["speed_mph"][in_g], 0.5,
                                              w[in_g.to_numpy()]),
                            weighted_quantile(reference["speed_mph"][in_r], 0.5), 0.15, True))
    jfk_g = (generated["pulocationid"] == 132) | (generated["dolocationid"] == 132)
    jfk_r = (reference["pulocationid"] == 132) | (reference["dolocationid"] == 132)
    checks.append(Check("share JFK trips (PU or DO 132)", _share(jfk_g, w), _share(jfk_r),
                        0.03, False))
    for code in RATE_CODES:
        tol = 0.03 if code in (1.0, 2.0) else 0.006
        checks.append(Check(f"share RatecodeID {code:g}",
                            _share(generated["ratecodeid"] == code, w),
                            _share(reference["ratecodeid"] == code), tol, False))
    checks.append(Check("share RatecodeID missing", _share(generated["ratecodeid"].isna(), w),
                        _share(reference["ratecodeid"].isna()), 0.02, False))
    card_g, card_r = generated["payment_type"] == 1, reference["payment_type"] == 1
    checks.append(Check("share card payments", _share(card_g, w), _share(card_r), 0.05, False))
    checks += _meter_residual_checks(generated, reference, w)
    return checks


def _meter_residual_checks(generated: pd.DataFrame, reference: pd.DataFrame,
                           w: np.ndarray) -> list[Check]:
    """fare_amount minus the project's meter-formula baseline (taximl.fares), rate 1 trips.

    The baseline cannot see how a trip splits into fast and slow stretches; real and synthetic
    trips should leave it the same residuals. Skipped when taximl is not importable.
    """
    try:
        from taximl.fares import meter_fare_array
    except ImportError:
        return []

    def residual(df: pd.DataFrame) -> pd.Series:
        estimate = meter_fare_array(
            df["trip_distance"].to_numpy(dtype=np.float64),
            df["duration_min"].to_numpy(dtype=np.float64),
            df["tpep_pickup_datetime"].to_numpy(dtype="datetime64[us]"),
            df["ratecodeid"].to_numpy(dtype=np.float64),
        )
        return df["fare_amount"] - estimate

    std_g = (generated["ratecodeid"] == 1).to_numpy()
    std_r = (reference["ratecodeid"] == 1).to_numpy()
    res_g, res_r = residual(generated)[std_g], residual(reference)[std_r]
    return [
        Check(f"fare - meter formula, rate 1 ($) p{int(q * 100)}",
              weighted_quantile(res_g, q, w[std_g]), weighted_quantile(res_r, q), tol, False)
        for q, tol in ((0.10, 0.75), (0.50, 0.75), (0.90, 1.50))
    ]


def volume_by_hour(df: pd.DataFrame) -> pd.Series:
    """Share of pickups per hour of day (information: the reference is flat by design)."""
    return df["hour"].value_counts(normalize=True).sort_index()


def format_table(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'statistic':<{width}}  {'generated':>10}  {'reference':>10}  {'diff':>9}  "
             f"{'tolerance':>10}  ok"]
    for c in checks:
        tol = f"{100 * c.tolerance:.0f}% rel" if c.relative else f"{c.tolerance:.3f} abs"
        lines.append(f"{c.name:<{width}}  {c.generated:>10.3f}  {c.reference:>10.3f}  "
                     f"{c.diff:>+9.3f}  {tol:>10}  {'yes' if c.ok else 'NO'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Compare generated trips with real TLC trips (distribution check).")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help=f"real trips, CSV or Parquet (default {DEFAULT_REFERENCE})")
    parser.add_argument("--generated", type=Path, default=None,
                        help="generated trips file; default: generate --rows trips in memory")
    parser.add_argument("--rows", type=int, default=60_000,
                        help="trips to generate (default 60000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2023, 1, 1),
                        help="first pickup day of the generated trips (default 2023-01-01, "
                             "the reference's period)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any statistic is out of tolerance")
    return parser


def generated_trips(rows: int, seed: int, start: date, days: int) -> pd.DataFrame:
    """Generate trips in memory with the project's generator (lower-case TLC names)."""
    from generate import generate_frame
    from synth_trips import GenConfig

    df = generate_frame(GenConfig(rows=rows, seed=seed, start=start, days=days))
    df.columns = [c.lower() for c in df.columns]
    return df


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.reference.exists():
        print(f"error: reference file not found: {args.reference}\n"
              "Point --reference at a real TLC yellow file (e.g. one fetched with "
              "data/download.py).", file=sys.stderr)
        return 2
    reference = prepare(load_trips(args.reference))
    if args.generated is not None:
        generated = prepare(load_trips(args.generated))
        source = str(args.generated)
    else:
        generated = prepare(generated_trips(args.rows, args.seed, args.start, args.days))
        source = f"{args.rows:,} trips generated in memory (seed {args.seed})"
    checks = compare(generated, reference)
    print(f"generated: {source} ({len(generated):,} usable trips)")
    print(f"reference: {args.reference} ({len(reference):,} usable trips)")
    print("generated trips re-weighted to the reference's weekday x hour mix\n")
    print(format_table(checks))
    vol = volume_by_hour(generated)
    print("\ngenerated pickup volume by hour (%, unweighted): "
          + " ".join(f"{h}:{100 * v:.1f}" for h, v in vol.items()))
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)}/{len(checks)} statistics within tolerance")
    if failed and args.strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
