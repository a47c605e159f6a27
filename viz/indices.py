"""Names and definitions of the two index families, their templates and ingest pipelines.

- scored trips: ``<OPENSEARCH_INDEX>-*`` (``taxi-predictions-*``, the course's name), template
  ``opensearch_index_mapping.json``, pipeline ``ingest_pipeline.json`` (``_id`` = ``trip_id``);
- quarantined records: ``<QUARANTINE_INDEX>-*`` (``taxi-quarantine-*``), template
  ``quarantine_index_mapping.json``, pipeline ``quarantine_ingest_pipeline.json``
  (``_id`` = Kinesis sequence number).

Firehose writes daily indices of both (``IndexRotationPeriod: OneDay``); the same JSON files are
used on Amazon OpenSearch Service and on the local stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class IndexFamily:
    """One family of daily indices: its base name, template and ingest pipeline."""

    base: str
    template_file: Path
    pipeline_file: Path
    placeholder: str
    pipeline_suffix: str

    @property
    def pattern(self) -> str:
        """The index pattern of the family (``taxi-predictions-*``)."""
        return f"{self.base}-*"

    @property
    def template_name(self) -> str:
        return f"{self.base}-template"

    @property
    def pipeline_name(self) -> str:
        return f"{self.base}-{self.pipeline_suffix}"

    def template(self) -> dict[str, Any]:
        """The composable index template with the names filled in."""
        text = self.template_file.read_text(encoding="utf-8")
        return json.loads(text.replace(f"${{{self.placeholder}}}", self.base))

    def pipeline(self) -> dict[str, Any]:
        return json.loads(self.pipeline_file.read_text(encoding="utf-8"))


def quarantine_index(settings: Any) -> str:
    """Base name of the quarantine indices (the quarantine Firehose's ``IndexName``)."""
    return str(settings.quarantine_index)


def trips_family(settings: Any) -> IndexFamily:
    return IndexFamily(settings.opensearch_index, HERE / "opensearch_index_mapping.json",
                       HERE / "ingest_pipeline.json", "OPENSEARCH_INDEX", "trip-id")


def quarantine_family(settings: Any) -> IndexFamily:
    return IndexFamily(quarantine_index(settings), HERE / "quarantine_index_mapping.json",
                       HERE / "quarantine_ingest_pipeline.json", "QUARANTINE_INDEX", "record-id")


def families(settings: Any) -> tuple[IndexFamily, IndexFamily]:
    return trips_family(settings), quarantine_family(settings)
