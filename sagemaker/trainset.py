"""Step 2: the training set. Athena CTAS -> Parquet -> validated trips -> features -> splits.

The CTAS (``infra/sql/create_training_set.sql``) unions the raw tables of every taxi type,
cleans and samples them into a new folder of the processed bucket. This module reads it back,
validates it again with the shared contract (:func:`taximl.validation.validate_frame`), computes
the shared features (:func:`taximl.features.features_frame`), splits it by pickup time into
four consecutive parts and writes the CSV channels the built-in XGBoost reads (label first, no
header, empty = missing):

- ``train`` (oldest trips): the model is fitted on them;
- ``validation``: early stopping (the training job's ``validation`` channel);
- ``calibration``: residuals the model never saw in any way, later in time than everything it
  learnt from: the outlier thresholds are calibrated on them (:mod:`taximl.thresholds`);
- ``test`` (newest trips): the evaluation report and the approval gate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from athena_sql import render_sql, run_query
from batch_s3 import put_bytes, s3_uri
from taximl.config import Settings
from taximl.errors import InvalidInputError
from taximl.features import FEATURE_COLUMNS, LABEL, features_frame
from taximl.thresholds import (
    DEFAULT_SCORED_RATE_CODES,
    DOMAIN_DURATION_MIN,
    DOMAIN_MAX_DISTANCE_MILES,
    DOMAIN_MAX_SPEED_MPH,
)
from taximl.validation import validate_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

logger = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "validation", "calibration", "test")
#: Shares of the trips per split, in pickup-time order (train, validation, calibration, test).
DEFAULT_FRACTIONS = (0.75, 0.05, 0.10, 0.10)
MIN_ROWS_PER_SPLIT = 20


@dataclass(frozen=True)
class Part:
    """One split: model features, label, and the validated trips they came from."""

    features: pd.DataFrame
    label: np.ndarray
    trips: pd.DataFrame

    def __len__(self) -> int:
        return len(self.label)


@dataclass(frozen=True)
class TrainingData:
    """Train / validation / calibration / test parts plus what was dropped on the way."""

    train: Part
    validation: Part
    calibration: Part
    test: Part
    rejected: dict[str, int]

    def parts(self) -> dict[str, Part]:
        """The parts by split name, in time order."""
        return {name: getattr(self, name) for name in SPLIT_NAMES}


def run_ctas(
    athena: Any,
    settings: Settings,
    location: str,
    *,
    from_month: str = "000001",
    to_month: str = "999912",
    sample_fraction: float = 1.0,
    timeout_s: float = 900.0,
) -> str:
    """(Re)create the training table as Parquet at ``location`` (an empty S3 folder)."""
    if not 0 < sample_fraction <= 1:
        raise InvalidInputError("sample_fraction must be in (0, 1]")
    output = s3_uri(settings.processed_bucket, "athena-results/")
    params = {
        "database": settings.glue_database,
        "raw_table": settings.raw_table,
        "training_table": settings.training_table,
    }
    run_query(athena, render_sql("drop_training_table", **params), output_location=output,
              database=settings.glue_database, timeout_s=timeout_s)
    sql = render_sql(
        "create_training_set",
        **params,
        location=location,
        from_month=from_month,
        to_month=to_month,
        sample_fraction=repr(float(sample_fraction)),
    )
    return run_query(athena, sql, output_location=output, database=settings.glue_database,
                     timeout_s=timeout_s)


Fractions = tuple[float, float, float, float]


def time_split(trips: pd.DataFrame, fractions: Fractions = DEFAULT_FRACTIONS
               ) -> dict[str, pd.Index]:
    """Row labels of each split by pickup time: the oldest trips train, the newest test.

    ``fractions`` are the shares of train, validation, calibration and test (summing to 1; the
    test share may be 0 when the caller tests on a later month of its own).
    """
    if (len(fractions) != len(SPLIT_NAMES) or abs(sum(fractions) - 1.0) > 1e-9
            or min(fractions[:3]) <= 0 or fractions[3] < 0):
        raise InvalidInputError(
            "split fractions must be four numbers summing to 1 (train, validation, calibration "
            "> 0; test >= 0)"
        )
    order = trips["pickup_datetime"].sort_values(kind="mergesort").index
    n = len(order)
    bounds = [0]
    for share in fractions[:3]:
        bounds.append(bounds[-1] + round(n * share))
    bounds.append(n)
    return {name: order[bounds[i]: bounds[i + 1]] for i, name in enumerate(SPLIT_NAMES)}


def prepare(frame: pd.DataFrame, fractions: Fractions = DEFAULT_FRACTIONS) -> TrainingData:
    """Validate (shared contract), compute shared features, split by time."""
    check = validate_frame(frame)
    valid = check.valid
    rejected = check.reason_counts()
    if rejected:
        logger.info("validation rejected %d rows: %s", len(check.rejected), rejected)
    splits = time_split(valid, fractions)
    small = {name: len(index) for name, index in splits.items() if len(index) < MIN_ROWS_PER_SPLIT}
    if small:
        raise InvalidInputError(
            f"too few valid trips to train ({len(valid)} valid; split sizes {small}): "
            "upload more data or widen the month range"
        )
    features = features_frame(valid)
    label = valid[LABEL].to_numpy(dtype="float64")
    parts = {
        name: Part(
            features=features.loc[index].reset_index(drop=True),
            label=label[valid.index.get_indexer(index)],
            trips=valid.loc[index].reset_index(drop=True),
        )
        for name, index in splits.items()
    }
    return TrainingData(**parts, rejected=rejected)


def channel_csv(part: Part) -> bytes:
    """The built-in XGBoost CSV: label first, then FEATURE_COLUMNS; no header; empty = missing."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    columns = [pa.array(part.label, type=pa.float64(), from_pandas=True)] + [
        pa.array(part.features[name].to_numpy(dtype="float64"), from_pandas=True)
        for name in FEATURE_COLUMNS
    ]
    table = pa.Table.from_arrays(columns, names=[LABEL, *FEATURE_COLUMNS])
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()


