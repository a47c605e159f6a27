"""Live view of the scored trips in OpenSearch, in the terminal.

Usage::

    python viz/live_stats.py            # refresh every 5 s, Ctrl-C to stop
    python viz/live_stats.py --once     # print once

Shows: documents and outliers, trips per minute (last 10 min, by arrival in Kinesis), outliers
and mean signed residual (actual - predicted: a bias check) per model version, the zones with
most outliers, the latest outliers (with the threshold rule that flagged them). The same queries
work against an Amazon OpenSearch Service domain (SigV4). The graphical version of all this is
the dashboard (``python viz/dashboard.py``; on AWS ``python viz/import_dashboards.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from panels import zones  # noqa: E402
from search_client import search_client  # noqa: E402
from taximl.config import Settings  # noqa: E402

QUERY: dict[str, Any] = {
    "size": 0,
    "track_total_hits": True,
    "aggs": {
        "outliers": {"filter": {"term": {"is_outlier": True}}},
        "per_minute": {
            "filter": {"range": {"event_time": {"gte": "now-10m"}}},
            "aggs": {"minutes": {"date_histogram": {"field": "event_time",
                                                     "fixed_interval": "1m"}}},
        },
        "versions": {
            "terms": {"field": "model_version", "size": 10},
            "aggs": {
                "outliers": {"filter": {"term": {"is_outlier": True}}},
                "mean_residual": {"avg": {"field": "residual"}},
            },
        },
        "zones": {
            "filter": {"term": {"is_outlier": True}},
            "aggs": {"top": {"terms": {"field": "pu_location_id", "size": 5}}},
        },
    },
}
LATEST = {"size": 5, "query": {"term": {"is_outlier": True}},
          "sort": [{"event_time": {"order": "desc"}}],
          "_source": ["trip_id", "pickup_datetime", "pu_location_id", "do_location_id",
                      "trip_distance", "fare_amount", "predicted_fare", "threshold_rule"]}


def render(result: dict[str, Any], latest: dict[str, Any], index: str) -> str:
    aggs = result["aggregations"]
    total = result["hits"]["total"]["value"]
    outliers = aggs["outliers"]["doc_count"]
    lines = [f"{time.strftime('%H:%M:%S')}  index {index}-*: {total:,} scored trips, "
             f"{outliers:,} outliers ({outliers / max(1, total):.2%})"]
    minutes = aggs["per_minute"]["minutes"]["buckets"]
    if minutes:
        lines.append("  trips/min (arrival): " + "  ".join(
            f"{b['key_as_string'][11:16]}={b['doc_count']}" for b in minutes[-6:]))
    lines.append("  model version   trips    outliers  mean residual"
                 "   (residual = actual - predicted)")
    for bucket in aggs["versions"]["buckets"]:
        lines.append(f"  {bucket['key']:<14} {bucket['doc_count']:>7,}  "
                     f"{bucket['outliers']['doc_count']:>8,}  "
                     f"{(bucket['mean_residual']['value'] or 0):>13.2f}")
    names = {z["LocationID"]: z["Zone"] for z in zones()}
    top = ", ".join(f"{names.get(b['key'], b['key'])}: {b['doc_count']}"
                    for b in aggs["zones"]["top"]["buckets"])
    lines.append(f"  pickup zones with most outliers: {top or '-'}")
    for hit in latest["hits"]["hits"]:
        s = hit["_source"]
        lines.append(f"  outlier {s['trip_id']}  {s['pickup_datetime']}  "
                     f"{s['pu_location_id']}->{s['do_location_id']}  {s['trip_distance']} mi  "
                     f"fare ${s['fare_amount']} vs predicted ${s['predicted_fare']:.2f}  "
                     f"({s['threshold_rule']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Live statistics of the scored trips.")
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between refreshes")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not settings.opensearch_endpoint:
        print("error: set OPENSEARCH_ENDPOINT (locally: source .local-stack/env.sh)",
              file=sys.stderr)
        return 1
    client = search_client(settings.opensearch_endpoint, settings.region)
    index = settings.opensearch_index
    try:
        while True:
            try:
                result = client.search(index=f"{index}-*", body=QUERY)
                latest = client.search(index=f"{index}-*", body=LATEST)
                print(render(result, latest, index), flush=True)
            except Exception as exc:  # no index yet, or the domain is not reachable
                print(f"no scored trips yet in {index}-* ({type(exc).__name__}: {exc})")
            if args.once:
                return 0
            time.sleep(args.every)
            print()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
