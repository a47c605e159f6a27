"""The dashboard's panels: Vega-Lite specs in the OpenSearch Dashboards Vega format.

Each ``panels/NN_<id>.json`` is written once and used twice: imported into OpenSearch Dashboards
on AWS (``import_dashboards.py``) and rendered by the local page (``dashboard.py``). In the
files, ``${OPENSEARCH_INDEX}`` and ``${QUARANTINE_INDEX}`` stand for the index names of the
settings; a spec that looks zones up (``{"data": {"name": "tlc_zones"}}``) gets the TLC zone
table (``taxi_zones.csv``) as the inline dataset ``tlc_zones``, since Dashboards loads no files.
"""

from __future__ import annotations

import copy
import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from indices import quarantine_index

HERE = Path(__file__).resolve().parent
PANELS_DIR = HERE / "panels"
ZONES_FILE = HERE / "taxi_zones.csv"
ZONES_DATASET = "tlc_zones"

#: Grid size of each panel on a 48-column dashboard (OpenSearch Dashboards' grid): (w, h).
LAYOUT: dict[str, tuple[int, int]] = {
    "totals": (24, 6),
    "model_versions": (24, 6),
    "fares_over_time": (24, 14),
    "outlier_rate": (24, 14),
    "trips_per_second": (24, 12),
    "drift_mae": (24, 12),
    "outliers_by_zone": (24, 16),
    "outliers_by_hour": (24, 16),
    "residuals_by_version": (24, 14),
    "quarantine_by_reason": (24, 14),
    "latest_outliers": (48, 16),
}


@dataclass(frozen=True)
class Panel:
    """One visualization: its id (file name without the number), title and spec."""

    panel_id: str
    title: str
    spec: dict[str, Any]

    @property
    def size(self) -> tuple[int, int]:
        return LAYOUT.get(self.panel_id, (24, 12))


@cache
def zones() -> tuple[dict[str, Any], ...]:
    """The TLC zone table: ``LocationID`` (int), ``Borough``, ``Zone``."""
    with open(ZONES_FILE, encoding="utf-8", newline="") as fh:
        return tuple({"LocationID": int(r["LocationID"]), "Borough": r["Borough"],
                      "Zone": r["Zone"]} for r in csv.DictReader(fh))


def _uses_zones(node: Any) -> bool:
    if isinstance(node, dict):
        if node.get("name") == ZONES_DATASET and set(node) == {"name"}:
            return True
        return any(_uses_zones(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_zones(v) for v in node)
    return False


def panel_files() -> list[Path]:
    return sorted(PANELS_DIR.glob("[0-9][0-9]_*.json"))


def load_panels(settings: Any) -> list[Panel]:
    """Every panel with the index names of ``settings`` and the zone table filled in."""
    names = {"${OPENSEARCH_INDEX}": settings.opensearch_index,
             "${QUARANTINE_INDEX}": quarantine_index(settings)}
    panels = []
    for path in panel_files():
        text = path.read_text(encoding="utf-8")
        for placeholder, value in names.items():
            text = text.replace(placeholder, value)
        spec = json.loads(text)
        if _uses_zones(spec):
            spec.setdefault("datasets", {})[ZONES_DATASET] = [dict(z) for z in zones()]
        panel_id = path.stem.split("_", 1)[1]
        panels.append(Panel(panel_id, spec.get("title", panel_id), spec))
    return panels


def copy_spec(panel: Panel) -> dict[str, Any]:
    return copy.deepcopy(panel.spec)
