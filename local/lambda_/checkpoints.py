"""Durable per-shard checkpoints of a mapping: ``esm/<uuid>/<shardId>.json`` (atomic writes).

A checkpoint holds the sequence number of the last record that is done (succeeded or sent to
the OnFailure destination): after a restart the shard resumes AFTER it, so nothing is skipped
and at most the in-flight batches run again (at-least-once, like AWS).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .fsutil import atomic_write_json, read_json


@dataclass
class Checkpoint:
    """Where a shard stands: ``sequence_number`` done, ``finished`` = closed shard fully done."""

    sequence_number: str | None = None
    finished: bool = False
    start_timestamp: float | None = None  # LATEST mappings: when polling began


class CheckpointStore:
    """Checkpoints of one mapping."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def _path(self, shard_id: str) -> Path:
        return self.root / f"{shard_id}.json"

    def load(self, shard_id: str) -> Checkpoint | None:
        data = read_json(self._path(shard_id))
        return None if data is None else Checkpoint(**data)

    def save(self, shard_id: str, checkpoint: Checkpoint) -> None:
        with self._lock:
            atomic_write_json(self._path(shard_id), asdict(checkpoint))

    def all(self) -> dict[str, Checkpoint]:
        if not self.root.is_dir():
            return {}
        return {p.stem: Checkpoint(**(read_json(p) or {})) for p in self.root.glob("*.json")}

    def drop(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
