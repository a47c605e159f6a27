"""Unit tests of the Firehose prefix rules (local/firehose/prefixes.py): no stack needed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from local.firehose.errors import InvalidArgumentError
from local.firehose.prefixes import (
    format_java_time,
    object_suffix,
    random_string,
    render_error_prefix,
    render_prefix,
    validate_prefixes,
)

MOMENT = datetime(2024, 3, 7, 9, 5, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy", "2024"),
        ("yy", "24"),
        ("MM", "03"),
        ("M", "3"),
        ("MMM", "Mar"),
        ("dd", "07"),
        ("HH", "09"),
        ("mm", "05"),
        ("ss", "42"),
        ("DDD", "067"),
        ("yyyy-MM-dd'T'HH", "2024-03-07T09"),
        ("'year='yyyy'/month='MM", "year=2024/month=03"),
        ("yyyy/MM/dd/HH/", "2024/03/07/09/"),
        ("''yyyy", "'2024"),
    ],
)
def test_java_time_patterns(pattern: str, expected: str) -> None:
    assert format_java_time(pattern, MOMENT) == expected


def test_default_prefix_is_hourly_utc_path() -> None:
    assert render_prefix(None, MOMENT) == "2024/03/07/09/"
    assert render_prefix("", MOMENT) == "2024/03/07/09/"


def test_static_prefix_gets_time_path_appended_without_extra_slash() -> None:
    assert render_prefix("gold/", MOMENT) == "gold/2024/03/07/09/"
    assert render_prefix("gold", MOMENT) == "gold2024/03/07/09/"


def test_expression_prefix_is_used_as_is() -> None:
    prefix = "gold/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    assert render_prefix(prefix, MOMENT) == "gold/year=2024/month=03/day=07/"
    assert render_prefix("x/!{timestamp:yyyy}", MOMENT) == "x/2024"


def test_random_string_prefix_gets_default_time_path() -> None:
    rendered = render_prefix("r/!{firehose:random-string}/", MOMENT)
    assert re.fullmatch(r"r/[A-Za-z0-9]{11}/2024/03/07/09/", rendered)


def test_random_string_differs_per_occurrence() -> None:
    assert len({random_string() for _ in range(20)}) == 20


def test_error_prefix_expression_and_default() -> None:
    rendered = render_error_prefix(
        "gold/!{timestamp:yyyy}/", "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/",
        MOMENT, "AmazonOpenSearchService-failed",
    )
    assert rendered == "errors/AmazonOpenSearchService-failed/2024/"
    assert (
        render_error_prefix("backup/", None, MOMENT, "AmazonOpenSearchService-failed")
        == "backup/AmazonOpenSearchService-failed/2024/03/07/09/"
    )


@pytest.mark.parametrize(
    ("prefix", "error_prefix"),
    [
        ("gold/!{timestamp:yyyy}/", None),  # expressions need an ErrorOutputPrefix
        ("gold/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}"),
        ("gold/", "e/!{timestamp:yyyy}/"),  # error prefix expressions need error-output-type
        ("gold/!{unknown:x}/", "e/!{firehose:error-output-type}"),
        ("gold/!{firehose:other}/", "e/!{firehose:error-output-type}"),
        ("gold/!{timestamp:yyyy", "e/!{firehose:error-output-type}"),  # unterminated
        ("gold/!{timestamp:qqq}/", "e/!{firehose:error-output-type}"),  # unsupported letter
    ],
)
def test_invalid_prefix_combinations_are_rejected(prefix: str, error_prefix: str | None) -> None:
    with pytest.raises(InvalidArgumentError):
        validate_prefixes(prefix, error_prefix)


def test_valid_prefix_combinations_pass() -> None:
    validate_prefixes(None, None)
    validate_prefixes("gold/", None)
    validate_prefixes("gold/!{timestamp:yyyy}/", "err/!{firehose:error-output-type}/")
    validate_prefixes("gold/", "err/")


def test_object_suffix_follows_aws_naming() -> None:
    suffix = object_suffix("taxi-gold", "1", MOMENT, ".gz")
    assert re.fullmatch(
        r"taxi-gold-1-2024-03-07-09-05-42-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
        r"[0-9a-f]{12}\.gz",
        suffix,
    )
