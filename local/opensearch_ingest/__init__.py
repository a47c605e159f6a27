"""Local stand-in for OpenSearch's ingest pipelines, in front of osmem-server.

osmem-server (the local OpenSearch) has no ``_ingest`` API and rejects writes to an index whose
``index.default_pipeline`` it cannot find. This package supplies that piece the way an OpenSearch
node does, so that the same index template and pipeline JSON work locally and on Amazon
OpenSearch Service:

- :mod:`.mustache`: the ``{{field}}`` templates of processor options;
- :mod:`.processors`: the processors (``set``, ``remove``, ``rename``, ``lowercase``,
  ``uppercase``, ``trim``), validated when a pipeline is stored;
- :mod:`.pipelines`: the persistent pipeline store and the pipeline runner;
- :mod:`.proxy`: the HTTP front: ``_ingest/pipeline`` CRUD and ``_simulate``, and every
  document write (``_bulk``, ``_doc``, ``_create``) run through ``?pipeline=`` or the index's
  ``index.default_pipeline`` before it reaches osmem; everything else passes through.

:mod:`local.services.opensearch` runs osmem as a child process behind this front.
"""

from local.opensearch_ingest.errors import IngestError
from local.opensearch_ingest.pipelines import Pipeline, PipelineStore

__all__ = ["IngestError", "Pipeline", "PipelineStore"]
