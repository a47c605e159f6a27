"""The panel specs and the saved objects generated from them (no services needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import node_render
import saved_objects
from panels import LAYOUT, load_panels, panel_files, zones
from taximl.config import Settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


@pytest.fixture(scope="module")
def default_settings() -> Settings:
    return Settings.from_env({})


def _query_data(spec: dict) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("url"), dict):
                found.append(data)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def test_every_panel_queries_a_family_and_follows_the_time_picker(default_settings) -> None:
    panels = load_panels(default_settings)
    assert len(panels) == len(panel_files()) >= 11
    assert {p.panel_id for p in panels} == set(LAYOUT)
    for panel in panels:
        assert panel.spec["$schema"] == SCHEMA, panel.panel_id
        [data] = _query_data(panel.spec)
        url = data["url"]
        assert url["index"] in ("taxi-predictions-*", "taxi-quarantine-*"), panel.panel_id
        assert isinstance(url["body"], dict) and data["format"]["property"]
        text = json.dumps(url)
        # the panel obeys the time range: context + time field, or an explicit %timefilter%
        assert (url.get("%context%") is True and url.get("%timefield%") == "event_time") \
            or '"%timefilter%": true' in text, panel.panel_id


def test_zone_table_is_the_tlc_one() -> None:
    table = {z["LocationID"]: (z["Borough"], z["Zone"]) for z in zones()}
    assert len(table) == 265
    assert table[1] == ("EWR", "Newark Airport") and table[132] == ("Queens", "JFK Airport")
    assert table[161] == ("Manhattan", "Midtown Center")


BUCKETS = {"terms", "date_histogram", "histogram", "composite"}


def _empty_aggs(aggs: dict) -> dict:
    """What OpenSearch answers for ``aggs`` over no documents."""
    out = {}
    for name, agg in aggs.items():
        kind = next(k for k in agg if k != "aggs")
        if kind in BUCKETS:
            out[name] = {"buckets": []}
        elif kind == "filter":
            out[name] = {"doc_count": 0, **_empty_aggs(agg.get("aggs", {}))}
        else:
            out[name] = {"value": None}
    return out


def test_every_spec_compiles_and_renders_with_vega_lite(default_settings) -> None:
    panels = load_panels(default_settings)
    specs = []
    for panel in panels:  # the answer to the panel's query over an empty index
        spec = json.loads(json.dumps(panel.spec))
        for data in _query_data(spec):
            body = data.pop("url")["body"]
            data["values"] = {"hits": {"total": 0, "hits": []},
                              "aggregations": _empty_aggs(body.get("aggs", {}))}
        specs.append(spec)
    results = node_render.render(specs)
    failures = {p.panel_id: r.get("error") for p, r in zip(panels, results, strict=True)
                if not r["ok"]}
    assert failures == {}
    assert all(r["svg"].startswith("<svg") for r in results)


def test_committed_ndjson_is_generated_from_the_specs(default_settings) -> None:
    expected = saved_objects.to_ndjson(saved_objects.saved_objects(default_settings))
    committed = (REPO / "viz" / "dashboards.ndjson").read_text(encoding="utf-8")
    assert committed == expected, "regenerate: python viz/import_dashboards.py --out " \
                                  "viz/dashboards.ndjson --no-import (default names)"


def test_saved_objects_structure(default_settings) -> None:
    objects = [json.loads(line) for line in
               saved_objects.to_ndjson(saved_objects.saved_objects(default_settings))
               .splitlines()]
    kinds = [o["type"] for o in objects]
    assert kinds == ["index-pattern"] * 2 + ["visualization"] * 11 + ["dashboard"]
    assert len({o["id"] for o in objects}) == len(objects)
    patterns = {o["attributes"]["title"]: o["attributes"]["timeFieldName"]
                for o in objects if o["type"] == "index-pattern"}
    assert patterns == {"taxi-predictions-*": "event_time",
                        "taxi-quarantine-*": "event_time"}
    panels = {p.title: p.spec for p in load_panels(default_settings)}
    visualizations = {o["id"]: o for o in objects if o["type"] == "visualization"}
    for vis in visualizations.values():
        state = json.loads(vis["attributes"]["visState"])
        assert state["type"] == "vega" and state["aggs"] == []
        assert json.loads(state["params"]["spec"]) == panels[state["title"]]
        assert json.loads(vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    [board] = [o for o in objects if o["type"] == "dashboard"]
    attrs = board["attributes"]
    assert attrs["timeRestore"] is True and attrs["timeFrom"] == "now-15m"
    assert attrs["refreshInterval"] == {"pause": False, "value": 5000}
    grid = json.loads(attrs["panelsJSON"])
    refs = {r["name"]: r["id"] for r in board["references"]}
    assert sorted(refs.values()) == sorted(visualizations)
    assert [refs[p["panelRefName"]] for p in grid] == list(visualizations)
    cells = set()
    for panel in grid:
        g = panel["gridData"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 48 and g["h"] > 0
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, f"panel {panel['panelIndex']} overlaps another"
        cells |= area


def test_index_names_follow_the_settings() -> None:
    custom = Settings.from_env({"OPENSEARCH_INDEX": "my-trips", "QUARANTINE_INDEX": "my-bad"})
    text = saved_objects.to_ndjson(saved_objects.saved_objects(custom))
    assert "my-trips-*" in text and "my-bad-*" in text
    assert "taxi-predictions" not in text and "${" not in text
