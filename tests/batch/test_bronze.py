"""Step 1's bronze layer without AWS: TLC files of every kind -> raw-table Parquet by month."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bronze
from taximl.errors import UnsupportedFileError


def yellow_month(year: int, month: int, n: int = 6, *, int_codes: bool = False,
                 fee_name: str = "Airport_fee") -> pd.DataFrame:
    """A yellow TLC month as the TLC writes it; codes as int64 or double (both happen)."""
    pickup = pd.date_range(f"{year}-{month:02d}-02 08:00", periods=n, freq="37min")
    codes = np.arange(n) % 2 + 1
    return pd.DataFrame({
        "VendorID": pd.array(codes, dtype="int32"),
        "tpep_pickup_datetime": pickup.astype("datetime64[us]"),
        "tpep_dropoff_datetime": (pickup + pd.Timedelta(minutes=12)).astype("datetime64[us]"),
        "passenger_count": codes if int_codes else codes.astype(float),
        "trip_distance": np.round(np.linspace(0.5, 9.5, n), 2),
        "RatecodeID": np.ones(n, dtype="int64") if int_codes else np.ones(n),
        "store_and_fwd_flag": ["N"] * n,
        "PULocationID": pd.array([161] * n, dtype="int32"),
        "DOLocationID": pd.array([236] * n, dtype="int32"),
        "payment_type": np.ones(n, dtype="int64"),
        "fare_amount": np.round(np.linspace(6.0, 40.0, n), 2),
        "extra": 1.0, "mta_tax": 0.5, "tip_amount": 2.0, "tolls_amount": 0.0,
        "improvement_surcharge": 1.0, "total_amount": 30.0, "congestion_surcharge": 2.5,
        fee_name: 0.0,
    })


def green_month(n: int = 4) -> pd.DataFrame:
    pickup = pd.date_range("2024-02-03 10:00", periods=n, freq="1h").astype("datetime64[us]")
    return pd.DataFrame({
        "VendorID": pd.array([2] * n, dtype="int32"), "lpep_pickup_datetime": pickup,
        "lpep_dropoff_datetime": pickup + pd.Timedelta(minutes=9),
        "store_and_fwd_flag": ["N"] * n, "RatecodeID": [1.0] * n,
        "PULocationID": pd.array([74] * n, dtype="int32"),
        "DOLocationID": pd.array([42] * n, dtype="int32"), "passenger_count": [1.0] * n,
        "trip_distance": [1.2] * n, "fare_amount": [9.3, 10.0, 11.4, 8.6][:n], "extra": 0.0,
        "mta_tax": 0.5, "tip_amount": 0.0, "tolls_amount": 0.0, "ehail_fee": None,
        "improvement_surcharge": 1.0, "total_amount": 13.0,
        "payment_type": [1.0, 2.0, None, 1.0][:n],
        "trip_type": [1.0] * n, "congestion_surcharge": 0.0,
    })


def _parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def _read(month: bronze.MonthFile) -> pd.DataFrame:
    return pq.read_table(month.path).to_pandas()


def test_months_with_type_drift_get_one_physical_schema(tmp_path: Path) -> None:
    # GIVEN two real-looking months: codes as double and Airport_fee, then int64 and airport_fee
    jan = _parquet(yellow_month(2024, 1), tmp_path / "yellow_tripdata_2024-01.parquet")
    feb = _parquet(yellow_month(2024, 2, int_codes=True, fee_name="airport_fee"),
                   tmp_path / "yellow_tripdata_2024-02.parquet")
    # WHEN both are converted
    first = bronze.convert_file(jan, tmp_path / "out1")
    second = bronze.convert_file(feb, tmp_path / "out2")
    # THEN the files have exactly the raw table's schema, and the values are the TLC's
    expected = bronze.arrow_schema("yellow")
    for result in (first, second):
        assert result.taxi_type == "yellow" and len(result.months) == 1
        assert pq.read_schema(result.months[0].path) == expected
        assert not result.nulled and not result.ignored_columns
    a, b = _read(first.months[0]), _read(second.months[0])
    assert a["passenger_count"].tolist() == b["passenger_count"].tolist() == [1.0, 2.0] * 3
    assert b["ratecodeid"].tolist() == [1.0] * 6 and b["airport_fee"].tolist() == [0.0] * 6
    assert a["vendorid"].tolist() == [1, 2] * 3
    assert second.months[0].key == ("trips/yellow/year=2024/month=02/"
                                    "yellow_tripdata_2024-02.parquet")
    assert first.missing_columns == ["cbd_congestion_fee"]


def test_green_trips_are_recognised_from_their_columns(tmp_path: Path) -> None:
    path = _parquet(green_month(), tmp_path / "tripdata_2024-02.parquet")  # no type in the name
    result = bronze.convert_file(path, tmp_path / "out")
    assert result.taxi_type == "green"
    assert result.months[0].key.startswith("trips/green/year=2024/month=02/")
    frame = _read(result.months[0])
    assert pq.read_schema(result.months[0].path) == bronze.arrow_schema("green")
    # payment_type is double in the TLC's green files: whole numbers become BIGINT, NaN NULL
    assert frame["payment_type"].tolist()[:2] == [1, 2] and pd.isna(frame["payment_type"][2])
    assert frame["lpep_pickup_datetime"].min() == pd.Timestamp("2024-02-03 10:00")


def test_csv_variants_map_onto_the_tlc_columns(tmp_path: Path) -> None:
    # GIVEN the snake_case export (no tpep_/lpep_ hint: the file name says yellow), gzipped,
    # with text in a number column, an unreadable pickup and a label column
    text = ("vendor_id,pickup_datetime,dropoff_datetime,passenger_count,trip_distance,"
            "rate_code_id,pickup_location_id,dropoff_location_id,fare_amount,anomaly_label\n"
            "2,2019-12-23 22:14:34,2019-12-23 22:23:02,2,1.85,1,211,107,8.0,\n"
            "1,2019-12-31 23:50:00,2020-01-01 00:05:00,1,3.1,1,79,4,N/A,x\n"
            "1,not a time,2019-12-05 10:00:00,1,1.0,1,1,2,5.0,\n"
            "2,2020-01-01 00:10:00,2020-01-01 00:20:00,,2.0,,48,50,9.5,\n")
    path = tmp_path / "yellow_tripdata_sample_2019-12.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    result = bronze.convert_file(path, tmp_path / "out")
    # THEN: yellow, one file per pickup month, the bad values NULL and counted
    assert result.taxi_type == "yellow"
    assert [(m.year, m.month, m.rows) for m in result.months] == [("2019", "12", 2),
                                                                   ("2020", "01", 1)]
    assert result.months[0].path.name == "yellow_tripdata_sample_2019-12.parquet"
    assert result.skipped_no_pickup == 1 and result.nulled == {"fare_amount": 1}
    assert result.ignored_columns == ["anomaly_label"]
    dec = _read(result.months[0])
    assert dec["tpep_pickup_datetime"].tolist() == [pd.Timestamp("2019-12-23 22:14:34"),
                                                    pd.Timestamp("2019-12-31 23:50:00")]
    assert dec["fare_amount"].tolist()[0] == 8.0 and pd.isna(dec["fare_amount"][1])
    assert dec["pulocationid"].tolist() == [211, 79]
    jan = _read(result.months[1])
    assert pd.isna(jan["passenger_count"][0]) and pd.isna(jan["ratecodeid"][0])


def test_chunks_give_the_same_files_as_one_pass(tmp_path: Path) -> None:
    frame = pd.concat([yellow_month(2024, 1, 7), yellow_month(2024, 2, 5)], ignore_index=True)
    path = _parquet(frame, tmp_path / "two_months.parquet")
    whole = bronze.convert_file(path, tmp_path / "a", chunk_rows=100)
    chunked = bronze.convert_file(path, tmp_path / "b", chunk_rows=3)
    assert [m.rows for m in whole.months] == [m.rows for m in chunked.months] == [7, 5]
    for one, other in zip(whole.months, chunked.months, strict=True):
        assert pq.read_table(one.path).equals(pq.read_table(other.path))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("taxi_zone_lookup.csv", b"LocationID,Borough,Zone,service_zone\n1,EWR,Newark,EWR\n",
         "not a trip file (columns: LocationID, Borough, Zone, service_zone)"),
        ("yellow_tripdata_2024-01.parquet", b"VendorID,tpep_pickup_datetime\n1,2024\n",
         "not a Parquet file"),
        ("yellow_tripdata_2024-01.csv", b"PAR1\x00\x00garbage",
         "this is a Parquet file named like a CSV"),
        ("yellow_tripdata_2024-01.csv",
         b"tpep_pickup_datetime,tpep_dropoff_datetime,fare_amount\n", "holds no rows"),
        ("trips.csv", b"pickup_datetime,dropoff_datetime,fare_amount\n2024-01-01,2024-01-01,1\n",
         "cannot tell yellow from green"),
        ("mixed.csv", b"tpep_pickup_datetime,lpep_dropoff_datetime,fare_amount\n1,2,3\n",
         "both yellow (tpep_) and green (lpep_) columns"),
        ("yellow.csv", b"\xff\xfe\x00bad\x00encoding", "unreadable csv file"),
        ("notes.json", b"{}", "expected a .csv, .csv.gz or .parquet"),
        ("yellow_tripdata_2024-01.csv.gz", gzip.compress(b"tpep_pickup_datetime," * 99)[:40],
         "Compressed file ended before the end-of-stream marker"),
    ],
)
def test_unknown_or_unreadable_files_get_a_one_line_error(tmp_path: Path, name: str,
                                                          content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnsupportedFileError) as caught:
        bronze.convert_file(path, tmp_path / "out")
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_a_folder_loads_its_months_and_skips_what_is_not_a_trip_file(tmp_path: Path) -> None:
    # GIVEN data/download.py's cache: two months, the zone table, a download in progress
    _parquet(yellow_month(2024, 1), tmp_path / "yellow_tripdata_2024-01.parquet")
    _parquet(green_month(), tmp_path / "green_tripdata_2024-02.parquet")
    (tmp_path / "taxi_zone_lookup.csv").write_text("LocationID,Borough,Zone,service_zone\n")
    (tmp_path / "yellow_tripdata_2024-03.parquet.part").write_bytes(b"PAR1")
    files, notes = bronze.input_files([tmp_path])
    assert [f.name for f in files] == ["green_tripdata_2024-02.parquet",
                                       "yellow_tripdata_2024-01.parquet"]
    assert len(notes) == 1 and "taxi_zone_lookup.csv" in notes[0]
    # a given file is taken as it is (and fails later if it is not a trip file)
    zone = tmp_path / "taxi_zone_lookup.csv"
    assert bronze.input_files([zone]) == ([zone], [])


def test_nothing_to_load_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFileError, match="no such file or folder"):
        bronze.input_files([tmp_path / "missing.parquet"])
    with pytest.raises(UnsupportedFileError, match="no trip files to load"):
        bronze.input_files([tmp_path])


def test_output_stem_strips_every_trip_suffix() -> None:
    assert bronze.output_stem(Path("a/yellow_tripdata_2024-01.parquet")) == (
        "yellow_tripdata_2024-01")
    assert bronze.output_stem(Path("b/x.CSV.GZ")) == "x"
    assert bronze.output_stem(Path("c/y.csv")) == "y"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=400),
       name=st.sampled_from(["yellow_tripdata_2024-01.parquet", "yellow_tripdata_2024-01.csv",
                             "green_x.csv.gz"]))
def test_any_bytes_give_files_or_a_clear_error(tmp_path_factory, content: bytes,
                                               name: str) -> None:
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / name
    path.write_bytes(content)
    try:
        result = bronze.convert_file(path, folder / "out")
    except UnsupportedFileError as exc:
        assert "\n" not in str(exc)
        return
    for month in result.months:  # whatever was accepted has the raw table's schema
        assert pq.read_schema(month.path) == bronze.arrow_schema(result.taxi_type)


HEADER = "tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,fare_amount,PULocationID\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                                                  blacklist_characters=",\n\r\""),
                                      max_size=12), min_size=5, max_size=5),
                     min_size=1, max_size=8))
def test_csv_rows_of_any_text_never_crash_the_conversion(tmp_path_factory,
                                                         rows: list[list[str]]) -> None:
    folder = tmp_path_factory.mktemp("text")
    path = folder / "yellow_tripdata_2024-01.csv"
    path.write_text(HEADER + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    try:
        result = bronze.convert_file(path, folder / "out")
    except UnsupportedFileError as exc:
        assert "\n" not in str(exc)
        return
    written = sum(m.rows for m in result.months)
    assert written + result.skipped_no_pickup == result.rows_read == len(rows)
    for month in result.months:
        table = pq.read_table(month.path)
        assert table.schema == bronze.arrow_schema("yellow")
        assert pa.compute.all(pa.compute.is_valid(table["tpep_pickup_datetime"])).as_py()
