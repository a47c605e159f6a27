"""Stored pipelines (``PUT _ingest/pipeline/<id>``) and running a document through one.

The store is one JSON file, rewritten atomically on every change, so pipelines survive a stop,
a crash and a restart of the OpenSearch stand-in (as they live in the cluster state on AWS).
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.opensearch_ingest.document import IngestDocument
from local.opensearch_ingest.errors import IngestError, parse_error
from local.opensearch_ingest.processors import Processor, parse_processor

NONE = "_none"  # ?pipeline=_none: skip the default pipeline


@dataclass
class Pipeline:
    """A parsed pipeline; ``body`` is the definition as stored and returned by GET."""

    pipeline_id: str
    body: dict[str, Any]
    processors: list[Processor]
    on_failure: list[Processor]

    @classmethod
    def parse(cls, pipeline_id: str, body: Any) -> Pipeline:
        if not isinstance(body, dict):
            raise parse_error(None, "pipeline definition must be an object")
        unknown = sorted(set(body) - {"description", "processors", "on_failure", "version",
                                       "_meta"})
        if unknown:
            raise parse_error(None, f"pipeline [{pipeline_id}] doesn't support one or more "
                                    f"provided configuration parameters {unknown}")
        raw = body.get("processors")
        if not isinstance(raw, list):
            raise parse_error(None, "[processors] required property is missing", "processors")
        handlers = body.get("on_failure") or []
        if not isinstance(handlers, list):
            raise parse_error(None, "[on_failure] property isn't a list", "on_failure")
        return cls(pipeline_id, body, [parse_processor(p) for p in raw],
                   [parse_processor(p) for p in handlers])

    def run(self, doc: IngestDocument) -> IngestDocument:
        """Run every processor on ``doc`` (in place); pipeline-level ``on_failure`` included."""
        try:
            for processor in self.processors:
                processor.run(doc)
        except IngestError:
            if not self.on_failure:
                raise
            for handler in self.on_failure:
                handler.run(doc)
        return doc


class PipelineStore:
    """Pipelines by id, persisted in ``path`` (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pipelines: dict[str, Pipeline] = {}
        if path.exists():
            for pipeline_id, body in json.loads(path.read_text(encoding="utf-8")).items():
                self._pipelines[pipeline_id] = Pipeline.parse(pipeline_id, body)

    def put(self, pipeline_id: str, body: Any) -> None:
        if not pipeline_id or pipeline_id == NONE or pipeline_id.startswith("_"):
            raise parse_error(None, f"invalid pipeline id [{pipeline_id}]")
        pipeline = Pipeline.parse(pipeline_id, body)
        with self._lock:
            self._pipelines[pipeline_id] = pipeline
            self._save()

    def get(self, pipeline_id: str) -> Pipeline | None:
        with self._lock:
            return self._pipelines.get(pipeline_id)

    def require(self, pipeline_id: str) -> Pipeline:
        """The pipeline, or the error OpenSearch gives a write naming a missing one."""
        pipeline = self.get(pipeline_id)
        if pipeline is None:
            raise IngestError(400, "illegal_argument_exception",
                              f"pipeline with id [{pipeline_id}] does not exist")
        return pipeline

    def find(self, pattern: str | None) -> dict[str, dict[str, Any]]:
        """Definitions whose id matches one of the comma-separated ids/wildcards."""
        with self._lock:
            if not pattern or pattern in ("*", "_all"):
                return {k: p.body for k, p in self._pipelines.items()}
            wanted = pattern.split(",")
            return {k: p.body for k, p in self._pipelines.items()
                    if any(fnmatch.fnmatchcase(k, w) for w in wanted)}

    def delete(self, pattern: str) -> int:
        """Delete matching pipelines; returns how many were deleted."""
        with self._lock:
            wanted = pattern.split(",")
            gone = [k for k in self._pipelines if any(fnmatch.fnmatchcase(k, w) for w in wanted)]
            for key in gone:
                del self._pipelines[key]
            if gone:
                self._save()
            return len(gone)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({k: p.body for k, p in self._pipelines.items()}, indent=1),
                       encoding="utf-8")
        os.replace(tmp, self.path)
