"""The document a pipeline works on: its ``_source`` plus the metadata fields it may change."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

METADATA = ("_index", "_id", "_routing")
_MISSING = object()


@dataclass
class IngestDocument:
    """The JSON object being indexed (``source``) and its ``_index``/``_id``/``_routing``.

    ``source_changed`` turns true once a processor sets or removes a ``_source`` field (every
    change goes through :meth:`set` or :meth:`remove`), so an unchanged document can be
    forwarded as the exact bytes it arrived in.
    """

    source: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds")
        .replace("+00:00", "Z"))
    source_changed: bool = False

    def copy(self) -> IngestDocument:
        return IngestDocument(copy.deepcopy(self.source), dict(self.meta), self.timestamp,
                              self.source_changed)

    # -- paths -------------------------------------------------------------------------------
    @staticmethod
    def _parts(path: str) -> list[str]:
        if path.startswith("_source."):
            path = path[len("_source."):]
        return path.split(".")

    def get(self, path: str, default: Any = None) -> Any:
        """The value at ``path`` (dotted; metadata and ``_ingest.timestamp`` included)."""
        if path in METADATA:
            return self.meta.get(path, default)
        if path == "_ingest.timestamp":
            return self.timestamp
        node: Any = self.source
        for part in self._parts(path):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return node

    def has(self, path: str) -> bool:
        return self.get(path, _MISSING) is not _MISSING

    def set(self, path: str, value: Any) -> None:
        """Set ``path``, creating intermediate objects (an error if one is not an object)."""
        if path in METADATA:
            self.meta[path] = None if value is None else str(value)
            return
        if path.startswith("_ingest."):
            raise ValueError(f"field [{path}] is read-only")
        parts = self._parts(path)
        self.source_changed = True
        node = self.source
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"cannot set [{parts[-1]}] with parent object of type "
                                 f"[{type(child).__name__}] as part of path [{path}]")
            node = child
        node[parts[-1]] = value

    def remove(self, path: str) -> None:
        """Remove ``path``; KeyError when it is not there."""
        if path in METADATA:
            if path not in self.meta:
                raise KeyError(path)
            del self.meta[path]
            return
        parts = self._parts(path)
        node: Any = self.source
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or parts[-1] not in node:
            raise KeyError(path)
        self.source_changed = True
        del node[parts[-1]]
