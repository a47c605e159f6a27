"""The OpenSearch service of the stack: killed, it comes back with ``start()`` as a whole.

Fault tests kill a service's process and call ``Stack.start()``; for OpenSearch the process is
the ingest front, and osmem (its child) must go with it and come back with it, with the last
dump reloaded and the pipelines kept.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from local.settings import StackConfig
from local.stack import Stack
from polling import wait_for

pytestmark = pytest.mark.stack

PIPELINE = {"processors": [{"set": {"field": "_id", "value": "{{{trip_id}}}"}}]}


@pytest.fixture()
def private_stack(tmp_path):
    base = int(os.environ.get("LOCAL_STACK_TEST_PORT_BASE", "4766")) + 50
    stack = Stack(StackConfig.from_env(base, tmp_path / "state"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_killed_opensearch_comes_back_with_its_pipelines_and_last_dump(private_stack) -> None:
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[private_stack.endpoint("opensearch")], timeout=30)
    client.ingest.put_pipeline(id="ids", body=PIPELINE)
    client.indices.create(index="trips", body={"settings": {"index.default_pipeline": "ids"}})
    client.index(index="trips", body={"trip_id": "dumped"}, refresh=True)
    private_stack.stop()  # a clean stop dumps the documents
    private_stack.start()
    client.index(index="trips", body={"trip_id": "lost"}, refresh=True)  # never dumped
    rows = {row.name: row for row in private_stack.status()}
    front = psutil.Process(rows["opensearch"].pid)
    [engine] = front.children()
    # WHEN the service's process is killed
    os.kill(front.pid, signal.SIGKILL)
    wait_for(lambda: not engine.is_running() or engine.status() == psutil.STATUS_ZOMBIE,
             timeout=15)
    assert not {row.name: row for row in private_stack.status()}["opensearch"].running
    # THEN start() brings it back: last dump reloaded, pipelines kept, default pipeline applied
    result = private_stack.start()
    assert result.started == ["opensearch"]
    client.index(index="trips", body={"trip_id": "after"}, refresh=True)
    client.index(index="trips", body={"trip_id": "after"}, refresh=True)
    ids = sorted(h["_id"] for h in client.search(index="trips", body={"size": 10})["hits"]["hits"])
    assert ids == ["after", "dumped"]
    assert client.ingest.get_pipeline(id="ids") == {"ids": PIPELINE}


@pytest.mark.parametrize(("given", "expected"), [(None, "200"), ("100", "100")])
def test_osmem_runs_with_gogc_200_unless_the_environment_sets_it(monkeypatch, given, expected):
    """The GC target that makes indexing ~17 % cheaper (local/README.md), and its override."""
    from local.services.opensearch import start_osmem
    from local.stack import osmem_binary

    if given is None:
        monkeypatch.delenv("GOGC", raising=False)
    else:
        monkeypatch.setenv("GOGC", given)
    proc, url = start_osmem(str(osmem_binary()), "127.0.0.1")
    try:
        assert url.startswith("http://127.0.0.1:")
        assert psutil.Process(proc.pid).environ().get("GOGC") == expected
    finally:
        proc.kill()
        proc.wait(timeout=10)
