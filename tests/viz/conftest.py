"""Fixtures of the visualization tests: a namespaced pair of index families with sample data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO / "viz", Path(__file__).resolve().parent):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


@pytest.fixture(scope="module")
def viz_settings(local_stack):
    """Settings of a pipeline of its own (``viz-<module>``) on the session's local stack."""
    from taximl.config import Settings

    return Settings.namespaced("viztest", opensearch_index="viztest-trips",
                               opensearch_endpoint=os.environ["OPENSEARCH_ENDPOINT"])


@pytest.fixture(scope="module")
def search(viz_settings):
    from search_client import search_client

    return search_client(viz_settings.opensearch_endpoint, viz_settings.region)


@pytest.fixture(scope="module")
def indexed(viz_settings, search):
    """450 scored trips (two model versions) and 9 quarantined records, 4 of them hostile."""
    import viz_data

    return viz_data.index_sample(search, viz_settings)
