"""The bundled real sample: small, in the TLC's own layout, and derived by the committed script."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import derive_real_sample

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "real_sample"
FILES = sorted(SAMPLE.rglob("*.parquet"))


def test_the_sample_is_a_few_months_and_a_few_megabytes() -> None:
    assert [f.relative_to(SAMPLE).as_posix() for f in FILES] == [
        *(f"history/yellow_tripdata_2019-{m:02d}.parquet" for m in range(6, 12)),
        "holdout/yellow_tripdata_2019-12.parquet",
    ]
    assert sum(f.stat().st_size for f in FILES) < 3 * 1024 * 1024
    assert "Apache License, Version 2.0" in (SAMPLE / "NOTICE").read_text()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_month_looks_like_a_tlc_parquet_month(path: Path) -> None:
    table = pq.read_table(path)
    assert table.schema.remove_metadata() == derive_real_sample.SCHEMA
    assert table.num_rows == 10_000
    pickup = table["tpep_pickup_datetime"].to_pandas()
    assert pickup.is_monotonic_increasing
    month = path.stem.rsplit("_", 1)[1]
    assert (pickup.dt.strftime("%Y-%m") == month).mean() > 0.999  # a stray TLC row may remain


def test_the_held_out_month_is_after_the_history() -> None:
    history = max(pq.read_table(f, columns=["tpep_pickup_datetime"])["tpep_pickup_datetime"]
                  .to_pandas().max() for f in FILES if f.parent.name == "history")
    holdout = pq.read_table(SAMPLE / "holdout" / "yellow_tripdata_2019-12.parquet",
                            columns=["tpep_pickup_datetime"])["tpep_pickup_datetime"]
    assert holdout.to_pandas().min() > history


def test_the_committed_files_are_what_the_script_derives(shared_data_dir: Path,
                                                         tmp_path: Path) -> None:
    # GIVEN the shared real samples  WHEN the documented command runs into a temp folder
    assert derive_real_sample.main(["--shared", str(shared_data_dir), "--out",
                                    str(tmp_path)]) == 0
    # THEN it gives the same tables as the committed files (values, order, types)
    derived = sorted(tmp_path.rglob("*.parquet"))
    assert [f.relative_to(tmp_path) for f in derived] == [f.relative_to(SAMPLE) for f in FILES]
    for ours, fresh in zip(FILES, derived, strict=True):
        assert pq.read_table(ours).equals(pq.read_table(fresh)), ours.name


def test_a_missing_shared_folder_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert derive_real_sample.main(["--shared", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "yellow_tripdata_sample_2019-06.csv not found" in capsys.readouterr().err
