"""Download official NYC TLC trip files (monthly Parquet) and the zone lookup into a local cache.

Examples::

    python data/download.py --month 2024-01                     # yellow January 2024
    python data/download.py --from 2024-01 --to 2024-03 --kind yellow --kind green
    python data/download.py --zones-only                        # just taxi_zone_lookup.csv

Files land in ``data/cache/`` (``--cache-dir`` or ``TLC_CACHE_DIR``), named as on the TLC site
(``yellow_tripdata_2024-01.parquet``). A file already in the cache is not downloaded again
(no network needed). Downloads go to ``<name>.part`` first: an interrupted download resumes
from where it stopped (HTTP Range) on the next run, and the file only gets its final name once
its size matches the server's ``Content-Length``. The source is the TLC's public download site
(``--base-url`` or ``TLC_BASE_URL``; the zone table URL is ``--zones-url`` or
``TLC_ZONES_URL``, by default ``../misc/taxi_zone_lookup.csv`` next to the trip files).

Exit codes: 0 ok, 1 a file failed (not published, size mismatch, HTTP error), 2 bad arguments,
3 offline / server unreachable.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

DEFAULT_BASE_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data/"
ENV_BASE_URL = "TLC_BASE_URL"
ENV_ZONES_URL = "TLC_ZONES_URL"
ENV_CACHE_DIR = "TLC_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / "cache"
ZONES_FILE = "taxi_zone_lookup.csv"
KINDS = ("yellow", "green")
MAX_MONTHS = 240  # a range longer than 20 years is surely a typo
CHUNK_BYTES = 256 * 1024
OFFLINE_HINT = (
    "Without internet access, use the bundled sample (data/sample_nyc_taxi.csv) or generate "
    "realistic trips locally, e.g.:\n"
    "  python data/generate.py --rows 3000000 --out data/cache/synthetic_2024-01.parquet"
)


class DownloadError(Exception):
    """A file could not be downloaded; the message says why and what to do."""


class NotPublishedError(DownloadError):
    """The server has no such file (HTTP 404/403): month not published (yet)."""


class OfflineError(DownloadError):
    """The server cannot be reached (no network, DNS failure, connection refused, timeout)."""


@dataclass(frozen=True)
class Result:
    """Outcome of one file: ``downloaded``, ``resumed`` or ``cached``."""

    path: Path
    status: str
    size: int


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` -> (year, month)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def month_range(first: tuple[int, int], last: tuple[int, int]) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as ``YYYY-MM``."""
    start, end = first[0] * 12 + first[1] - 1, last[0] * 12 + last[1] - 1
    if end < start:
        raise ValueError("--to is before --from")
    if end - start + 1 > MAX_MONTHS:
        raise ValueError(f"range longer than {MAX_MONTHS} months")
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, end + 1)]


def trip_file_name(kind: str, month: str) -> str:
    return f"{kind}_tripdata_{month}.parquet"


def zones_url_for(base_url: str) -> str:
    """The zone table next to the trip files: ``<base>/../misc/taxi_zone_lookup.csv``."""
    return urljoin(base_url if base_url.endswith("/") else base_url + "/",
                   f"../misc/{ZONES_FILE}")


def _expected_total(response: requests.Response, offset: int) -> int | None:
    """Full file size from Content-Range (206) or Content-Length (200)."""
    if response.status_code == 206:
        content_range = response.headers.get("Content-Range", "")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", content_range.strip())
        if match and match.group(3) != "*":
            return int(match.group(3))
        length = response.headers.get("Content-Length")
        return offset + int(length) if length is not None else None
    length = response.headers.get("Content-Length")
    return int(length) if length is not None else None


def _check_parquet(path: Path) -> None:
    """A Parquet file starts and ends with ``PAR1`` (catches HTML error pages saved as data)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        path.unlink()
        raise DownloadError(f"{path.name}: the server sent something that is not a Parquet "
                            "file (an error page?); removed it, check --base-url")


def download_file(
    url: str,
    dest: Path,
    session: requests.Session | None = None,
    timeout: float = 30.0,
    progress: Callable[[int, int | None, str], object] | None = None,
) -> Result:
    """Download ``url`` to ``dest`` with resume and size check (see the module docstring).

    ``progress(done_bytes, total_bytes, name)`` is called as data arrives. Raises
    :class:`NotPublishedError`, :class:`OfflineError` or :class:`DownloadError`.
    """
    if dest.exists():
        return Result(dest, "cached", dest.stat().st_size)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    session = session or requests.Session()
    headers = {"Accept-Encoding": "identity"}  # sizes must be the file's own bytes
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise OfflineError(f"cannot reach {url} ({type(exc).__name__})") from exc
    with response:
        if response.status_code in (403, 404):
            raise NotPublishedError(f"{dest.name} is not published at {url} "
                                    f"(HTTP {response.status_code})")
        if response.status_code == 416 and offset:
            # The .part already holds everything the server has (or more): check it.
            total = _remote_size(session, url, timeout)
            if total is not None and total == offset:
                return _finish(part, dest, total, "resumed")
            part.unlink()
            raise DownloadError(f"{dest.name}: partial file did not match the server's file; "
                                "removed it, run again to download from scratch")
        if response.status_code not in (200, 206):
            raise DownloadError(f"{dest.name}: HTTP {response.status_code} from {url}")
        if response.status_code == 200 and offset:
            offset = 0  # the server ignored Range: start over
        total = _expected_total(response, offset)
        done = offset
        try:
            with part.open("ab" if offset else "wb") as fh:
                for block in response.iter_content(chunk_size=CHUNK_BYTES):
                    fh.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total, dest.name)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            got = part.stat().st_size
            of_total = f" of {total:,}" if total is not None else ""
            raise DownloadError(
                f"{dest.name}: download interrupted after {got:,}{of_total} bytes "
                f"({type(exc).__name__}); kept {part.name}, run the same command again to "
                "resume") from exc
    return _finish(part, dest, total, "resumed" if offset else "downloaded")


def _remote_size(session: requests.Session, url: str, timeout: float) -> int | None:
    try:
        head = session.head(url, timeout=timeout, allow_redirects=True)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise OfflineError(f"cannot reach {url} ({type(exc).__name__})") from exc
    length = head.headers.get("Content-Length")
    return int(length) if head.ok and length is not None else None


def _finish(part: Path, dest: Path, total: int | None, status: str) -> Result:
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(
            f"{dest.name}: size mismatch, got {size:,} bytes but the server announced "
            f"{total:,}; kept {part.name}, run the same command again to resume")
    if dest.suffix == ".parquet":
        _check_parquet(part)
    os.replace(part, dest)
    return Result(dest, status, size)


def _prepare_cache(cache_dir: Path) -> None:
    """Create the cache folder and keep it out of git (it holds large downloaded files)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    ignore = cache_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# downloaded TLC files: never commit\n*\n", encoding="utf-8")


