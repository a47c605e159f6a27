"""``python viz/import_dashboards.py`` posts the NDJSON to the saved-objects import API, signed.

A stand-in for the Dashboards endpoint runs on 127.0.0.1 and records what it receives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import import_dashboards
import saved_objects
from taximl.config import Settings


@pytest.fixture
def dashboards() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            ok = self.headers.get("osd-xsrf") == "true"
            answer = {"success": True, "successCount": body.count(b'{"id":')} if ok else \
                {"statusCode": 400, "message": "Request must contain a osd-xsrf header."}
            data = json.dumps(answer).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/_dashboards", received
    finally:
        server.shutdown()
        server.server_close()


def test_import_posts_the_saved_objects_signed_with_sigv4(dashboards, monkeypatch, capsys,
                                                         tmp_path) -> None:
    url, received = dashboards
    for name in ("OPENSEARCH_INDEX", "PROJECT_PREFIX", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    out = tmp_path / "objects.ndjson"
    code = import_dashboards.main(["--dashboards-url", url, "--sigv4", "yes", "--out", str(out)])
    assert code == 0
    [request] = received
    assert request["path"] == "/_dashboards/api/saved_objects/_import?overwrite=true"
    assert request["headers"]["osd-xsrf"] == "true"
    auth = request["headers"]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/es/aws4_request" in auth
    expected = saved_objects.to_ndjson(saved_objects.saved_objects(Settings.from_env()))
    assert out.read_text(encoding="utf-8") == expected
    assert b'filename="dashboards.ndjson"' in request["body"]
    assert expected.encode() in request["body"]
    printed = capsys.readouterr().out
    assert "imported 14 saved objects" in printed
    assert f"{url}/app/dashboards#/view/taxi-fare-anomalies" in printed


def test_import_reports_a_refusal(dashboards, monkeypatch, capsys) -> None:
    url, _ = dashboards
    monkeypatch.setattr(import_dashboards, "import_ndjson",
                        lambda *a, **k: {"success": False, "errors": [
                            {"type": "visualization", "id": "taxi-totals",
                             "error": {"type": "unknown"}}]})
    assert import_dashboards.main(["--dashboards-url", url, "--sigv4", "no"]) == 1
    assert "taxi-totals" in capsys.readouterr().err
