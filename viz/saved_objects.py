"""The OpenSearch Dashboards saved objects of the dashboard, generated from ``panels/``.

One index pattern per index family (time field ``event_time``), one Vega visualization per
panel (``visState.params.spec`` is the panel's spec, names and zone table filled in) and one
dashboard that lays them out on Dashboards' 48-column grid, opening on the last 15 minutes with a
5 s auto-refresh. :func:`to_ndjson` writes the export format that the saved-objects import API
(and Dashboards Management > Saved objects > Import) reads.
"""

from __future__ import annotations

import json
from typing import Any

from indices import quarantine_index
from panels import Panel, load_panels

DASHBOARD_ID = "taxi-fare-anomalies"
DASHBOARD_TITLE = "Taxi fare anomalies (ST1630)"
GRID_COLUMNS = 48
#: The migration versions Dashboards stamps on exported objects of each type.
MIGRATION = {"index-pattern": "7.6.0", "visualization": "7.10.0", "dashboard": "7.9.3"}
EMPTY_SEARCH = json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def index_pattern(pattern: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "type": "index-pattern",
            "attributes": {"title": pattern, "timeFieldName": "event_time"},
            "references": [], "migrationVersion": {"index-pattern": MIGRATION["index-pattern"]}}


def visualization(panel: Panel) -> dict[str, Any]:
    """A Vega visualization whose spec is the panel's (pretty-printed, as users edit it)."""
    spec_text = json.dumps(panel.spec, indent=2, ensure_ascii=False)
    vis_state = {"title": panel.title, "type": "vega", "aggs": [],
                 "params": {"spec": spec_text}}
    return {
        "id": f"taxi-{panel.panel_id.replace('_', '-')}",
        "type": "visualization",
        "attributes": {
            "title": panel.title, "description": "", "version": 1, "uiStateJSON": "{}",
            "visState": _compact(vis_state),
            "kibanaSavedObjectMeta": {"searchSourceJSON": EMPTY_SEARCH},
        },
        "references": [], "migrationVersion": {"visualization": MIGRATION["visualization"]},
    }


def layout(panels: list[Panel]) -> list[dict[str, int]]:
    """Row-major placement on the 48-column grid (a row closes when it is full)."""
    placed, x, y, row_height = [], 0, 0, 0
    for panel in panels:
        w, h = panel.size
        if x + w > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        placed.append({"x": x, "y": y, "w": w, "h": h})
        x += w
        row_height = max(row_height, h)
    return placed


def dashboard(panels: list[Panel], visualizations: list[dict[str, Any]]) -> dict[str, Any]:
    grid = layout(panels)
    panels_json = [{"version": "2.0.0", "gridData": {**grid[i], "i": str(i + 1)},
                    "panelIndex": str(i + 1), "embeddableConfig": {},
                    "panelRefName": f"panel_{i}"} for i in range(len(panels))]
    return {
        "id": DASHBOARD_ID,
        "type": "dashboard",
        "attributes": {
            "title": DASHBOARD_TITLE,
            "description": "Live view of the scored taxi trips (ST1630 step 7)",
            "hits": 0, "version": 1, "timeRestore": True, "timeFrom": "now-15m",
            "timeTo": "now", "refreshInterval": {"pause": False, "value": 5000},
            "optionsJSON": _compact({"useMargins": True, "hidePanelTitles": True}),
            "panelsJSON": _compact(panels_json),
            "kibanaSavedObjectMeta": {"searchSourceJSON": EMPTY_SEARCH},
        },
        "references": [{"name": f"panel_{i}", "type": "visualization", "id": vis["id"]}
                       for i, vis in enumerate(visualizations)],
        "migrationVersion": {"dashboard": MIGRATION["dashboard"]},
    }


def saved_objects(settings: Any) -> list[dict[str, Any]]:
    """Index patterns, visualizations and the dashboard, in import order."""
    panels = load_panels(settings)
    visualizations = [visualization(p) for p in panels]
    return [index_pattern(f"{settings.opensearch_index}-*", settings.opensearch_index),
            index_pattern(f"{quarantine_index(settings)}-*", quarantine_index(settings)),
            *visualizations, dashboard(panels, visualizations)]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    """One object per line (the export format)."""
    return "".join(_compact(obj) + "\n" for obj in objects)
