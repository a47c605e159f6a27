"""The live dashboard on the local stack: data resolved as Dashboards does, rendered in Chromium.

Sample documents shaped like the Lambda's output are indexed through the project's templates
and pipelines; the page is opened in Debian's headless Chromium (Playwright) and checked as a
person would look at it: every panel drawn, the totals equal to a direct query, hostile text
shown as text, no error, nothing fetched from outside 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest

import dashboard
import node_render
from browser import open_page, wait_rendered
from indices import quarantine_index
from panels import load_panels
from viz_data import HOSTILE

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def page_url(viz_settings, indexed) -> Iterator[str]:
    board = dashboard.Dashboard.from_settings(viz_settings, refresh_s=2.0)
    server = dashboard.make_server(board, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _direct_totals(search, settings) -> tuple[int, int]:
    pattern = f"{settings.opensearch_index}-*"
    trips = search.count(index=pattern)["count"]
    outliers = search.count(index=pattern, body={"query": {"term": {"is_outlier": True}}})
    return trips, outliers["count"]


def test_resolved_panels_render_the_indexed_data(viz_settings, search, indexed) -> None:
    board = dashboard.Dashboard.from_settings(viz_settings)
    resolved = [board.panel(p.panel_id, "1h") for p in load_panels(viz_settings)]
    results = node_render.render([r["spec"] for r in resolved])
    by_id = {r["id"]: out for r, out in zip(resolved, results, strict=True)}
    assert {k: v.get("error") for k, v in by_id.items() if not v["ok"]} == {}
    assert {k for k, v in by_id.items() if v["marks"] == 0} == set()
    trips, outliers = _direct_totals(search, viz_settings)
    assert (trips, outliers) == (indexed.trips, indexed.outliers)
    assert by_id["totals"]["texts"][:3] == [f"{trips:,}", f"{outliers:,}",
                                           f"{outliers / trips:.2%}"]
    table = by_id["latest_outliers"]["texts"]
    assert "Upper East Side South → Newark Airport" in table  # zone names, not ids
    assert by_id["outliers_by_hour"]["marks"] == len(indexed.outlier_hours) > 1


def test_page_shows_every_panel_with_the_data(page_url, viz_settings, search, indexed,
                                              tmp_path) -> None:
    shot = tmp_path / "dashboard.png"
    with open_page(page_url) as (page, record):
        page.goto(page_url + "/?range=1h")
        wait_rendered(page, refreshes=2)  # refreshed on its own at least once
        states = page.eval_on_selector_all(
            "[data-panel]", "els => els.map(e => [e.dataset.panel, e.dataset.state, "
                            "e.querySelectorAll('svg *').length])")
        svg_text = page.eval_on_selector_all(
            "[data-panel] svg text", "els => els.map(e => e.textContent)")
        pwned = page.evaluate("() => window.__pwned === undefined ? null : window.__pwned")
        injected = page.eval_on_selector_all("[data-panel] img, [data-panel] script",
                                             "els => els.length")
        page.select_option("#range", "all")
        page.wait_for_function("document.body.dataset.refreshes >= 3", timeout=60_000)
        after_range = page.eval_on_selector_all("[data-panel]", "els => els.map("
                                                "e => e.dataset.state)")
        page.screenshot(path=str(shot), full_page=True)
    assert len(states) == len(load_panels(viz_settings)) == 11
    assert [s for s in states if s[1] != "ok" or s[2] < 10] == []
    assert set(after_range) == {"ok"}
    trips, outliers = _direct_totals(search, viz_settings)
    for shown in (f"{trips:,}", f"{outliers:,}", f"{outliers / trips:.2%}"):
        assert shown in svg_text
    # hostile quarantine reasons are shown as text, never run or parsed as HTML
    assert pwned is None and injected == 0
    assert any(HOSTILE[0] in text for text in svg_text)
    assert record.console_errors == []
    assert record.external == [] and record.requests
    assert all(u.startswith(page_url) or u.startswith("data:") for u in record.requests)
    assert shot.stat().st_size > 50_000


def test_page_serves_no_cdn_and_a_strict_policy(page_url) -> None:
    with urllib.request.urlopen(page_url + "/", timeout=10) as response:
        html = response.read().decode()
        policy = response.headers["Content-Security-Policy"]
    assert "http" not in html.replace(page_url, "")
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    for name in dashboard.VENDOR:
        with urllib.request.urlopen(f"{page_url}/vendor/{name}", timeout=10) as response:
            assert response.status == 200 and len(response.read()) > 50_000


def test_stack_runs_the_dashboard_and_exports_its_url(local_stack) -> None:
    url = local_stack.env["DASHBOARD_URL"]
    assert url == local_stack.endpoint("dashboard")
    with urllib.request.urlopen(url + "/api/panels", timeout=10) as response:
        catalogue = json.loads(response.read())
    assert catalogue["refresh_s"] <= 5
    assert [r["key"] for r in catalogue["ranges"]] == ["15m", "1h", "all"]
    assert len(catalogue["panels"]) == 11


def test_quarantine_index_holds_the_reasons(viz_settings, search, indexed) -> None:
    pattern = f"{quarantine_index(viz_settings)}-*"
    result = search.search(index=pattern, body={"size": 0, "aggs": {
        "r": {"terms": {"field": "reason", "size": 50}}}})
    counts = {b["key"]: b["doc_count"] for b in result["aggregations"]["r"]["buckets"]}
    assert counts == indexed.reasons
