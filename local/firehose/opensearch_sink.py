"""Bulk-index a flushed batch into OpenSearch; report failed documents to S3 as AWS does.

Endpoint mapping: the stream's ``DomainARN``/``ClusterEndpoint`` name an AWS domain; locally every
delivery goes to ``OPENSEARCH_ENDPOINT`` (the stack's OpenSearch stand-in). Only when that variable
is unset is ``ClusterEndpoint`` used (SigV4-signed when it is an ``amazonaws.com`` host).

Per record: the index is ``IndexName`` plus the rotation suffix of its arrival time (UTC);
the ``_id`` is the Firehose record id (``FIREHOSE_DEFAULT``) or none (``NO_DOCUMENT_ID``,
OpenSearch assigns one), as on AWS; an ingest pipeline of the index may replace it (the
project's sets ``_id`` = ``trip_id``). The action is ``index``, so a replay with the same ids
overwrites. Failed documents are retried for ``RetryOptions.DurationInSeconds`` and
then written to S3 under the error prefix (``AmazonOpenSearchService-failed``) as JSON lines with
attemptsMade, arrivalTimestamp, errorCode, errorMessage, attemptEndingTimestamp, rawData
(base64), subsequenceNumber, esDocumentId, esTypeName and esIndexName.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from local.firehose.buffer import Record
from local.firehose.config import SearchTarget, SinkSpec
from local.firehose.s3_sink import deliver_errors

log = logging.getLogger(__name__)

ENV_OPENSEARCH_ENDPOINT = "OPENSEARCH_ENDPOINT"
ENV_CONCURRENCY = "LOCAL_FIREHOSE_OPENSEARCH_CONCURRENCY"
BULK_MAX_BYTES = 5 * 1024 * 1024
#: Documents per _bulk request: a delivery is cut into requests of 1,000-1,999 documents (fewer
#: only when the delivery itself is smaller), sent ``concurrency`` at a time. The local
#: OpenSearch (osmem) indexes a bulk request of under 1,000 documents a second time when it
#: merges its segments, which nearly doubles its CPU per document (see local/README.md).
BULK_MIN_DOCS = 1000
DEFAULT_CONCURRENCY = 2


@dataclass
class Doc:
    """A record prepared for the bulk API, with its latest error if any."""

    record: Record
    index: str
    doc_id: str | None
    source: bytes | None
    attempts: int = 0
    error_code: str = ""
    error_message: str = ""


def rotated_index(index: str, rotation: str, arrival_ms: int) -> str:
    """``IndexName`` plus AWS's rotation suffix for a record that arrived at ``arrival_ms``."""
    moment = datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    if rotation == "OneHour":
        return f"{index}-{moment:%Y-%m-%d-%H}"
    if rotation == "OneDay":
        return f"{index}-{moment:%Y-%m-%d}"
    if rotation == "OneWeek":
        iso = moment.isocalendar()
        return f"{index}-{iso.year}-w{iso.week:02d}"
    if rotation == "OneMonth":
        return f"{index}-{moment:%Y-%m}"
    return index


def prepare(target: SearchTarget, record: Record) -> Doc:
    """Index name, ``_id`` and JSON source of ``record`` (or a parse failure)."""
    index = rotated_index(target.index, target.rotation, record.arrival_ms)
    doc_id = record.record_id if target.document_id_format == "FIREHOSE_DEFAULT" else None
    try:
        document = json.loads(record.data)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        doc = Doc(record, index, doc_id, None, attempts=1, error_code="400")
        doc.error_message = json.dumps({
            "type": "mapper_parsing_exception", "reason": "failed to parse",
            "caused_by": {"type": "not_x_content_exception",
                          "reason": "the record is not a JSON object"},
        })
        return doc
    source = record.data.strip()
    if b"\n" in source or b"\r" in source:
        source = json.dumps(document, separators=(",", ":")).encode()
    return Doc(record, index, doc_id, source)


def make_client(target: SearchTarget) -> Any:
    """An opensearch-py client for the local stand-in (or the configured cluster endpoint)."""
    from opensearchpy import OpenSearch, RequestsHttpConnection

    endpoint = os.environ.get(ENV_OPENSEARCH_ENDPOINT) or target.cluster_endpoint
    if not endpoint:
        raise RuntimeError(
            f"no OpenSearch endpoint: set {ENV_OPENSEARCH_ENDPOINT} (DomainARN cannot be resolved)"
        )
    host = urlparse(endpoint).hostname or ""
    if host.endswith("amazonaws.com"):
        import boto3
        from requests_aws4auth import AWS4Auth

        session = boto3.Session()
        creds = session.get_credentials().get_frozen_credentials()
        auth = AWS4Auth(creds.access_key, creds.secret_key, session.region_name, "es",
                        session_token=creds.token)
        return OpenSearch(hosts=[endpoint], http_auth=auth, connection_class=RequestsHttpConnection,
                          timeout=60, max_retries=0)
    return OpenSearch(hosts=[endpoint], timeout=60, max_retries=0)


