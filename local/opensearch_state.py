"""Keep osmem-server's (in-memory) OpenSearch data across restarts.

On stop, before osmem is terminated: dump index templates, indices (settings, mappings, aliases)
and every document (scroll API) into one NDJSON file, written atomically. On start, once osmem
answers: re-create templates and indices, then ``_bulk`` the documents back with
``pipeline=_none`` (they were stored after their pipelines ran; running them again could change
them). Ingest pipelines are not in the dump: the OpenSearch service keeps them in its own file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "opensearch.ndjson"
PAGE_SIZE = 1000
WORKERS = 2  # parallel _bulk requests on restore (osmem indexes on several cores)
TIMEOUT = 30.0
#: Index settings OpenSearch assigns itself (not given back when an index is re-created).
INTERNAL_SETTINGS = ("index.creation_date", "index.uuid", "index.version.", "index.provided_name",
                     "index.replication.", "index.number_of_replicas")


def _call(base: str, method: str, path: str, body: Any = None, ndjson: str | None = None) -> Any:
    data: bytes | None = None
    headers = {}
    if ndjson is not None:
        data, headers["Content-Type"] = ndjson.encode(), "application/x-ndjson"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        return json.loads(resp.read() or b"null")


def _documents(base: str, index: str) -> Iterator[dict[str, Any]]:
    q = urllib.parse.quote(index, safe="")
    page = _call(base, "POST", f"/{q}/_search?scroll=2m&size={PAGE_SIZE}",
                 {"query": {"match_all": {}}, "sort": ["_doc"]})
    scroll_id = page.get("_scroll_id")
    for _ in range(10_000_000 // PAGE_SIZE):  # bounded: 10 M documents per index
        hits = page["hits"]["hits"]
        if not hits:
            break
        yield from hits
        if not scroll_id or len(hits) < PAGE_SIZE:
            break
        page = _call(base, "POST", "/_search/scroll", {"scroll": "2m", "scroll_id": scroll_id})
        scroll_id = page.get("_scroll_id", scroll_id)
    if scroll_id:
        with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
            _call(base, "DELETE", "/_search/scroll", {"scroll_id": [scroll_id]})


def dump(base: str, path: Path) -> int:
    """Write templates, indices and documents of the server at ``base`` to ``path``."""
    started = time.monotonic()
    templates = _call(base, "GET", "/_index_template").get("index_templates", [])
    names = [row["index"] for row in _call(base, "GET", "/_cat/indices?format=json")
             if not row["index"].startswith(".")]
    aliases = _call(base, "GET", "/_alias") if names else {}
    meta: dict[str, Any] = {"templates": templates, "indices": {}}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for name in names:
            q = urllib.parse.quote(name, safe="")
            mapping = _call(base, "GET", f"/{q}/_mapping").get(name, {}).get("mappings", {})
            meta["indices"][name] = {"mappings": mapping,
                                     "settings": _settings(base, name),
                                     "aliases": aliases.get(name, {}).get("aliases", {})}
        fh.write(json.dumps({"meta": meta}) + "\n")
        for name in names:
            for hit in _documents(base, name):
                fh.write(json.dumps({"index": {"_index": name, "_id": hit["_id"]}}) + "\n")
                fh.write(json.dumps(hit.get("_source", {})) + "\n")
                count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    log.info("opensearch dump: %d indices, %d documents, %.2f s", len(names), count,
             time.monotonic() - started)
    return count


def restore(base: str, path: Path, batch: int = 1000) -> int:
    """Load a dump written by :func:`dump` into an empty server; returns documents loaded."""
    if not path.is_file():
        return 0
    started = time.monotonic()
    count = 0
    with open(path, encoding="utf-8") as fh:
        meta = json.loads(fh.readline() or "{}").get("meta", {})
        for tpl in meta.get("templates", []):
            name = urllib.parse.quote(tpl["name"], safe="")
            _call(base, "PUT", f"/_index_template/{name}", tpl["index_template"])
        for name, spec in meta.get("indices", {}).items():
            body: dict[str, Any] = {"mappings": spec.get("mappings") or {}}
            if spec.get("settings"):
                body["settings"] = spec["settings"]
            if spec.get("aliases"):
                body["aliases"] = spec["aliases"]
            try:
                _call(base, "PUT", f"/{urllib.parse.quote(name, safe='')}", body)
            except urllib.error.HTTPError as exc:  # a client wrote first (Firehose retrying)
                if exc.code != 400 or b"resource_already_exists" not in exc.read():
                    raise
        with ThreadPoolExecutor(WORKERS) as pool:
            count = sum(pool.map(lambda chunk: _bulk(base, chunk), _chunks(fh, batch)))
    if meta.get("indices"):
        _call(base, "POST", "/_refresh")
    log.info("opensearch restore: %d documents, %.2f s", count, time.monotonic() - started)
    return count


def _settings(base: str, index: str) -> dict[str, Any]:
    """The index's own settings, flat (``index.default_pipeline``, ``index.refresh_interval``)."""
    q = urllib.parse.quote(index, safe="")
    flat = _call(base, "GET", f"/{q}/_settings?flat_settings=true").get(index, {})
    return {k: v for k, v in flat.get("settings", {}).items()
            if not k.startswith(INTERNAL_SETTINGS)}


def _chunks(lines: Iterator[str], batch: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= 2 * batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _bulk(base: str, lines: list[str]) -> int:
    result = _call(base, "POST", "/_bulk?pipeline=_none", ndjson="".join(lines))
    if result.get("errors"):
        failed = [i for i in result["items"] if next(iter(i.values())).get("error")]
        log.warning("opensearch restore: %d documents failed, first: %s", len(failed),
                    failed[:1])
    return len(lines) // 2
