"""An opensearch-py client for the search endpoint: plain HTTP locally, SigV4 on AWS."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse


def search_client(endpoint: str, region: str) -> Any:
    """Client for ``endpoint`` (``http://127.0.0.1:4572`` or ``https://search-...amazonaws.com``)."""
    from opensearchpy import OpenSearch, RequestsHttpConnection

    url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    secure = url.scheme == "https"
    auth = None
    if secure:
        import boto3
        from requests_aws4auth import AWS4Auth

        creds = boto3.Session().get_credentials().get_frozen_credentials()
        auth = AWS4Auth(creds.access_key, creds.secret_key, region, "es",
                        session_token=creds.token)
    return OpenSearch(
        hosts=[{"host": url.hostname, "port": url.port or (443 if secure else 80)}],
        http_auth=auth, use_ssl=secure, verify_certs=secure,
        connection_class=RequestsHttpConnection, timeout=30,
    )
