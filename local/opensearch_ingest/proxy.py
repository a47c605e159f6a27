"""The HTTP front of the local OpenSearch: ingest pipelines here, everything else in osmem.

Requests handled here:

- ``PUT|GET|DELETE /_ingest/pipeline[/<id>]`` and ``GET|POST /_ingest/pipeline[/<id>]/_simulate``;
- document writes: ``/_bulk`` and ``/<index>/_bulk`` (``index`` and ``create`` actions),
  ``/<index>/_doc[/<id>]`` and ``/<index>/_create/<id>``. Each document runs through the pipeline
  named by ``?pipeline=`` (or the action's ``pipeline``), else the target index's
  ``index.default_pipeline``, then its ``index.final_pipeline``, exactly as an OpenSearch node
  does; then it goes to osmem with ``pipeline=_none``, so osmem never looks for a pipeline it
  cannot have. A pipeline that sets ``_id`` or ``_index`` re-targets the document. A missing
  pipeline or a failing processor fails that document only (a per-item error in ``_bulk``).

Everything else is forwarded unchanged. Which pipelines apply to an index is read from osmem
(``GET <index>/_settings``, or the matching index templates for an index that does not exist
yet) and cached until a request that may change settings or templates goes through.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from local.opensearch_ingest.document import IngestDocument
from local.opensearch_ingest.errors import IngestError
from local.opensearch_ingest.pipelines import NONE, PipelineStore

log = logging.getLogger(__name__)

JSON = "application/json; charset=UTF-8"
#: Path segments of requests that cannot change index settings or templates.
READ_OR_DOCUMENT = {"_search", "_count", "_msearch", "_refresh", "_flush", "_bulk", "_doc",
                    "_create", "_update", "_mget", "_delete_by_query", "_update_by_query",
                    "_explain", "_validate", "_field_caps", "_scroll", "_pit", "_analyze",
                    "_termvectors", "_mtermvectors", "_cat", "_cluster", "_nodes", "_stats"}


@dataclass
class Response:
    """What goes back to the client."""

    status: int
    body: bytes
    content_type: str = JSON

    @classmethod
    def json(cls, status: int, payload: Any) -> Response:
        return cls(status, json.dumps(payload, separators=(",", ":")).encode())


class Upstream:
    """Keep-alive HTTP connections to osmem, one per thread."""

    def __init__(self, host: str, port: int, timeout: float = 120.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None) -> Response:
        headers = {"Content-Type": content_type or JSON} if body is not None else {}
        for attempt in (1, 2):  # a kept-alive connection osmem closed: reconnect once
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return Response(resp.status, data, resp.getheader("Content-Type") or JSON)
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        resp = self.request(method, path, body)
        try:
            return resp.status, json.loads(resp.body or b"null")
        except ValueError:
            return resp.status, None


def _with_query(path: str, query: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def _index_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Flatten ``{"index": {"default_pipeline": ..}}`` / ``{"index.default_pipeline": ..}``."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else key, value)
        else:
            flat[prefix] = node

    walk("", settings)
    return {k[len("index."):] if k.startswith("index.") else k: v for k, v in flat.items()}


class IndexPipelines:
    """``(default_pipeline, final_pipeline)`` of an index, read from osmem and cached."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str | None, str | None]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def of(self, index: str) -> tuple[str | None, str | None]:
        with self._lock:
            hit = self._cache.get(index)
        if hit is not None:
            return hit
        name = quote(index, safe="")
        status, body = self.upstream.json(
            "GET", f"/{name}/_settings/index.default_pipeline,index.final_pipeline"
                   "?flat_settings=true")
        settings: dict[str, Any] = {}
        if status == 200 and isinstance(body, dict) and body:
            settings = _index_settings(next(iter(body.values())).get("settings", {}))
        elif status == 404:
            status, body = self.upstream.json("POST", f"/_index_template/_simulate_index/{name}")
            if status == 200 and isinstance(body, dict):
                settings = _index_settings((body.get("template") or {}).get("settings") or {})
        result = (settings.get("default_pipeline"), settings.get("final_pipeline"))
        with self._lock:
            self._cache[index] = result
        return result


