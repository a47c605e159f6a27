"""Import the dashboard into OpenSearch Dashboards (Amazon OpenSearch Service), step 7.

Usage::

    python viz/import_dashboards.py                       # $OPENSEARCH_ENDPOINT/_dashboards
    python viz/import_dashboards.py --dashboards-url https://search-xyz.us-east-1.es.amazonaws.com/_dashboards
    python viz/import_dashboards.py --out build/viz/dashboards.ndjson --no-import   # file only

Generates the saved objects (index patterns, one Vega visualization per panel of
``viz/panels/``, the dashboard) for the configured index names and posts them to the
saved-objects import API (``POST /api/saved_objects/_import?overwrite=true``), signed with SigV4
(requests-aws4auth, service ``es``) with the credentials of the environment. Re-running
overwrites the same objects. The generated file can also be imported by hand in Dashboards
(Management > Saved objects > Import). ``viz/dashboards.ndjson`` is that file for the default
names.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for extra in (REPO, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from saved_objects import DASHBOARD_ID, saved_objects, to_ndjson  # noqa: E402

DEFAULT_FILE = HERE / "dashboards.ndjson"
IMPORT_PATH = "/api/saved_objects/_import?overwrite=true"


def sigv4_auth(region: str) -> Any:
    """requests-aws4auth signer for Amazon OpenSearch Service (service ``es``)."""
    import boto3
    from requests_aws4auth import AWS4Auth

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise KeyError("no AWS credentials found (aws configure, or a profile)")
    frozen = credentials.get_frozen_credentials()
    return AWS4Auth(frozen.access_key, frozen.secret_key, region, "es",
                    session_token=frozen.token)


def import_ndjson(dashboards_url: str, ndjson: str, auth: Any = None,
                  timeout: float = 60.0) -> dict[str, Any]:
    """POST the file to the import API; returns its JSON answer (raises on HTTP errors)."""
    import requests

    response = requests.post(
        dashboards_url.rstrip("/") + IMPORT_PATH,
        files={"file": ("dashboards.ndjson", ndjson.encode("utf-8"), "application/ndjson")},
        headers={"osd-xsrf": "true"}, auth=auth, timeout=timeout)
    if response.status_code >= 400:
        raise RuntimeError(f"import failed: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def default_dashboards_url(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    endpoint = endpoint if "://" in endpoint else f"https://{endpoint}"
    return endpoint.rstrip("/") + "/_dashboards"


def main(argv: list[str] | None = None) -> int:
    from taximl.config import Settings

    parser = argparse.ArgumentParser(description="Import the dashboard into OpenSearch "
                                                 "Dashboards (saved objects, SigV4).")
    parser.add_argument("--dashboards-url", default=os.environ.get("DASHBOARDS_URL"),
                        help="default: $DASHBOARDS_URL or $OPENSEARCH_ENDPOINT/_dashboards")
    parser.add_argument("--out", type=Path, help="also write the NDJSON here")
    parser.add_argument("--no-import", action="store_true", help="only write --out")
    parser.add_argument("--sigv4", choices=["auto", "yes", "no"], default="auto",
                        help="sign with SigV4 (auto: for https URLs)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    objects = saved_objects(settings)
    ndjson = to_ndjson(objects)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(ndjson, encoding="utf-8")
        print(f"wrote {len(objects)} saved objects to {args.out}")
    if args.no_import:
        if not args.out:
            parser.error("--no-import needs --out")
        return 0
    url = args.dashboards_url or default_dashboards_url(settings.opensearch_endpoint)
    if not url:
        print("error: set OPENSEARCH_ENDPOINT (your domain's https endpoint) or "
              "--dashboards-url", file=sys.stderr)
        return 1
    sign = args.sigv4 == "yes" or (args.sigv4 == "auto" and url.startswith("https://"))
    try:
        result = import_ndjson(url, ndjson, sigv4_auth(settings.region) if sign else None)
    except (KeyError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if "127.0.0.1" in url or "localhost" in url:
            print("(the local stack has no OpenSearch Dashboards: open $DASHBOARD_URL, or run "
                  "python viz/dashboard.py)", file=sys.stderr)
        return 1
    if not result.get("success"):
        for error in result.get("errors", []):
            print(f"error: {error.get('type')} {error.get('id')}: {error.get('error')}",
                  file=sys.stderr)
        return 1
    print(f"imported {result.get('successCount', 0)} saved objects into {url}")
    print(f"open {url.rstrip('/')}/app/dashboards#/view/{DASHBOARD_ID}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
