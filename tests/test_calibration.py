"""The generator is realistic: its distributions match real 2023 yellow trips (calibrate.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from calibrate import compare, format_table, generated_trips, load_trips, main, prepare

REFERENCE = "tlc/yellow_2023_sample.parquet"


@pytest.fixture(scope="module")
def reference(shared_data_dir: Path) -> pd.DataFrame:
    return prepare(load_trips(shared_data_dir / REFERENCE))


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return prepare(generated_trips(rows=60_000, seed=2024, start=date(2023, 1, 1), days=90))


def test_generated_distributions_match_real_trips(generated: pd.DataFrame,
                                                  reference: pd.DataFrame) -> None:
    checks = compare(generated, reference)
    names = {c.name for c in checks}
    for key in ("distance (mi) p50", "duration (min) p90", "fare per mile, rate 1 ($/mi) p50",
                "share JFK trips (PU or DO 132)", "share RatecodeID 2",
                "median speed 16-19h (mph)"):
        assert key in names
    failed = [c for c in checks if not c.ok]
    assert not failed, "\n" + format_table(checks)


def test_key_quantiles_are_close(generated: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Tighter than the CLI tolerances on the statistics that drive fare models."""
    by_name = {c.name: c for c in compare(generated, reference)}
    for name in ("distance (mi) p25", "distance (mi) p50", "duration (min) p25",
                 "duration (min) p50", "fare per mile, rate 1 ($/mi) p25",
                 "fare per mile, rate 1 ($/mi) p50", "fare per mile, rate 1 ($/mi) p75"):
        c = by_name[name]
        assert abs(c.diff) <= 0.10 * c.reference, (name, c.generated, c.reference)
    jfk = by_name["share RatecodeID 2"]
    assert abs(jfk.diff) <= 0.015


def test_cli_prints_table_and_strict_mode(shared_data_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ref = str(shared_data_dir / REFERENCE)
    assert main(["--reference", ref, "--rows", "30000", "--strict"]) == 0
    out = capsys.readouterr().out
    assert "fare per mile" in out and "statistics within tolerance" in out

    # A generator that charged double would be caught.
    bad = generated_trips(rows=20_000, seed=1, start=date(2023, 1, 1), days=90)
    bad["fare_amount"] = bad["fare_amount"] * 2
    bad.to_parquet(tmp_path / "bad.parquet")
    assert main(["--reference", ref, "--generated", str(tmp_path / "bad.parquet")]) == 0
    assert main(["--reference", ref, "--generated", str(tmp_path / "bad.parquet"),
                 "--strict"]) == 1
    assert " NO" in capsys.readouterr().out


def test_bundled_sample_is_comparable(shared_data_dir: Path, repo_root: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The committed CSV (2024 rules, anomalies labelled) loads and compares without errors."""
    rc = main(["--reference", str(shared_data_dir / REFERENCE),
               "--generated", str(repo_root / "data" / "sample_nyc_taxi.csv")])
    assert rc == 0
    assert "sample_nyc_taxi.csv" in capsys.readouterr().out


def test_missing_reference_is_a_clear_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--reference", str(tmp_path / "nope.parquet")]) == 2
    assert "reference file not found" in capsys.readouterr().err