def _targets(args: argparse.Namespace, base_url: str, zones_url: str
             ) -> Iterator[tuple[str, str]]:
    if not args.zones_only:
        if args.month:
            months = [f"{args.month[0]:04d}-{args.month[1]:02d}"]
        else:
            months = month_range(args.from_month, args.to_month)
        for month in months:
            for kind in args.kind or ["yellow"]:
                name = trip_file_name(kind, month)
                yield urljoin(base_url, name), name
    if not args.no_zones:
        yield zones_url, ZONES_FILE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Download official NYC TLC monthly trip files and the zone lookup table.")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--month", type=parse_month, help="one month, YYYY-MM")
    when.add_argument("--from", dest="from_month", type=parse_month, help="first month, YYYY-MM")
    parser.add_argument("--to", dest="to_month", type=parse_month,
                        help="last month, YYYY-MM (with --from)")
    parser.add_argument("--kind", action="append", choices=KINDS,
                        help="taxi type; repeat for several (default yellow)")
    parser.add_argument("--zones-only", action="store_true", help="only the zone lookup table")
    parser.add_argument("--no-zones", action="store_true", help="skip the zone lookup table")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(os.environ.get(ENV_CACHE_DIR, DEFAULT_CACHE_DIR)),
                        help=f"where files go (default data/cache, env {ENV_CACHE_DIR})")
    parser.add_argument("--base-url", default=os.environ.get(ENV_BASE_URL, DEFAULT_BASE_URL),
                        help=f"trip files URL (default {DEFAULT_BASE_URL}, env {ENV_BASE_URL})")
    parser.add_argument("--zones-url", default=os.environ.get(ENV_ZONES_URL),
                        help=f"zone lookup URL (default: next to the trip files, env "
                             f"{ENV_ZONES_URL})")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for the server (default 30)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.from_month and not args.to_month:
        args.to_month = args.from_month
    if args.to_month and not args.from_month:
        parser.print_usage(sys.stderr)
        print("error: --to needs --from", file=sys.stderr)
        return 2
    if not (args.month or args.from_month or args.zones_only):
        parser.print_usage(sys.stderr)
        print("error: give --month YYYY-MM, --from/--to, or --zones-only", file=sys.stderr)
        return 2
    base_url = args.base_url if args.base_url.endswith("/") else args.base_url + "/"
    zones_url = args.zones_url or zones_url_for(base_url)
    try:
        targets = list(_targets(args, base_url, zones_url))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _prepare_cache(args.cache_dir)
    return _download_all(targets, args.cache_dir, args.timeout, not args.quiet)


def _download_all(targets: list[tuple[str, str]], cache_dir: Path, timeout: float,
                  show_progress: bool) -> int:
    from tqdm import tqdm

    failures = 0
    with requests.Session() as session:
        for url, name in targets:
            bar: tqdm | None = None

            def progress(done: int, total: int | None, label: str) -> None:
                nonlocal bar
                if not show_progress:
                    return
                if bar is None:
                    bar = tqdm(total=total, initial=done, unit="B", unit_scale=True,
                               unit_divisor=1024, desc=label, leave=False)
                else:
                    bar.update(done - bar.n)

            try:
                result = download_file(url, cache_dir / name, session, timeout, progress)
            except OfflineError as exc:
                print(f"error: {exc}. You seem to be offline or the server is unreachable.\n"
                      f"{OFFLINE_HINT}", file=sys.stderr)
                return 3
            except DownloadError as exc:
                print(f"error: {exc}", file=sys.stderr)
                if isinstance(exc, NotPublishedError):
                    print("  (the TLC publishes each month about two months after it ends)",
                          file=sys.stderr)
                failures += 1
                continue
            finally:
                if bar is not None:
                    bar.close()
            verb = {"cached": "already cached", "downloaded": "downloaded",
                    "resumed": "resumed and completed"}[result.status]
            print(f"{verb}: {result.path} ({result.size / 1e6:.1f} MB)")
    if failures:
        print(f"{failures} of {len(targets)} files failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