def write_channels(s3: Any, base_uri: str, data: TrainingData) -> dict[str, str]:
    """Write ``<base>/<split>/<split>.csv`` for every split; returns the folder URI of each."""
    uris = {}
    for name, part in data.parts().items():
        folder = f"{base_uri.rstrip('/')}/{name}/"
        put_bytes(s3, f"{folder}{name}.csv", channel_csv(part), "text/csv")
        uris[name] = folder
    return uris


def part_of(trips: pd.DataFrame) -> Part:
    """A Part from trips already split (e.g. the pipeline's Parquet outputs), re-validated."""
    valid = validate_frame(trips).valid
    return Part(features=features_frame(valid), label=valid[LABEL].to_numpy(dtype="float64"),
                trips=valid)


def plausible_mask(valid: pd.DataFrame) -> pd.Series:
    """The WHERE clause of ``create_training_set.sql`` on validated trips (pandas twin).

    For local runs that skip Athena (the benchmark, the real-data test); the end-to-end test
    checks that both keep the same trips of the bundled sample.
    """
    import numpy as np

    seconds = (valid["dropoff_datetime"] - valid["pickup_datetime"]).dt.total_seconds()
    distance, fare = valid["trip_distance"], valid["fare_amount"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mph = distance * 3600.0 / seconds
    low_min, high_min = DOMAIN_DURATION_MIN
    mask = (
        (fare > 0) & (fare < 500) & (distance > 0) & (distance < DOMAIN_MAX_DISTANCE_MILES)
        & (fare >= 2.5)
        & valid["rate_code_id"].isin(list(DEFAULT_SCORED_RATE_CODES))
        & valid["pu_location_id"].between(1, 265) & valid["do_location_id"].between(1, 265)
        & seconds.between(low_min * 60, high_min * 60)
        & (mph <= DOMAIN_MAX_SPEED_MPH)
    )
    return mask.fillna(False).astype(bool)
