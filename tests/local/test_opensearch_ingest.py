"""The ingest stand-in of the local OpenSearch: processors, pipelines, and idempotent indexing.

Unit tests run the pipeline code directly; the ``stack`` tests talk to the local OpenSearch with
opensearch-py exactly as code would talk to Amazon OpenSearch Service.
"""

from __future__ import annotations

import collections
import json
import os
import re
import sys
from pathlib import Path

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.opensearch_ingest import IngestError, Pipeline, PipelineStore
from local.opensearch_ingest.document import IngestDocument
from local.opensearch_ingest.mustache import render
from test_firehose_support import create_search_stream, make_bucket, unique, wait_for

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "viz"))

TRIP_ID = {"processors": [{"set": {"field": "_id", "value": "{{{trip_id}}}",
                                   "ignore_empty_value": True}}]}


def run(definition: dict, source: dict, meta: dict | None = None) -> IngestDocument:
    return Pipeline.parse("p", definition).run(IngestDocument(source, dict(meta or {})))


# --- unit: templates and processors ---------------------------------------------------------
def test_mustache_escapes_double_braces_and_not_triple() -> None:
    doc = IngestDocument({"a": 'x"y\\', "n": 1.5, "b": True, "o": {"k": "v"}})
    assert render("{{a}}", doc.get) == 'x\\"y\\\\'
    assert render("{{{a}}}", doc.get) == 'x"y\\'
    assert render("{{n}}-{{b}}-{{missing}}-{{o.k}}", doc.get) == "1.5-true--v"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))
def test_trip_id_pipeline_copies_any_string_exactly(trip_id: str) -> None:
    doc = run(TRIP_ID, {"trip_id": trip_id}, {"_index": "i", "_id": "firehose-id"})
    assert doc.meta["_id"] == trip_id
    assert doc.source == {"trip_id": trip_id}


def test_empty_trip_id_keeps_the_id_it_came_with() -> None:
    assert run(TRIP_ID, {"trip_id": ""}, {"_id": "firehose-id"}).meta["_id"] == "firehose-id"
    assert run(TRIP_ID, {}, {"_id": "firehose-id"}).meta["_id"] == "firehose-id"


def test_processors_change_the_document() -> None:
    definition = {"processors": [
        {"set": {"field": "meta.source", "value": "{{_index}}"}},
        {"set": {"field": "kept", "value": "new", "override": False}},
        {"rename": {"field": "old", "target_field": "renamed"}},
        {"remove": {"field": ["drop_me", "absent"], "ignore_missing": True}},
        {"lowercase": {"field": "flag"}},
        {"trim": {"field": "name", "target_field": "clean"}},
    ]}
    doc = run(definition, {"kept": "old", "old": 1, "drop_me": 2, "flag": "Y", "name": " a "},
              {"_index": "trips-1"})
    assert doc.source == {"meta": {"source": "trips-1"}, "kept": "old", "renamed": 1,
                          "flag": "y", "name": " a ", "clean": "a"}


def test_failures_raise_or_are_handled_as_configured() -> None:
    failing = {"rename": {"field": "absent", "target_field": "x"}}
    with pytest.raises(IngestError, match=r"field \[absent\] doesn't exist"):
        run({"processors": [failing]}, {})
    ignored = {"rename": {**failing["rename"], "ignore_failure": True}}
    assert run({"processors": [ignored]}, {"a": 1}).source == {"a": 1}
    handled = {"rename": {**failing["rename"],
                          "on_failure": [{"set": {"field": "error", "value": "yes"}}]}}
    assert run({"processors": [handled]}, {}).source == {"error": "yes"}


