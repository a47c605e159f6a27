"""Generate synthetic NYC yellow taxi trips (TLC schema, 2023-24 fare rules).

Examples::

    python data/generate.py --rows 5000 --out /tmp/trips.csv
    python data/generate.py --rows 3000000 --anomalies 0.01 --out data/cache/synthetic.parquet
    python data/generate.py --rows 20000 --malformed 0.05 --out /tmp/messy.csv

Rows are generated in chunks (``--chunk-rows``) and streamed to the output file, so memory stays
bounded whatever ``--rows`` is. The same ``--seed`` (and the same rows/start/days) always gives
the same file, whatever the chunk size. ``--anomalies`` and ``--malformed`` add the column
``anomaly_label`` ("" for normal trips); the trip record contract ignores that column.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from synth_output import open_sink
from synth_trips import LABEL_COLUMN, GenConfig, generate_chunk

DEFAULT_CHUNK_ROWS = 100_000
RULES_START = date(2022, 12, 19)  # the fare rules the generator follows are in force from here

#: The exact command line that produced the committed ``data/sample_nyc_taxi.csv``.
SAMPLE_ARGS: tuple[str, ...] = (
    "--rows", "5000", "--seed", "1630", "--start", "2024-01-01", "--days", "31",
    "--anomalies", "0.02", "--out", "data/sample_nyc_taxi.csv",
)


@dataclass
class Summary:
    """What a run wrote."""

    path: Path
    rows: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def anomalies(self) -> int:
        return sum(v for k, v in self.labels.items() if k and not k.startswith("malformed_"))

    @property
    def malformed(self) -> int:
        return sum(v for k, v in self.labels.items() if k.startswith("malformed_"))


def iter_chunks(cfg: GenConfig, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The trips of ``cfg`` as consecutive DataFrames of at most ``chunk_rows`` rows."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    for start in range(0, cfg.rows, chunk_rows):
        yield generate_chunk(cfg, start, min(chunk_rows, cfg.rows - start))


def generate_frame(cfg: GenConfig) -> pd.DataFrame:
    """All trips of ``cfg`` in one DataFrame (for small runs, tests and calibration)."""
    chunks = list(iter_chunks(cfg))
    if not chunks:
        return generate_chunk(cfg, 0, 0)
    return pd.concat(chunks, ignore_index=True)


def generate(cfg: GenConfig, out: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS,
             progress: bool = False) -> Summary:
    """Stream the trips of ``cfg`` to ``out`` (.csv or .parquet) chunk by chunk."""
    from tqdm import tqdm

    with_label = cfg.anomaly_rate > 0 or cfg.malformed_rate > 0
    summary = Summary(path=out)
    began = time.perf_counter()
    sink = open_sink(out, with_label)
    try:
        with tqdm(total=cfg.rows, unit="trip", unit_scale=True, disable=not progress,
                  desc=out.name) as bar:
            for chunk in iter_chunks(cfg, chunk_rows) if cfg.rows else [generate_chunk(cfg, 0, 0)]:
                sink.write(chunk)
                summary.rows += len(chunk)
                summary.labels.update(chunk[LABEL_COLUMN].tolist())
                bar.update(len(chunk))
    except BaseException:
        sink.abort()
        raise
    sink.close()
    summary.labels.pop("", None)
    summary.seconds = time.perf_counter() - began
    return summary


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be a fraction between 0 and 1 (e.g. 0.02)")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generate synthetic NYC yellow taxi trips in the TLC schema.")
    parser.add_argument("--rows", type=int, default=5000, help="number of trips (default 5000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1),
                        help="first pickup day, YYYY-MM-DD (default 2024-01-01)")
    parser.add_argument("--days", type=_positive, default=31,
                        help="number of days the pickups span (default 31)")
    parser.add_argument("--anomalies", type=_rate, default=0.0, metavar="RATE",
                        help="share of trips with a labelled fare anomaly (e.g. 0.02)")
    parser.add_argument("--malformed", type=_rate, default=0.0, metavar="RATE",
                        help="share of labelled malformed rows (missing/non-numeric fields, "
                             "dropoff before pickup, ...) for pipeline robustness tests")
    parser.add_argument("--out", type=Path, required=True, help="output file, .csv or .parquet")
    parser.add_argument("--chunk-rows", type=_positive, default=DEFAULT_CHUNK_ROWS,
                        help=f"rows per chunk (memory bound; default {DEFAULT_CHUNK_ROWS})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar nor summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rows < 0:
        print("error: --rows must be >= 0", file=sys.stderr)
        return 2
    suffix = args.out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        print(f"error: --out must end in .csv or .parquet (got {args.out})", file=sys.stderr)
        return 2
    if args.start < RULES_START:
        print(f"warning: --start {args.start} is before {RULES_START}: trips still follow the "
              "2023-24 fare rules ($3.00 + $0.70/unit, $70 JFK)", file=sys.stderr)
    cfg = GenConfig(
        rows=args.rows, seed=args.seed, start=args.start, days=args.days,
        anomaly_rate=args.anomalies, malformed_rate=args.malformed,
        text_malformations=suffix == ".csv",
    )
    progress = not args.quiet and args.rows > args.chunk_rows
    summary = generate(cfg, args.out, chunk_rows=args.chunk_rows, progress=progress)
    if not args.quiet:
        _print_summary(summary)
    return 0


def _print_summary(s: Summary) -> None:
    size_mb = s.path.stat().st_size / 1e6
    rate = s.rows / s.seconds if s.seconds > 0 else float("inf")
    print(f"wrote {s.rows:,} trips to {s.path} ({size_mb:.1f} MB) in {s.seconds:.1f} s "
          f"({rate:,.0f} trips/s)")
    share = (lambda k: f"{100 * k / s.rows:.2f}%") if s.rows else (lambda k: "-")
    print(f"  anomalies: {s.anomalies:,} ({share(s.anomalies)})"
          + "".join(f", {k}={v:,}" for k, v in sorted(s.labels.items())
                    if not k.startswith("malformed_")))
    if s.malformed:
        print(f"  malformed rows: {s.malformed:,} ({share(s.malformed)})"
              + "".join(f", {k.removeprefix('malformed_')}={v:,}"
                        for k, v in sorted(s.labels.items()) if k.startswith("malformed_")))


if __name__ == "__main__":
    sys.exit(main())
