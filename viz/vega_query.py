"""Resolve the ``data.url`` objects of a Vega spec exactly as OpenSearch Dashboards does.

Mirrors ``OpenSearchQueryParser`` of the ``vis_type_vega`` plugin: ``%context%`` and
``%timefield%`` (dashboard query plus a time range filter), ``%timefilter%`` (``true``: a range
object; ``"min"``/``"max"``: a bound, with ``shift``/``unit``), ``interval:
{"%autointerval%": true|n}`` (bounds / n, rounded like Dashboards), the
``%dashboard_context-*_clause%`` strings in query arrays. The request is sent like the
Dashboards search strategy sends it (``track_total_hits``, ``ignore_unavailable``) and
``hits.total`` is flattened to a number (its ``shimHitsTotal``). The resolved data object keeps
``format`` and gets the raw response as ``values``, which is what Vega then reads.

The local dashboard has no query bar or filters: the dashboard context is the empty query
Dashboards builds then, ``{"bool": {"must": [], "filter": [], "should": [], "must_not": []}}``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TIMEFILTER = "%timefilter%"
AUTOINTERVAL = "%autointerval%"
CONTEXT = "%context%"
TIMEFIELD = "%timefield%"
LEGACY_CONTEXT = "%context_query%"
CLAUSES = {"%dashboard_context-must_clause%": "must",
           "%dashboard_context-must_not_clause%": "must_not",
           "%dashboard_context-filter_clause%": "filter"}
UNITS_MS = {"w": 604_800_000, "week": 604_800_000, "d": 86_400_000, "day": 86_400_000,
            "h": 3_600_000, "hour": 3_600_000, "m": 60_000, "minute": 60_000,
            "s": 1000, "second": 1000}
#: (upper bound in ms, interval) of Dashboards' _roundInterval
ROUNDING = ((500, "100ms"), (5000, "1s"), (7500, "5s"), (15000, "10s"), (45000, "30s"),
            (180000, "1m"), (450000, "5m"), (1200000, "10m"), (2700000, "30m"),
            (7200000, "1h"), (21600000, "3h"), (86400000, "12h"), (604800000, "24h"),
            (1814400000, "1w"))

Search = Callable[[str, dict[str, Any]], dict[str, Any]]


class VegaQueryError(ValueError):
    """When a spec's data url is not something Dashboards would accept (same messages)."""


@dataclass(frozen=True)
class TimeRange:
    """The time picker's bounds, epoch milliseconds."""

    min_ms: int
    max_ms: int


def empty_context() -> dict[str, Any]:
    return {"bool": {"must": [], "filter": [], "should": [], "must_not": []}}


def round_interval(interval_ms: float) -> str:
    for bound, name in ROUNDING:
        if interval_ms <= bound:
            return name
    return "30d" if interval_ms < 3_628_800_000 else "1y"


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(ms) % 1000:03d}Z"