@pytest.mark.parametrize(("processor", "reason"), [
    ({"grok": {"field": "a"}}, "No processor type exists with name [grok]"),
    ({"set": {"value": 1}}, "[field] required property is missing"),
    ({"set": {"field": "a"}}, "[value] required property is missing"),
    ({"set": {"field": "a", "value": 1, "colour": "red"}}, "doesn't support one or more"),
    ({"set": {"field": "a", "value": 1, "if": "ctx.a != null"}}, "Painless"),
    ({"set": {"field": "a", "value": "{{#list}}x{{/list}}"}}, "sections"),
])
def test_invalid_definitions_are_rejected_like_opensearch(processor: dict, reason: str) -> None:
    with pytest.raises(IngestError, match=re.escape(reason)) as err:
        Pipeline.parse("p", {"processors": [processor]})
    assert err.value.status == 400 and err.value.error_type == "parse_exception"


def test_store_persists_across_instances(tmp_path: Path) -> None:
    PipelineStore(tmp_path / "p.json").put("ids", TRIP_ID)
    again = PipelineStore(tmp_path / "p.json")
    assert again.find("i*") == {"ids": TRIP_ID}
    assert again.delete("ids") == 1 and PipelineStore(tmp_path / "p.json").find(None) == {}


# --- the local OpenSearch service ---------------------------------------------------------------
@pytest.fixture
def search(local_stack):
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[os.environ["OPENSEARCH_ENDPOINT"]], timeout=30)


def _ids(search, pattern: str) -> collections.Counter[str]:
    search.indices.refresh(index=pattern)
    hits = search.search(index=pattern, body={"size": 1000, "query": {"match_all": {}}})
    return collections.Counter(h["_id"] for h in hits["hits"]["hits"])


@pytest.mark.stack
def test_pipeline_api_round_trip(search) -> None:
    from opensearchpy.exceptions import NotFoundError, RequestError

    name = unique("ids")
    assert search.ingest.put_pipeline(id=name, body=TRIP_ID) == {"acknowledged": True}
    assert search.ingest.get_pipeline(id=name) == {name: TRIP_ID}
    simulated = search.ingest.simulate(id=name, body={"docs": [{"_source": {"trip_id": "t1"}}]})
    assert simulated["docs"][0]["doc"]["_id"] == "t1"
    with pytest.raises(RequestError) as err:
        search.ingest.put_pipeline(id=unique("bad"), body={"processors": [{"nope": {}}]})
    assert err.value.info["error"]["type"] == "parse_exception"
    assert search.ingest.delete_pipeline(id=name) == {"acknowledged": True}
    with pytest.raises(NotFoundError):
        search.ingest.get_pipeline(id=name)


@pytest.mark.stack
def test_writes_run_the_requested_or_default_pipeline(search) -> None:
    from opensearchpy.exceptions import RequestError

    index, pipeline = unique("ingest"), unique("ids")
    search.ingest.put_pipeline(id=pipeline, body=TRIP_ID)
    search.indices.create(index=index, body={"settings": {"index.default_pipeline": pipeline}})
    search.index(index=index, body={"trip_id": "single"})
    search.index(index=index, id="explicit", body={"trip_id": "ignored"},
                 params={"pipeline": "_none"})
    bulk = search.bulk(body=[{"index": {"_index": index}}, {"trip_id": "b1"},
                             {"index": {"_index": index, "pipeline": "missing"}}, {"trip_id": "b2"},
                             {"create": {"_index": index}}, {"trip_id": "b3"}])
    assert [next(iter(i.values()))["status"] for i in bulk["items"]] == [201, 400, 201]
    assert "pipeline with id [missing] does not exist" in json.dumps(bulk["items"][1])
    assert set(_ids(search, index)) == {"single", "explicit", "b1", "b3"}
    with pytest.raises(RequestError, match="does not exist"):
        search.index(index=index, body={"trip_id": "x"}, params={"pipeline": "missing"})