def _bulk_body(docs: list[Doc]) -> bytes:
    lines: list[bytes] = []
    for doc in docs:
        meta: dict[str, str] = {"_index": doc.index}
        if doc.doc_id is not None:
            meta["_id"] = doc.doc_id
        lines.append(json.dumps({"index": meta}).encode())
        lines.append(doc.source or b"{}")
    return b"\n".join(lines) + b"\n"


def _chunks(docs: list[Doc]) -> list[list[Doc]]:
    """``docs`` cut evenly into requests of at least ``BULK_MIN_DOCS`` (when there are that many)
    and at most ``BULK_MAX_BYTES``."""
    if not docs:
        return []
    count = max(1, len(docs) // BULK_MIN_DOCS)
    per = -(-len(docs) // count)
    chunks: list[list[Doc]] = []
    for start in range(0, len(docs), per):
        chunks.append([])
        size = 0
        for doc in docs[start:start + per]:
            length = len(doc.source or b"") + 100
            if chunks[-1] and size + length > BULK_MAX_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(doc)
            size += length
    return chunks


def concurrency() -> int:
    """How many _bulk requests of one delivery run at once (env override, at least 1)."""
    try:
        return max(1, int(os.environ.get(ENV_CONCURRENCY, DEFAULT_CONCURRENCY)))
    except ValueError:
        return DEFAULT_CONCURRENCY


def _send(client: Any, chunk: list[Doc]) -> list[Doc]:
    """One _bulk request; returns the documents of ``chunk`` that failed (with their error)."""
    for doc in chunk:
        doc.attempts += 1
    try:
        response = client.bulk(body=_bulk_body(chunk))
    except Exception as exc:  # transport errors: every document of the chunk failed
        code = getattr(exc, "status_code", None)
        for doc in chunk:
            doc.error_code = str(code) if isinstance(code, int) else "OS.ConnectionFailed"
            doc.error_message = str(exc)[:1000]
        return list(chunk)
    failed = []
    for doc, item in zip(chunk, response.get("items", []), strict=False):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if status >= 300:
            doc.error_code = str(status)
            error = result.get("error", "")
            doc.error_message = error if isinstance(error, str) else json.dumps(error)
            failed.append(doc)
    return failed


def _attempt(client: Any, docs: list[Doc]) -> list[Doc]:
    """One bulk attempt over ``docs`` (chunks sent concurrently); returns those that failed."""
    chunks = _chunks(docs)
    workers = min(concurrency(), len(chunks))
    if workers <= 1:
        return [doc for chunk in chunks for doc in _send(client, chunk)]
    with ThreadPoolExecutor(workers, thread_name_prefix="bulk") as pool:
        return [doc for failed in pool.map(lambda c: _send(client, c), chunks) for doc in failed]


def _failure_line(doc: Doc, ended_ms: int) -> bytes:
    return json.dumps({
        "attemptsMade": doc.attempts,
        "arrivalTimestamp": doc.record.arrival_ms,
        "errorCode": doc.error_code,
        "errorMessage": doc.error_message,
        "attemptEndingTimestamp": ended_ms,
        "rawData": base64.b64encode(doc.record.data).decode(),
        "subsequenceNumber": 0,
        "esDocumentId": doc.doc_id or "",
        "esTypeName": "",
        "esIndexName": doc.index,
    }, separators=(",", ":")).encode()


def deliver(
    client: Any,
    s3: Any,
    spec: SinkSpec,
    stream: str,
    version: str,
    records: list[Record],
    stopping: threading.Event,
) -> bool:
    """Index ``records``; back up failures to S3. False if interrupted by shutdown (retry later)."""
    target = spec.search
    assert target is not None
    docs = [prepare(target, record) for record in records]
    failed = [d for d in docs if d.source is None]
    pending = [d for d in docs if d.source is not None]
    started = time.monotonic()
    delay = 0.5
    while pending:
        pending = _attempt(client, pending)
        if not pending:
            break
        left = target.retry_s - (time.monotonic() - started)
        if left <= 0:
            break
        if stopping.wait(min(delay, left)):
            return False
        delay = min(delay * 2, 5.0)
    failed.extend(pending)
    if failed:
        ended = int(time.time() * 1000)
        deliver_errors(
            s3, spec.s3, stream, version, target.error_type,
            min(d.record.arrival_ms for d in failed),
            [_failure_line(d, ended) for d in failed],
        )
    log.info("opensearch: %d indexed, %d failed (stream %s)", len(docs) - len(failed),
             len(failed), stream)
    return True
