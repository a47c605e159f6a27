"""How the Firehose stand-in cuts one OpenSearch delivery into _bulk requests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from local.firehose.buffer import Record
from local.firehose.opensearch_sink import BULK_MAX_BYTES, BULK_MIN_DOCS, Doc, _chunks


def _docs(sizes: list[int]) -> list[Doc]:
    return [Doc(Record(f"r{i}", 0, b"{}"), "i", None, b"x" * size)
            for i, size in enumerate(sizes)]


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 7000), size=st.sampled_from([300, 800, 2_000]))
def test_requests_keep_every_document_in_order_and_are_never_small(count: int, size: int) -> None:
    docs = _docs([size] * count)
    chunks = _chunks(docs)
    assert [d for chunk in chunks for d in chunk] == docs
    assert all(sum(len(d.source or b"") + 100 for d in c) <= BULK_MAX_BYTES for c in chunks)
    if count >= BULK_MIN_DOCS and size * 2 * BULK_MIN_DOCS < BULK_MAX_BYTES:
        # osmem indexes a request of under 1,000 documents twice (segment merging)
        assert min(len(c) for c in chunks) >= BULK_MIN_DOCS
        assert max(len(c) for c in chunks) < 2 * BULK_MIN_DOCS
    elif 0 < count < BULK_MIN_DOCS and size * count < BULK_MAX_BYTES:
        assert len(chunks) == 1


def test_a_delivery_of_5_mb_becomes_six_even_requests() -> None:
    assert [len(c) for c in _chunks(_docs([700] * 6364))] == [1061] * 5 + [1059]


def test_large_documents_are_split_by_bytes() -> None:
    chunks = _chunks(_docs([400_000] * 30))
    assert len(chunks) >= 3 and sum(len(c) for c in chunks) == 30
