"""data/download.py against a local HTTP server on 127.0.0.1 (no real network)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import download
from download import main, month_range, parse_month, zones_url_for
from generate import generate
from synth_trips import GenConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
ZONES_CSV = b'"LocationID","Borough","Zone","service_zone"\n1,"EWR","Newark Airport","EWR"\n'


@dataclass
class FakeTlc:
    """Files served under /trip-data/ and /misc/, plus switches to misbehave."""

    files: dict[str, bytes]
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    cut_once: dict[str, int] = field(default_factory=dict)  # send N body bytes, then drop
    lie_total: set[str] = field(default_factory=set)  # announce a bigger file than exists
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/trip-data/"

    def gets(self) -> list[tuple[str, str | None]]:
        return [(path, rng) for method, path, rng in self.log if method == "GET"]


def _handler(tlc: FakeTlc) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            rng = self.headers.get("Range")
            tlc.log.append((self.command, self.path, rng))
            data = tlc.files.get(self.path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "9")
                self.end_headers()
                if body:
                    self.wfile.write(b"not found")
                return
            total = len(data)
            start = 0
            if rng and body:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= total:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            payload = data[start:]
            announced = total + 1000 if self.path in tlc.lie_total else total
            if rng and body:
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{total - 1}/{announced}")
                self.send_header("Content-Length", str(len(payload)))
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(announced - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not body:
                return
            cut = tlc.cut_once.pop(self.path, None)
            if cut is not None:
                self.wfile.write(payload[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if self.path in tlc.lie_total and not rng:
                self.wfile.write(payload)
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(payload)

    return Handler


@pytest.fixture(scope="module")
def parquet_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("tlc") / "month.parquet"
    generate(GenConfig(rows=5000, seed=1), path)
    return path.read_bytes()


@pytest.fixture
def tlc(parquet_bytes: bytes) -> Iterator[FakeTlc]:
    green = parquet_bytes[:-4] + b"PAR1"  # distinct path, same valid framing
    fake = FakeTlc(files={
        "/trip-data/yellow_tripdata_2024-01.parquet": parquet_bytes,
        "/trip-data/yellow_tripdata_2024-02.parquet": parquet_bytes,
        "/trip-data/green_tripdata_2024-01.parquet": green,
        "/trip-data/green_tripdata_2024-02.parquet": green,
        "/misc/taxi_zone_lookup.csv": ZONES_CSV,
    })
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tlc_url: str, cache: Path, *extra: str) -> int:
    return main(["--base-url", tlc_url, "--cache-dir", str(cache), "--timeout", "10",
                 "--quiet", *extra])


YELLOW = "yellow_tripdata_2024-01.parquet"


def test_full_download_with_zone_table(tlc: FakeTlc, tmp_path: Path, parquet_bytes: bytes,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01") == 0
    assert (tmp_path / YELLOW).read_bytes() == parquet_bytes
    assert (tmp_path / "taxi_zone_lookup.csv").read_bytes() == ZONES_CSV
    assert not list(tmp_path.glob("*.part"))
    assert (tmp_path / ".gitignore").read_text().strip().endswith("*")
    assert "downloaded:" in capsys.readouterr().out


def test_month_range_and_kinds(tlc: FakeTlc, tmp_path: Path) -> None:
    rc = _run(tlc.base_url, tmp_path, "--from", "2024-01", "--to", "2024-02",
              "--kind", "yellow", "--kind", "green", "--no-zones")
    assert rc == 0
    names = sorted(p.name for p in tmp_path.glob("*.parquet"))
    assert names == ["green_tripdata_2024-01.parquet", "green_tripdata_2024-02.parquet",
                     "yellow_tripdata_2024-01.parquet", "yellow_tripdata_2024-02.parquet"]


def test_resume_from_partial_file(tlc: FakeTlc, tmp_path: Path, parquet_bytes: bytes,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    half = len(parquet_bytes) * 2 // 5
    (tmp_path / (YELLOW + ".part")).write_bytes(parquet_bytes[:half])
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01", "--no-zones") == 0
    assert (tmp_path / YELLOW).read_bytes() == parquet_bytes
    assert tlc.gets() == [(f"/trip-data/{YELLOW}", f"bytes={half}-")]
    assert "resumed" in capsys.readouterr().out


def test_interrupted_download_keeps_part_and_resumes(tlc: FakeTlc, tmp_path: Path,
                                                     parquet_bytes: bytes,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks fully received before the connection drops are kept (the last, short one is not).
    monkeypatch.setattr(download, "CHUNK_BYTES", 4096)
    cut = len(parquet_bytes) // 3
    tlc.cut_once[f"/trip-data/{YELLOW}"] = cut
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01", "--no-zones") == 1
    err = capsys.readouterr().err
    assert "interrupted" in err and "resume" in err and "Traceback" not in err
    part = tmp_path / (YELLOW + ".part")
    kept = part.read_bytes()
    assert cut - 4096 < len(kept) <= cut and parquet_bytes.startswith(kept)
    assert not (tmp_path / YELLOW).exists()

    assert _run(tlc.base_url, tmp_path, "--month", "2024-01", "--no-zones") == 0
    assert (tmp_path / YELLOW).read_bytes() == parquet_bytes
    assert tlc.gets()[-1] == (f"/trip-data/{YELLOW}", f"bytes={len(kept)}-")
    assert not part.exists()


def test_size_mismatch_is_an_error_and_keeps_part(tlc: FakeTlc, tmp_path: Path,
                                                  parquet_bytes: bytes,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # A partial file plus a server whose Content-Range announces more bytes than it has.
    tlc.lie_total.add(f"/trip-data/{YELLOW}")
    start = len(parquet_bytes) // 2
    (tmp_path / (YELLOW + ".part")).write_bytes(parquet_bytes[:start])
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01", "--no-zones") == 1
    err = capsys.readouterr().err
    assert "size mismatch" in err and f"{len(parquet_bytes) + 1000:,}" in err
    assert (tmp_path / (YELLOW + ".part")).read_bytes() == parquet_bytes
    assert not (tmp_path / YELLOW).exists()


def test_short_body_against_content_length_is_an_error(tlc: FakeTlc, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    tlc.lie_total.add(f"/trip-data/{YELLOW}")
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01", "--no-zones") == 1
    err = capsys.readouterr().err
    assert YELLOW in err and "kept" in err and "Traceback" not in err
    assert (tmp_path / (YELLOW + ".part")).exists()
    assert not (tmp_path / YELLOW).exists()


def test_cached_files_are_skipped_without_network(tlc: FakeTlc, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01") == 0
    requests_before = len(tlc.log)
    capsys.readouterr()
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01") == 0
    assert len(tlc.log) == requests_before
    assert capsys.readouterr().out.count("already cached") == 2
    # Works offline too: nothing to fetch.
    assert _run(f"http://127.0.0.1:{_closed_port()}/trip-data/", tmp_path, "--month",
                "2024-01") == 0


def test_offline_gives_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/trip-data/"
    assert _run(url, tmp_path, "--month", "2024-01") == 3
    err = capsys.readouterr().err
    assert "offline" in err
    assert "data/sample_nyc_taxi.csv" in err and "data/generate.py" in err
    assert not list(tmp_path.glob("*.parquet*"))


def test_offline_cli_prints_no_traceback(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/trip-data/"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "data" / "download.py"), "--month", "2024-01",
         "--base-url", url, "--cache-dir", str(tmp_path), "--timeout", "5"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "offline" in proc.stderr and "generate.py" in proc.stderr


def test_month_not_published(tlc: FakeTlc, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tlc.base_url, tmp_path, "--month", "2031-05") == 1
    err = capsys.readouterr().err
    assert "yellow_tripdata_2031-05.parquet is not published" in err and "404" in err
    assert not list(tmp_path.glob("*2031*"))
    # The zone table is independent and still downloaded.
    assert (tmp_path / "taxi_zone_lookup.csv").exists()


def test_not_parquet_content_is_rejected(tlc: FakeTlc, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    tlc.files[f"/trip-data/{YELLOW}"] = b"<html>captive portal</html>"
    assert _run(tlc.base_url, tmp_path, "--month", "2024-01", "--no-zones") == 1
    assert "not a Parquet" in capsys.readouterr().err
    assert not list(tmp_path.glob("yellow*"))


def test_base_url_from_environment(tlc: FakeTlc, tmp_path: Path, parquet_bytes: bytes,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLC_BASE_URL", tlc.base_url)
    monkeypatch.setenv("TLC_CACHE_DIR", str(tmp_path))
    assert main(["--month", "2024-01", "--quiet"]) == 0
    assert (tmp_path / YELLOW).read_bytes() == parquet_bytes


def test_argument_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cache-dir", str(tmp_path)]) == 2
    assert main(["--from", "2024-03", "--to", "2024-01", "--cache-dir", str(tmp_path)]) == 2
    assert "before" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--month", "2024-13"])
    assert month_range(parse_month("2023-11"), parse_month("2024-02")) == [
        "2023-11", "2023-12", "2024-01", "2024-02"]
    assert zones_url_for("https://d37ci6vzurychx.cloudfront.net/trip-data/") == (
        "https://d37ci6vzurychx.cloudfront.net/misc/taxi_zone_lookup.csv")
