"""``python viz/athena_report.py`` on the local stack: named queries, distinct trips, charts."""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from datetime import UTC, datetime

import boto3
import pytest

import athena_report
from viz_data import scored_record

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def gold(local_stack):
    """Gold objects as Firehose writes them, with one batch delivered twice (a retry)."""
    from taximl.config import Settings

    settings = Settings.namespaced("athena-viz")
    boto3.client("s3").create_bucket(Bucket=settings.gold_bucket)
    boto3.client("glue").create_database(DatabaseInput={"Name": settings.glue_database})
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    rng = random.Random(3)
    records = [scored_record(i, now, rng, "mv-1" if i % 4 else "mv-2") for i in range(120)]
    s3 = boto3.client("s3")
    prefix = "scored/year=2026/month=03/day=04/hour=11/"
    for part, chunk in enumerate((records[:80], records[80:], records[60:80])):  # 60-79 twice
        body = "".join(json.dumps(r) + "\n" for r in chunk).encode()
        s3.put_object(Bucket=settings.gold_bucket, Key=f"{prefix}part-{part}.gz",
                      Body=gzip.compress(body))
    return settings, records


def test_report_counts_each_trip_once_and_draws_the_charts(gold, tmp_path) -> None:
    settings, records = gold
    written = athena_report.report(settings, tmp_path)
    # outliers per (hour, zone), computed here from the distinct trips
    expected: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        cell = expected[(int(r["pickup_datetime"][11:13]), r["pu_location_id"])]
        cell[0] += 1
        cell[1] += int(r["is_outlier"])
    rows = written["outliers_by_hour_and_zone"]["rows"]
    got = {(r["pickup_hour"], r["pu_location_id"]): [r["trips"], r["outliers"]] for r in rows}
    assert got == {k: v for k, v in expected.items() if v[1] > 0}
    assert all(r["pickup_zone"].endswith(")") for r in rows)
    errors = written["model_error_by_day_and_version"]["rows"]
    by_version = {r["model_version"]: r for r in errors}
    assert {r["day"] for r in errors} == {"2026-03-04"}
    for version in ("mv-1", "mv-2"):
        mine = [r for r in records if r["model_version"] == version]
        assert by_version[version]["trips"] == len(mine)
        mae = sum(abs(r["residual"]) for r in mine) / len(mine)
        assert by_version[version]["mae"] == pytest.approx(mae, abs=1e-3)
    for result in written.values():
        assert result["png"].stat().st_size > 10_000
        assert result["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert result["csv"].read_text().count("\n") == len(result["rows"]) + 1


def test_named_queries_are_created_once(gold) -> None:
    settings, _ = gold
    athena = boto3.client("athena")
    first = athena_report.ensure_named_queries(athena, settings.glue_database)
    again = athena_report.ensure_named_queries(athena, settings.glue_database)
    assert first == again and set(first) == {"outliers_by_hour_and_zone",
                                              "model_error_by_day_and_version"}
    stored = athena.get_named_query(NamedQueryId=first["outliers_by_hour_and_zone"])
    assert stored["NamedQuery"]["Database"] == settings.glue_database
    assert "row_number() OVER (PARTITION BY trip_id" in stored["NamedQuery"]["QueryString"]
