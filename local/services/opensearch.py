"""The local OpenSearch: osmem-server as a child process behind the ingest stand-in.

Run: ``python -m local.services.opensearch --host 127.0.0.1 --port 4572 --state-dir DIR``.
Clients reach it through ``OPENSEARCH_ENDPOINT``. osmem listens on a free loopback port chosen
at start and exits with this process (``-parent-pid`` and its stdin), so a killed front never
leaves an orphan. ``GET /_health`` answers 200 once osmem answers. Pipelines are kept in
``DIR/pipelines.json``; documents, templates and indices are dumped and reloaded by the stack
(:mod:`local.opensearch_state`). If osmem dies, this process exits too, so that
``python -m local start`` brings the whole service back.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local.opensearch_ingest import PipelineStore
from local.opensearch_ingest.proxy import IngestProxy, Response, Upstream
from local.services.serving import configure_logging, serve_until_signal, service_parser

log = logging.getLogger("local.services.opensearch")

PIPELINES_FILE = "pipelines.json"
ENV_OSMEM_ARGS = "LOCAL_OPENSEARCH_OSMEM_ARGS"  # extra osmem-server flags, space-separated
#: Go's GC target for osmem (``GOGC``), unless the environment sets one. Indexing allocates a lot
#: of short-lived memory: 200 cuts the local OpenSearch's CPU by ~17 % for ~1.3x its peak RSS
#: against Go's default 100 (400: ~21 % for ~1.9x). Figures in local/README.md.
DEFAULT_GOGC = "200"


def start_osmem(binary: str, host: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start osmem on a free port of ``host``; returns the process and its base URL."""
    extra = os.environ.get(ENV_OSMEM_ARGS, "").split()
    env = {**os.environ, "GOGC": os.environ.get("GOGC") or DEFAULT_GOGC}
    proc = subprocess.Popen(
        [binary, "-addr", f"{host}:0", "-parent-pid", str(os.getpid()), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # {"url": "http://127.0.0.1:PORT", "pid": ..., ...}
    try:
        url = json.loads(first)["url"]
    except (ValueError, KeyError, TypeError):
        proc.kill()
        proc.wait()
        raise SystemExit(f"osmem-server did not start ({binary}): {first!r}") from None
    threading.Thread(target=_drain, args=(proc,), daemon=True).start()
    return proc, url


def _drain(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        log.info("osmem: %s", line.decode(errors="replace").rstrip())


def make_handler(proxy: IngestProxy) -> type[BaseHTTPRequestHandler]:
    """An HTTP/1.1 keep-alive handler that hands every request to ``proxy``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-opensearch"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if urlsplit(self.path).path == "/_health":
                resp = self._health()
            else:
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    resp = proxy.handle(self.command, self.path, body, headers)
                except (ConnectionError, OSError) as exc:
                    resp = Response.json(503, {"error": f"osmem unavailable: {exc}",
                                               "status": 503})
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", "0" if self.command == "HEAD"
                             else str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        def _health(self) -> Response:
            try:
                ok = proxy.upstream.request("GET", "/").status == 200
            except OSError:
                ok = False
            return Response.json(200 if ok else 503, {"status": "ok" if ok else "starting"})

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    return Handler


def main(argv: list[str] | None = None) -> int:
    args = service_parser("Local OpenSearch: osmem-server behind the ingest stand-in")\
        .parse_args(argv)
    configure_logging(args.log_level)
    from local.stack import osmem_binary

    osmem, url = start_osmem(str(osmem_binary()), args.host)
    target = urlsplit(url)
    proxy = IngestProxy(PipelineStore(args.state_dir / PIPELINES_FILE),
                        Upstream(target.hostname or args.host, target.port or 80))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(proxy))
    server.daemon_threads = True

    def watch() -> None:
        code = osmem.wait()
        log.error("osmem-server exited (code %s): stopping", code)
        server.shutdown()

    threading.Thread(target=watch, daemon=True).start()
    log.info("opensearch listening on http://%s:%s (osmem at %s)", args.host, args.port, url)

    def stop_osmem() -> None:
        if osmem.poll() is None:
            osmem.terminate()
            try:
                osmem.wait(timeout=10)
            except subprocess.TimeoutExpired:
                osmem.kill()
                osmem.wait()

    serve_until_signal("opensearch", server, on_stop=stop_osmem)
    return 0 if osmem.returncode in (None, 0, -15) else 1


if __name__ == "__main__":
    sys.exit(main())
