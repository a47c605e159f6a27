"""A sink's record buffer, mirrored in an append-only journal so a crash loses nothing.

Every accepted record is appended to ``<dir>/<sink>.journal`` before PutRecord(Batch) answers
(one ``write`` per call, no fsync: survives a killed process, not a power cut). After a
successful delivery the delivered head is dropped and the journal rewritten (temp file + rename).
On start the journal is read back; a truncated last frame (crash mid-write) is discarded.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">IQB")  # data length, arrival ms, record-id length


@dataclass(frozen=True)
class Record:
    """One accepted record: its id, arrival time (epoch ms) and exact bytes."""

    record_id: str
    arrival_ms: int
    data: bytes


def _encode(records: list[Record]) -> bytes:
    parts: list[bytes] = []
    for record in records:
        rid = record.record_id.encode()
        parts.append(_HEADER.pack(len(record.data), record.arrival_ms, len(rid)))
        parts.append(rid)
        parts.append(record.data)
    return b"".join(parts)


def _decode(blob: bytes) -> list[Record]:
    records: list[Record] = []
    offset = 0
    while offset + _HEADER.size <= len(blob):
        size, arrival, id_len = _HEADER.unpack_from(blob, offset)
        end = offset + _HEADER.size + id_len + size
        if end > len(blob):
            break
        rid = blob[offset + _HEADER.size: offset + _HEADER.size + id_len].decode()
        records.append(Record(rid, arrival, blob[offset + _HEADER.size + id_len: end]))
        offset = end
    if offset != len(blob):
        log.warning("journal: dropped %d bytes of a truncated last frame", len(blob) - offset)
    return records


class RecordBuffer:
    """FIFO of records for one sink, journaled under ``path``; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cond = threading.Condition()
        self._records: list[Record] = []
        self._bytes = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._records = _decode(path.read_bytes())
            self._bytes = sum(len(r.data) for r in self._records)
            self._rewrite()
        self._journal = open(path, "ab")  # noqa: SIM115 - lives as long as the buffer

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._records)

    def oldest_arrival_ms(self) -> int | None:
        """Arrival time of the oldest buffered record, or None when empty."""
        return self._records[0].arrival_ms if self._records else None

    def append(self, records: list[Record]) -> None:
        """Journal then buffer ``records``; wakes the sink's flusher."""
        if not records:
            return
        with self.cond:
            self._journal.write(_encode(records))
            self._journal.flush()
            self._records.extend(records)
            self._bytes += sum(len(r.data) for r in records)
            self.cond.notify_all()

    def head(self, max_bytes: int) -> list[Record]:
        """The oldest records totalling at most ``max_bytes`` (at least one if any)."""
        with self.cond:
            batch: list[Record] = []
            total = 0
            for record in self._records:
                if batch and total + len(record.data) > max_bytes:
                    break
                batch.append(record)
                total += len(record.data)
            return batch

    def drop_head(self, count: int) -> None:
        """Forget the ``count`` oldest records (they were delivered) and compact the journal."""
        with self.cond:
            dropped = self._records[:count]
            self._records = self._records[count:]
            self._bytes -= sum(len(r.data) for r in dropped)
            self._journal.close()
            self._rewrite()
            self._journal = open(self.path, "ab")  # noqa: SIM115

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(_encode(self._records))
        os.replace(tmp, self.path)

    def close(self) -> None:
        with self.cond:
            self._journal.close()

    def destroy(self) -> None:
        """Close and delete the journal (the stream was deleted)."""
        self.close()
        self.path.unlink(missing_ok=True)