@pytest.mark.stack
def test_a_pipeline_that_only_sets_the_id_keeps_the_source_bytes(search) -> None:
    """As on OpenSearch: ``_source`` is what was sent (``12.50`` stays ``12.50``)."""
    import urllib.request

    index, pipeline = unique("raw"), unique("ids")
    search.ingest.put_pipeline(id=pipeline, body=TRIP_ID)
    search.indices.create(index=index, body={"settings": {"index.default_pipeline": pipeline}})
    body = (json.dumps({"index": {"_index": index}}) + "\n"
            + '{"trip_id":"k1","fare_amount":12.50,"zone":"caf\\u00e9"}\n')
    result = search.bulk(body=body)
    assert result["errors"] is False and result["items"][0]["index"]["_id"] == "k1"
    assert isinstance(result["ingest_took"], int)
    url = f"{os.environ['OPENSEARCH_ENDPOINT']}/{index}/_doc/k1"
    with urllib.request.urlopen(url, timeout=10) as resp:  # loopback only
        raw = resp.read().decode()
    assert '"fare_amount":12.50' in raw and '"zone":"caf\\u00e9"' in raw
    changed = {"processors": [{"set": {"field": "seen", "value": "yes"}}]}
    search.ingest.put_pipeline(id=pipeline, body=changed)
    search.bulk(body=json.dumps({"index": {"_index": index, "_id": "k2"}}) + "\n"
                + '{"trip_id":"k2","fare_amount":12.50}\n')
    assert search.get(index=index, id="k2")["_source"] == {"trip_id": "k2", "fare_amount": 12.5,
                                                          "seen": "yes"}


@pytest.mark.stack
def test_retried_firehose_batch_leaves_one_document_per_trip(local_stack, search) -> None:
    """The project's template and pipeline (viz/setup_index.py), the gold Firehose's settings."""
    import setup_index
    from taximl.config import Settings

    settings = Settings.namespaced(unique("idem"), opensearch_index=unique("idem-trips"),
                                   opensearch_endpoint=os.environ["OPENSEARCH_ENDPOINT"])
    setup_index.apply_template(settings)
    # GIVEN the gold stream of infra/streaming/firehose-gold.json: daily indices, Firehose ids
    name = create_search_stream(boto3.client("firehose"), make_bucket(), settings.opensearch_index,
                                IndexRotationPeriod="OneDay")
    trips = [json.dumps({"trip_id": f"trip-{i}", "fare_amount": 5.0 + i,
                         "event_time": "2026-01-01T00:00:00Z", "is_outlier": i % 3 == 0}).encode()
             + b"\n" for i in range(40)]
    firehose = boto3.client("firehose")
    pattern = f"{settings.opensearch_index}-*"
    # WHEN the same batch is delivered twice, as a retried Lambda invocation would
    for _ in range(2):
        out = firehose.put_record_batch(DeliveryStreamName=name,
                                        Records=[{"Data": t} for t in trips])
        assert out["FailedPutCount"] == 0
        wait_for(lambda: sum(_ids(search, pattern).values()) >= 40, timeout=30)
    # (a sentinel put last: the sink delivers in order, so once it is searchable both are in)
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b'{"trip_id": "sentinel"}'})
    wait_for(lambda: "sentinel" in _ids(search, pattern), timeout=30)
    # THEN there is one document per trip_id, whose _id is the trip_id
    ids = _ids(search, pattern)
    assert ids == collections.Counter({f"trip-{i}": 1 for i in range(40)} | {"sentinel": 1})
    assert search.count(index=pattern, body={"query": {"term": {"is_outlier": True}}})["count"] \
        == 14


@pytest.mark.stack
def test_pipelines_and_default_pipeline_survive_a_restart(local_stack, search) -> None:
    index, pipeline = unique("restart"), unique("ids")
    search.ingest.put_pipeline(id=pipeline, body=TRIP_ID)
    search.indices.create(index=index, body={"settings": {"index.default_pipeline": pipeline}})
    search.index(index=index, body={"trip_id": "before"}, refresh=True)
    local_stack.restart()
    search.index(index=index, body={"trip_id": "after"}, refresh=True)
    search.index(index=index, body={"trip_id": "after"}, refresh=True)
    assert search.ingest.get_pipeline(id=pipeline) == {pipeline: TRIP_ID}
    assert _ids(search, index) == collections.Counter({"before": 1, "after": 1})
