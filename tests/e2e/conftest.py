"""End-to-end fixture: a deployed streaming path on the local stack."""

from __future__ import annotations

import pytest

from e2e_helpers import generate


@pytest.fixture(scope="module")
def pipeline(local_stack, tmp_path_factory):
    """Model endpoint + steps 3-5 deployed under the prefix ``e2e-stream`` (1 s buffers)."""
    import deploy
    import e2e_model
    from taximl.config import Settings

    data = tmp_path_factory.mktemp("e2e-data")
    settings = Settings.namespaced("e2e-stream",
                                   opensearch_endpoint=local_stack.env["OPENSEARCH_ENDPOINT"])
    train = generate(data / "train.csv", rows=20_000, seed=7)
    variant = e2e_model.deploy_quick_model(settings, train)
    deploy.deploy_streaming(settings, buffer_seconds=1, shards=2, say=lambda m: None)
    return {"settings": settings, "variant": variant, "data": data}
