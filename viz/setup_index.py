"""Install the index template of the scored trips (run once, before the first documents).

Usage: ``python viz/setup_index.py`` (uses ``OPENSEARCH_ENDPOINT`` and ``OPENSEARCH_INDEX``).
Firehose writes daily indices ``<index>-YYYY-MM-DD``; the template gives them the right types
(dates, keywords for ids and rules, booleans for ``is_outlier``) instead of guessed ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for extra in (REPO, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from search_client import search_client  # noqa: E402
from taximl.config import Settings  # noqa: E402

TEMPLATE_FILE = HERE / "index-template.json"


def template_body(index: str) -> dict:
    return json.loads(TEMPLATE_FILE.read_text().replace("${OPENSEARCH_INDEX}", index))


def apply_template(settings: Settings) -> str:
    """Put the index template; returns its name."""
    if not settings.opensearch_endpoint:
        raise KeyError("OPENSEARCH_ENDPOINT is not set")
    client = search_client(settings.opensearch_endpoint, settings.region)
    name = f"{settings.opensearch_index}-scored-trips"
    client.indices.put_index_template(name=name, body=template_body(settings.opensearch_index))
    return name


def main() -> int:
    settings = Settings.from_env()
    try:
        name = apply_template(settings)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"Index template {name} installed on {settings.opensearch_endpoint} for "
          f"{settings.opensearch_index}-* (daily indices written by Firehose).")
    print("Next: python viz/live_stats.py  (live counts, outliers, residuals)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
