"""Benchmark: time and peak memory of ``data/generate.py`` for large runs (prints numbers).

    python benchmarks/bench_generate.py                   # 3,000,000 rows -> Parquet
    python benchmarks/bench_generate.py --rows 1000000 --format csv

Each run is a fresh child process, so its peak RSS (``ru_maxrss`` of the child) is the
generator's own footprint, interpreter and libraries included.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import result

REPO_ROOT = Path(__file__).resolve().parents[1]
#: What ``run_all.py --quick`` passes (a busy machine).
QUICK_ARGS = ["--rows", "500000"]


def run_once(rows: int, fmt: str, chunk_rows: int, anomalies: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        out = Path(tmp) / f"trips.{fmt}"
        cmd = [sys.executable, str(REPO_ROOT / "data" / "generate.py"), "--rows", str(rows),
               "--out", str(out), "--chunk-rows", str(chunk_rows), "--anomalies", str(anomalies),
               "--quiet"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        began = time.perf_counter()
        subprocess.run(cmd, check=True, timeout=3600)
        seconds = time.perf_counter() - began
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if peak_kib <= before:  # an earlier child was bigger; the value is a lower bound
            peak_kib = before
        return {"seconds": seconds, "peak_mib": peak_kib / 1024.0,
                "size_mb": out.stat().st_size / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--anomalies", type=float, default=0.01)
    args = parser.parse_args()
    r = run_once(args.rows, args.format, args.chunk_rows, args.anomalies)
    print(f"generate.py --rows {args.rows:,} -> {args.format} (chunks of {args.chunk_rows:,}): "
          f"{r['seconds']:.1f} s wall, {args.rows / r['seconds']:,.0f} trips/s, "
          f"peak RSS {r['peak_mib']:.0f} MiB, file {r['size_mb']:.1f} MB")
    result("generate_trips_per_s", args.rows / r["seconds"])
    result("generate_peak_rss_mib", r["peak_mib"])
    result("generate_rows_count", args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
