"""Install what the two index families need (run once, before the first documents).

Usage: ``python viz/setup_index.py`` (uses ``OPENSEARCH_ENDPOINT``, ``OPENSEARCH_INDEX`` and
``PROJECT_PREFIX``). For the scored trips (``<OPENSEARCH_INDEX>-*``) and the quarantined records
(``<PROJECT_PREFIX>-quarantine-*``) it puts, in this order:

1. the ingest pipeline that sets the document ``_id`` (``trip_id``; the Kinesis sequence number
   for quarantined records), so a retried Firehose batch overwrites instead of duplicating;
2. the composable index template: explicit mapping of the fields that are searched or
   aggregated, ``index.default_pipeline`` = that pipeline;
3. ``index.default_pipeline`` on indices that already exist (created before this version).

The same calls work on Amazon OpenSearch Service (SigV4) and on the local stack.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for extra in (REPO, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from indices import IndexFamily, families  # noqa: E402
from search_client import search_client  # noqa: E402
from taximl.config import Settings  # noqa: E402


def install(client: Any, family: IndexFamily) -> None:
    """Pipeline, then template, then the setting on existing indices of ``family``."""
    from opensearchpy.exceptions import NotFoundError

    client.ingest.put_pipeline(id=family.pipeline_name, body=family.pipeline())
    client.indices.put_index_template(name=family.template_name, body=family.template())
    with contextlib.suppress(NotFoundError):  # no index of the family yet
        client.indices.put_settings(
            index=family.pattern, body={"index": {"default_pipeline": family.pipeline_name}},
            params={"allow_no_indices": "true", "expand_wildcards": "open"})


def apply_template(settings: Settings) -> str:
    """Install pipelines and templates of both families; returns the trips template's name."""
    if not settings.opensearch_endpoint:
        raise KeyError("OPENSEARCH_ENDPOINT is not set")
    client = search_client(settings.opensearch_endpoint, settings.region)
    installed = families(settings)
    for family in installed:
        install(client, family)
    return installed[0].template_name


def main() -> int:
    settings = Settings.from_env()
    try:
        apply_template(settings)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    for family in families(settings):
        print(f"{family.pattern}: ingest pipeline {family.pipeline_name} (sets _id) and index "
              f"template {family.template_name} installed on {settings.opensearch_endpoint}")
    print("Next: python viz/dashboard.py (local page) or python viz/import_dashboards.py (AWS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
