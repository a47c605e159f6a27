"""The data-url resolver does what OpenSearch Dashboards' query parser does."""

from __future__ import annotations

import pytest

from vega_query import (
    QueryParser,
    TimeRange,
    VegaQueryError,
    resolve,
    round_interval,
    search_params,
    shim_hits_total,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FIFTEEN_MIN = TimeRange(T0, T0 + 15 * 60_000)


def test_context_and_timefield_build_the_dashboard_query() -> None:
    url = {"%context%": True, "%timefield%": "event_time", "index": "trips-*",
           "body": {"size": 0, "aggs": {"n": {"filter": {"match_all": {}}}}}}
    QueryParser(FIFTEEN_MIN).parse_url(url)
    assert url == {"index": "trips-*", "body": {
        "size": 0, "aggs": {"n": {"filter": {"match_all": {}}}},
        "query": {"bool": {"must": [{"range": {"event_time": {
            "gte": "2026-01-01T00:00:00.000Z", "lte": "2026-01-01T00:15:00.000Z",
            "format": "strict_date_optional_time"}}}],
            "filter": [], "should": [], "must_not": []}}}}


def test_autointerval_and_timefilter_bounds_in_aggregations() -> None:
    aggs = {"t": {"date_histogram": {
        "field": "event_time", "interval": {"%autointerval%": True},
        "extended_bounds": {"min": {"%timefilter%": "min"},
                            "max": {"%timefilter%": "max", "shift": -1, "unit": "hour"}}}}}
    url = {"index": "i", "%context%": True, "body": {"aggs": aggs}}
    QueryParser(FIFTEEN_MIN).parse_url(url)
    histogram = url["body"]["aggs"]["t"]["date_histogram"]
    assert histogram["interval"] == "30s"  # 15 min / 50 = 18 s, rounded as Dashboards rounds
    assert histogram["extended_bounds"] == {"min": T0, "max": T0 + 15 * 60_000 - 3_600_000}
    assert url["body"]["query"] == {"bool": {"must": [], "filter": [], "should": [],
                                             "must_not": []}}


@pytest.mark.parametrize(("span_ms", "expected"), [
    (15 * 60_000, "30s"), (3_600_000, "1m"), (86_400_000, "30m"), (7 * 86_400_000, "3h"),
    (400, "100ms"), (10 * 365 * 86_400_000, "1y")])
def test_interval_rounding(span_ms: int, expected: str) -> None:
    assert round_interval(span_ms / 50) == expected


def test_explicit_query_gets_context_clauses_and_time_range() -> None:
    query = {"bool": {"must": ["%dashboard_context-must_clause%", {"term": {"a": 1}},
                               {"range": {"ts": {"%timefilter%": True}}}],
                      "must_not": ["%dashboard_context-must_not_clause%"],
                      "filter": ["%dashboard_context-filter_clause%"]}}
    context = {"bool": {"must": [{"match": {"b": 2}}], "filter": [], "should": [],
                        "must_not": [{"term": {"c": 3}}]}}
    url = {"index": "i", "body": {"query": query}}
    QueryParser(FIFTEEN_MIN, context).parse_url(url)
    assert url["body"]["query"] == {"bool": {
        "must": [{"match": {"b": 2}}, {"term": {"a": 1}}, {"range": {"ts": {
            "gte": "2026-01-01T00:00:00.000Z", "lte": "2026-01-01T00:15:00.000Z",
            "format": "strict_date_optional_time"}}}],
        "must_not": [{"term": {"c": 3}}], "filter": []}}


@pytest.mark.parametrize(("url", "message"), [
    ({"index": "i", "%context%": True, "body": {"query": {"match_all": {}}}}, "must not be used"),
    ({"index": "i", "body": []}, "must be an object"),
    ({"index": "i", "body": {"aggs": {"a": {"x": {"%timefilter%": "later"}}}}}, "must be set"),
    ({"index": "i", "body": {"aggs": {"a": {"interval": {"%autointerval%": "x"}}}}},
     "either true or a number"),
])
def test_invalid_urls_are_refused_like_dashboards(url: dict, message: str) -> None:
    with pytest.raises(VegaQueryError, match=message):
        QueryParser(FIFTEEN_MIN).parse_url(url)


def test_resolve_puts_the_shimmed_response_in_values_and_keeps_the_format() -> None:
    calls = []

    def search(index: str, body: dict) -> dict:
        calls.append((index, body))
        return {"hits": {"total": {"value": 7, "relation": "eq"}, "hits": []},
                "aggregations": {"n": {"doc_count": 7}}}

    spec = {"layer": [{"data": {"url": {"index": "a-*", "%context%": True, "body": {}},
                                "format": {"property": "aggregations"}}, "mark": "bar"}],
            "datasets": {"zones": [{"LocationID": 1}]}}
    resolved = resolve(spec, FIFTEEN_MIN, search)
    assert resolved["layer"][0]["data"] == {
        "format": {"property": "aggregations"},
        "values": {"hits": {"total": 7, "hits": []}, "aggregations": {"n": {"doc_count": 7}}}}
    assert "url" in spec["layer"][0]["data"], "the original spec is not modified"
    assert [index for index, _ in calls] == ["a-*"]
    assert search_params() == {"track_total_hits": "true", "ignore_unavailable": "true"}
    assert shim_hits_total({"hits": {"total": 3}}) == {"hits": {"total": 3}}