class IngestProxy:
    """Routes one request: ingest API, pipelined writes, or plain forwarding."""

    def __init__(self, store: PipelineStore, upstream: Upstream) -> None:
        self.store = store
        self.upstream = upstream
        self.indices = IndexPipelines(upstream)

    # -- entry point ---------------------------------------------------------------------------
    def handle(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Response:
        split = urlsplit(target)
        segments = [s for s in split.path.split("/") if s]
        query = parse_qsl(split.query, keep_blank_values=True)
        if headers.get("content-encoding", "").lower() == "gzip" and body:
            body = gzip.decompress(body)
        try:
            if segments[:2] == ["_ingest", "pipeline"]:
                return self._ingest_api(method, segments[2:], body)
            if method in ("POST", "PUT") and segments and segments[-1] == "_bulk" \
                    and len(segments) <= 2:
                return self._bulk(segments[0] if len(segments) == 2 else None, query, body)
            if method in ("POST", "PUT") and len(segments) in (2, 3) \
                    and segments[1] in ("_doc", "_create"):
                return self._single(method, segments, query, body)
        except IngestError as exc:
            return Response.json(exc.status, exc.body())
        if method not in ("GET", "HEAD") and not READ_OR_DOCUMENT & set(segments):
            self.indices.invalidate()
        resp = self.upstream.request(method, target, body if body or method != "GET" else None,
                                     headers.get("content-type"))
        if method not in ("GET", "HEAD") and not READ_OR_DOCUMENT & set(segments):
            self.indices.invalidate()  # and after: a concurrent write may have cached the old
        return resp

    # -- _ingest/pipeline -----------------------------------------------------------------------
    def _ingest_api(self, method: str, rest: list[str], body: bytes) -> Response:
        if rest and rest[-1] == "_simulate" and method in ("GET", "POST"):
            return self._simulate(rest[0] if len(rest) == 2 else None, body)
        pipeline_id = rest[0] if rest else None
        if method == "PUT" and pipeline_id:
            try:
                definition = json.loads(body or b"null")
            except ValueError as exc:
                raise IngestError(400, "parse_exception", f"request body is not JSON: {exc}") \
                    from exc
            self.store.put(pipeline_id, definition)
            self.indices.invalidate()
            return Response.json(200, {"acknowledged": True})
        if method in ("GET", "HEAD"):
            found = self.store.find(pipeline_id)
            if pipeline_id and not found:
                return Response.json(404, {})
            return Response.json(200, found)
        if method == "DELETE" and pipeline_id:
            if not self.store.delete(pipeline_id):
                raise IngestError(404, "resource_not_found_exception",
                                  f"pipeline [{pipeline_id}] is missing")
            return Response.json(200, {"acknowledged": True})
        raise IngestError(405, "illegal_argument_exception",
                          f"Incorrect HTTP method for uri [/_ingest/pipeline/"
                          f"{'/'.join(rest)}] and method [{method}]")

    def _simulate(self, pipeline_id: str | None, body: bytes) -> Response:
        request = json.loads(body or b"{}")
        if pipeline_id:
            pipeline = self.store.get(pipeline_id)
            if pipeline is None:
                raise IngestError(404, "resource_not_found_exception",
                                  f"pipeline [{pipeline_id}] is missing")
        else:
            from local.opensearch_ingest.pipelines import Pipeline

            if "pipeline" not in request:
                raise IngestError(400, "parse_exception", "[pipeline] required property is "
                                                          "missing", property_name="pipeline")
            pipeline = Pipeline.parse("_simulate_pipeline", request["pipeline"])
        docs = request.get("docs")
        if not isinstance(docs, list) or not docs:
            raise IngestError(400, "parse_exception", "must specify at least one document in "
                                                      "[docs]", property_name="docs")
        out = []
        for raw in docs:
            meta = {"_index": str(raw.get("_index", "_index")), "_id": str(raw.get("_id", "_id"))}
            if raw.get("_routing") is not None:
                meta["_routing"] = str(raw["_routing"])
            doc = IngestDocument(dict(raw.get("_source") or {}), meta)
            try:
                pipeline.run(doc)
            except IngestError as exc:
                out.append({"error": {"root_cause": [exc.cause()], **exc.cause()}})
                continue
            shown = {**doc.meta, "_source": doc.source, "_ingest": {"timestamp": doc.timestamp}}
            out.append({"doc": shown})
        return Response.json(200, {"docs": out})

    # -- writes --------------------------------------------------------------------------------
    def _pipelines_for(self, index: str, requested: str | None) -> list[str]:
        default, final = self.indices.of(index)
        chosen = requested if requested is not None else default
        return [p for p in (chosen, final) if p and p != NONE]

    def _run(self, doc: IngestDocument, names: list[str]) -> None:
        for name in names:
            self.store.require(name).run(doc)

    def _single(self, method: str, segments: list[str], query: list[tuple[str, str]],
                body: bytes) -> Response:
        index, kind = segments[0], segments[1]
        doc_id = segments[2] if len(segments) == 3 else None
        requested = dict(query).get("pipeline")
        names = self._pipelines_for(index, requested)
        rest = [(k, v) for k, v in query if k != "pipeline"] + [("pipeline", NONE)]
        if names:
            try:
                source = json.loads(body)
            except ValueError as exc:
                raise IngestError(400, "mapper_parsing_exception", "failed to parse") from exc
            if not isinstance(source, dict):
                raise IngestError(400, "mapper_parsing_exception", "failed to parse")
            meta = {"_index": index, **({"_id": doc_id} if doc_id else {})}
            doc = IngestDocument(source, meta)
            self._run(doc, names)
            index, doc_id = doc.meta.get("_index") or index, doc.meta.get("_id") or doc_id
            if doc.source_changed:
                body = json.dumps(doc.source, separators=(",", ":")).encode()
            if doc.meta.get("_routing"):
                rest = [(k, v) for k, v in rest if k != "routing"] + [
                    ("routing", doc.meta["_routing"])]
        path = f"/{quote(index, safe='')}/{kind}"
        if doc_id:
            path += f"/{quote(doc_id, safe='')}"
            method = "PUT" if kind == "_doc" else method
        return self.upstream.request(method, _with_query(path, rest), body)

    def _bulk(self, url_index: str | None, query: list[tuple[str, str]],
              body: bytes) -> Response:
        started = time.monotonic()
        params = dict(query)
        requested = params.get("pipeline")
        rest = [(k, v) for k, v in query if k != "pipeline"] + [("pipeline", NONE)]
        lines = body.split(b"\n")
        out: list[bytes] = []
        slots: list[dict[str, Any] | None] = []  # None: answered by osmem, in order
        ran = False
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if not line:
                continue
            try:
                action_line = json.loads(line)
                action, meta = next(iter(action_line.items()))
            except (ValueError, StopIteration, AttributeError) as exc:
                raise IngestError(400, "illegal_argument_exception",
                                  f"Malformed action/metadata line [{i}]") from exc
            if action == "delete":
                out.append(line)
                slots.append(None)
                continue
            source_line = lines[i] if i < len(lines) else b""
            i += 1
            if action not in ("index", "create"):
                out += [line, source_line]
                slots.append(None)
                continue
            meta = dict(meta or {})
            index = meta.get("_index") or url_index or ""
            names = self._pipelines_for(index, meta.pop("pipeline", requested))
            if names:
                ran = True
                try:
                    source = json.loads(source_line)
                    if not isinstance(source, dict):
                        raise ValueError("not an object")
                    doc = IngestDocument(source, {k: str(v) for k, v in meta.items()
                                                  if k in ("_index", "_id", "_routing")}
                                         | {"_index": index})
                    self._run(doc, names)
                except IngestError as exc:
                    slots.append({action: {"_index": index, "_id": meta.get("_id"),
                                           "status": exc.status, "error": exc.cause()}})
                    continue
                except ValueError:
                    slots.append({action: {"_index": index, "_id": meta.get("_id"),
                                           "status": 400, "error": {
                                               "type": "mapper_parsing_exception",
                                               "reason": "failed to parse"}}})
                    continue
                for key in ("_index", "_id", "_routing"):
                    if doc.meta.get(key) is not None:
                        meta[key] = doc.meta[key]
                if doc.source_changed:  # else the document goes on as the bytes it came in
                    source_line = json.dumps(doc.source, separators=(",", ":")).encode()
            out += [json.dumps({action: meta}, separators=(",", ":")).encode(), source_line]
            slots.append(None)
        forwarded = sum(1 for s in slots if s is None)
        ingest_ms = int((time.monotonic() - started) * 1000)
        result: dict[str, Any] = {"took": 0, "errors": False, "items": []}
        if forwarded:
            path = f"/{quote(url_index, safe='')}/_bulk" if url_index else "/_bulk"
            resp = self.upstream.request("POST", _with_query(path, rest),
                                         b"\n".join(out) + b"\n", "application/x-ndjson")
            if resp.status != 200:
                return resp
            if forwarded == len(slots) and not ran:
                return resp
            body = resp.body.lstrip()
            if forwarded == len(slots) and body.startswith(b'{"'):
                # osmem answered every item: add ingest_took without re-encoding the response
                return Response(200, b'{"ingest_took":%d,' % ingest_ms + body[1:],
                                resp.content_type)
            result = json.loads(resp.body)
        if not ran:  # an empty body
            return Response.json(200, result)
        answered = iter(result.get("items", []))
        items = [slot if slot is not None else next(answered) for slot in slots]
        errors = bool(result.get("errors")) or any(s is not None for s in slots)
        merged = {"took": result.get("took", 0), "ingest_took": ingest_ms, "errors": errors,
                  "items": items}
        return Response.json(200, merged)


Handler = Callable[[str, str, bytes, dict[str, str]], Response]