class QueryParser:
    """One resolution pass (one time range, one dashboard context)."""

    def __init__(self, time_range: TimeRange, context: dict[str, Any] | None = None) -> None:
        self.time_range = time_range
        self.context = context or empty_context()

    def bound(self, opts: dict[str, Any], which: str) -> int:
        result = self.time_range.min_ms if which == "min" else self.time_range.max_ms
        shift = opts.get("shift")
        if shift:
            if not isinstance(shift, int | float) or isinstance(shift, bool):
                raise VegaQueryError('"shift" must be a numeric value')
            unit = opts.get("unit") or "d"
            if unit not in UNITS_MS:
                raise VegaQueryError('Unknown "unit" value. Must be one of: '
                                     '["week", "day", "hour", "minute", "second"]')
            result += int(shift * UNITS_MS[unit])
        return result

    def range_filter(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["gte"] = _iso(self.bound(obj, "min"))
        obj["lte"] = _iso(self.bound(obj, "max"))
        obj["format"] = "strict_date_optional_time"
        for key in (TIMEFILTER, "shift", "unit"):
            obj.pop(key, None)
        return obj

    def parse_url(self, url: dict[str, Any]) -> dict[str, Any]:
        """The search request (``index``, ``body``) for one ``data.url`` object, in place."""
        body = url.get("body")
        if body is None:
            url["body"] = body = {}
        elif not isinstance(body, dict):
            raise VegaQueryError("url.body must be an object")
        context = url.pop(CONTEXT, None)
        timefield = url.pop(TIMEFIELD, None)
        if url.pop(LEGACY_CONTEXT, None) is not None:
            raise VegaQueryError(f'"{LEGACY_CONTEXT}" is legacy: use "{CONTEXT}": true and '
                                 f'"{TIMEFIELD}"')
        uses_context = context is not None or timefield is not None
        if "query" in body:
            if uses_context:
                raise VegaQueryError(f"url.{CONTEXT} and url.{TIMEFIELD} must not be used when "
                                     "url.body.query is set")
            self.inject(body["query"], True)
        elif uses_context:
            if timefield:
                body["query"] = {"range": {timefield: self.range_filter({TIMEFILTER: True})}}
            if context:
                query = copy.deepcopy(self.context)
                if timefield:
                    query["bool"]["must"].append(body["query"])
                body["query"] = query
        self.inject(body.get("aggs"), False)
        return url

    def inject(self, obj: Any, is_query: bool) -> None:
        """Replace the magic keywords below ``obj`` (Dashboards' ``_injectContextVars``)."""
        if isinstance(obj, list):
            pos = 0
            while pos < len(obj):
                item = obj[pos]
                if is_query and isinstance(item, str) and item in CLAUSES:
                    clause = self.context.get("bool", {}).get(CLAUSES[item])
                    if isinstance(clause, list):
                        obj[pos:pos + 1] = copy.deepcopy(clause)
                        pos += len(clause)
                    elif clause:
                        obj[pos] = copy.deepcopy(clause)
                        pos += 1
                    else:
                        del obj[pos]
                else:
                    self.inject(item, is_query)
                    pos += 1
            return
        if not isinstance(obj, dict):
            return
        for prop in list(obj):
            sub = obj[prop]
            if not sub or not isinstance(sub, dict):
                if isinstance(sub, list):
                    self.inject(sub, is_query)
                continue
            if prop == "interval" and sub.get(AUTOINTERVAL):
                size = sub[AUTOINTERVAL]
                if size is True:
                    size = 50
                elif not isinstance(size, int | float) or isinstance(size, bool):
                    raise VegaQueryError(f'"{AUTOINTERVAL}" must be either true or a number')
                span = self.time_range.max_ms - self.time_range.min_ms
                obj["interval"] = round_interval(span / size)
                continue
            marker = sub.get(TIMEFILTER)
            if marker in ("min", "max"):
                obj[prop] = self.bound(sub, marker)
            elif marker is True:
                self.range_filter(sub)
            elif marker is None:
                self.inject(sub, is_query)
            else:
                raise VegaQueryError(f'"{TIMEFILTER}" property must be set to true, "min", '
                                     'or "max"')


def _data_objects(node: Any) -> list[dict[str, Any]]:
    """Every ``data`` object whose ``url`` is an object (a query), anywhere in the spec."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            candidates = value if key == "data" and isinstance(value, list) else [value]
            for candidate in candidates:
                if key == "data" and isinstance(candidate, dict) \
                        and isinstance(candidate.get("url"), dict):
                    found.append(candidate)
                else:
                    found += _data_objects(candidate)
    elif isinstance(node, list):
        for value in node:
            found += _data_objects(value)
    return found


def shim_hits_total(response: dict[str, Any]) -> dict[str, Any]:
    """``hits.total`` as a number, as the Dashboards search strategy returns it."""
    hits = response.get("hits")
    if isinstance(hits, dict) and isinstance(hits.get("total"), dict):
        response = {**response, "hits": {**hits, "total": hits["total"].get("value")}}
    return response


def search_params() -> dict[str, str]:
    """The query-string parameters the Dashboards search strategy adds to every search."""
    return {"track_total_hits": "true", "ignore_unavailable": "true"}


def resolve(spec: dict[str, Any], time_range: TimeRange, search: Search,
            context: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``spec`` whose query data objects hold their search responses as ``values``."""
    resolved = copy.deepcopy(spec)
    parser = QueryParser(time_range, context)
    for data in _data_objects(resolved):
        url = data.pop("url")
        if url.get("%type%", "opensearch") not in ("opensearch", "elasticsearch"):
            raise VegaQueryError(f"data url type {url['%type%']!r} is not supported locally")
        url.pop("%type%", None)
        request = parser.parse_url(url)
        index = request.get("index")
        if not index:
            raise VegaQueryError("Index is not specified in url.index")
        data["values"] = shim_hits_total(search(index, request["body"]))
    return resolved
