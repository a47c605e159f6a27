"""The live dashboard, locally: the panels of ``viz/panels/`` on a page served on 127.0.0.1.

Usage::

    python viz/dashboard.py [--port 5601] [--refresh 5]    # then open http://127.0.0.1:5601

(the local stack already runs one: ``DASHBOARD_URL`` in ``.local-stack/env.sh``). The page
renders the same Vega-Lite specs that ``import_dashboards.py`` imports into OpenSearch
Dashboards on AWS, with vega, vega-lite and vega-embed from ``local/node_modules`` (no CDN: it
works offline). For each panel the server resolves the spec's data url as Dashboards does
(:mod:`vega_query`) and runs the query against ``OPENSEARCH_ENDPOINT``: the local stack, or an
Amazon OpenSearch Service domain (``https://...``, signed with SigV4). The page refreshes every
``--refresh`` seconds (5 by default) and has a time range picker (last 15 minutes, last hour,
everything).
"""

from __future__ import annotations

import argparse
import json
import logging
import mimetypes
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for extra in (REPO, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from indices import quarantine_index  # noqa: E402
from panels import Panel, load_panels  # noqa: E402
from vega_query import TimeRange, VegaQueryError, resolve, search_params  # noqa: E402

log = logging.getLogger("viz.dashboard")

STATIC_DIR = HERE / "static"
NODE_MODULES = REPO / "local" / "node_modules"
#: What the page may load from /vendor/ (the pinned npm builds), and nothing else.
VENDOR = {
    "vega.min.js": NODE_MODULES / "vega" / "build" / "vega.min.js",
    "vega-lite.min.js": NODE_MODULES / "vega-lite" / "build" / "vega-lite.min.js",
    "vega-embed.min.js": NODE_MODULES / "vega-embed" / "build" / "vega-embed.min.js",
}
STATIC = {"index.html", "dashboard.js", "dashboard.css"}
RANGES = {"15m": ("Last 15 minutes", 15 * 60_000), "1h": ("Last hour", 3_600_000),
          "all": ("Everything", None)}
DEFAULT_RANGE = "15m"
FALLBACK_SPAN_MS = 15 * 60_000  # "everything" with no document yet
DEFAULT_PORT = 5601
# Vega compiles its expressions with Function(): 'unsafe-eval' is needed; nothing else is.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'none'")


@dataclass
class Dashboard:
    """What the server knows: the search client, index names, panels and refresh period."""

    client: Any
    trips_index: str
    quarantine_index: str
    panels: list[Panel]
    refresh_s: float = 5.0
    endpoint: str = ""
    _clock: Any = field(default=time.time, repr=False)

    @classmethod
    def from_settings(cls, settings: Any, refresh_s: float = 5.0) -> Dashboard:
        from search_client import search_client

        if not settings.opensearch_endpoint:
            raise KeyError("OPENSEARCH_ENDPOINT is not set (locally: source .local-stack/env.sh)")
        return cls(search_client(settings.opensearch_endpoint, settings.region),
                   settings.opensearch_index, quarantine_index(settings),
                   load_panels(settings), refresh_s, settings.opensearch_endpoint)

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """A search as the Dashboards search strategy sends it."""
        return self.client.search(index=index, body=body, params=search_params())

    def time_range(self, key: str) -> TimeRange:
        """The picker's choice as bounds; "everything" starts at the oldest document."""
        now = int(self._clock() * 1000)
        _label, span = RANGES.get(key, RANGES[DEFAULT_RANGE])
        if span is not None:
            return TimeRange(now - span, now)
        oldest = self.search(f"{self.trips_index}-*,{self.quarantine_index}-*", {
            "size": 0, "aggs": {"oldest": {"min": {"field": "event_time"}}}})
        value = ((oldest.get("aggregations") or {}).get("oldest") or {}).get("value")
        start = int(value) if value is not None else now - FALLBACK_SPAN_MS
        return TimeRange(min(start, now - 60_000), now)

    def catalogue(self) -> dict[str, Any]:
        return {
            "title": "Taxi fare anomalies",
            "refresh_s": self.refresh_s,
            "ranges": [{"key": k, "label": v[0]} for k, v in RANGES.items()],
            "default_range": DEFAULT_RANGE,
            "index": f"{self.trips_index}-*",
            "panels": [{"id": p.panel_id, "title": p.title, "w": p.size[0], "h": p.size[1]}
                       for p in self.panels],
        }

    def panel(self, panel_id: str, range_key: str) -> dict[str, Any]:
        """The panel's spec with its data resolved for the chosen time range."""
        found = next((p for p in self.panels if p.panel_id == panel_id), None)
        if found is None:
            raise LookupError(panel_id)
        bounds = self.time_range(range_key)
        spec = resolve(found.spec, bounds, self.search)
        return {"id": panel_id, "spec": spec, "from": bounds.min_ms, "to": bounds.max_ms}


def make_handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    """Routes: the page, its static files, the vendored Vega builds and the panel API."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "taxi-dashboard"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str,
                  cache: str = "no-store") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", cache)
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload, separators=(",", ":")).encode(),
                       "application/json; charset=utf-8")

        def _file(self, path: Path, cache: str = "no-store") -> None:
            if not path.is_file():
                self._json(404 if path.parent != NODE_MODULES else 503,
                           {"error": f"{path.name} not found (run: make setup)"})
                return
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            self._send(200, path.read_bytes(), kind, cache)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            try:
                if not parts:
                    self._file(STATIC_DIR / "index.html")
                elif parts == ["_health"]:
                    self._json(200, {"status": "ok"})
                elif len(parts) == 2 and parts[0] == "static" and parts[1] in STATIC:
                    self._file(STATIC_DIR / parts[1])
                elif len(parts) == 2 and parts[0] == "vendor" and parts[1] in VENDOR:
                    self._file(VENDOR[parts[1]], cache="max-age=3600")
                elif parts == ["api", "panels"]:
                    self._json(200, dashboard.catalogue())
                elif len(parts) == 3 and parts[:2] == ["api", "panels"]:
                    query = parse_qs(url.query)
                    range_key = (query.get("range") or [DEFAULT_RANGE])[0]
                    self._json(200, dashboard.panel(parts[2], range_key))
                else:
                    self._json(404, {"error": "not found"})
            except LookupError:
                self._json(404, {"error": "no such panel"})
            except VegaQueryError as exc:
                self._json(400, {"error": str(exc)})
            except Exception as exc:  # OpenSearch unreachable, a query it rejects
                log.warning("panel request %s failed: %s", self.path, exc)
                self._json(502, {"error": f"{type(exc).__name__}: {exc}"[:500]})

        do_HEAD = do_GET

    return Handler


def make_server(dashboard: Dashboard, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(dashboard))
    server.daemon_threads = True
    return server


def missing_vendor_files() -> list[str]:
    return [name for name, path in VENDOR.items() if not path.is_file()]


def main(argv: list[str] | None = None) -> int:
    from taximl.config import Settings

    parser = argparse.ArgumentParser(description="Serve the live dashboard on 127.0.0.1.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--refresh", type=float, default=5.0, help="seconds between refreshes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        dashboard = Dashboard.from_settings(Settings.from_env(), args.refresh)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    missing = missing_vendor_files()
    if missing:
        print(f"error: {', '.join(missing)} missing in local/node_modules: run `make setup` "
              "(or `python -m local setup`)", file=sys.stderr)
        return 1
    server = make_server(dashboard, args.host, args.port)
    print(f"dashboard http://{args.host}:{server.server_port}/  "
          f"({len(dashboard.panels)} panels from {dashboard.trips_index}-* on "
          f"{dashboard.endpoint}, refresh {args.refresh:g} s; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        threading.Thread(target=server.server_close, daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
