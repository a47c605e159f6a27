"""Step 6: replay TLC trips into the Kinesis data stream, like a live feed.

Examples::

    python producer/producer.py data/sample_nyc_taxi.csv --rate 200
    python producer/producer.py --region $AWS_REGION --stream $KINESIS_STREAM_NAME \
        --csv data/sample_nyc_taxi.csv --rate 10                      # the course template's form
    python producer/producer.py yellow_tripdata_2024-01.parquet --speedup 60 --limit 10000
    python producer/producer.py data/sample_nyc_taxi.csv --rate 0 --loop      # as fast as possible

Reads CSV or Parquet of any TLC variant in chunks (bounded memory), validates each row with the
shared contract, gives each trip a stable ``trip_id`` and writes batches with PutRecords,
retrying only failed records. Ctrl-C sends what is buffered, prints the summary and exits.
Stream name and region come from ``--stream``/``--region`` or ``taximl.config`` (``STREAM_NAME``
or the template's ``KINESIS_STREAM_NAME``, ``AWS_REGION``); endpoints from the usual AWS
environment (``AWS_ENDPOINT_URL_KINESIS`` locally). Options are never abbreviated: ``--stream``
is the template's name of ``--stream-name``, not a prefix that argparse guesses.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinesis_sender import KinesisSender, SendError, SendStats
from pacing import Pacer
from taximl.config import Settings
from trip_source import PARTITION_KEYS, SourceStats, iter_trips, parse_start_at

logger = logging.getLogger("producer")

DEFAULT_INPUT = "data/sample_nyc_taxi.csv"
DEFAULT_RATE = 500.0  # events/s: half of what one shard accepts


@dataclass
class RunResult:
    """What a producer run did (printed as the summary, optionally written as JSON)."""

    stream: str
    source: str
    source_stats: SourceStats
    send_stats: SendStats
    elapsed_s: float
    interrupted: bool = False
    sent_trip_ids: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.send_stats.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        src, snd = self.source_stats, self.send_stats
        return {
            "stream": self.stream, "source": self.source, "rows_read": src.rows_read,
            "sent": snd.sent, "valid_sent": src.valid, "invalid_sent": src.invalid_sent,
            "invalid_reasons": dict(src.invalid_reasons), "skipped": dict(src.skipped),
            "retried": snd.retried, "failed": snd.failed, "put_calls": snd.calls,
            "error_codes": dict(snd.error_codes), "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(self.rate, 1), "interrupted": self.interrupted,
            "passes": src.passes,
        }


class _StopFlag:
    """First Ctrl-C (or SIGTERM) asks for a clean stop; a second one aborts at once."""

    def __init__(self) -> None:
        self.stop = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True


def run(
    source: str | Path,
    *,
    stream_name: str,
    client: Any,
    rate: float | None = DEFAULT_RATE,
    speedup: float | None = None,
    limit: int | None = None,
    loop: bool = False,
    start_at: str | None = None,
    partition_key: str = "trip_id",
    send_invalid: bool = True,
    linger_ms: float = 100.0,
    progress: bool = True,
    stop: _StopFlag | None = None,
    keep_ids: bool = False,
    max_passes: int | None = None,
    in_flight: int = 4,
) -> RunResult:
    """Send trips from ``source`` to ``stream_name``; returns the counters of the run."""
    from tqdm import tqdm

    stop = stop or _StopFlag()
    stats = SourceStats()
    ordered = partition_key in ("pickup_zone", "vendor")
    sender = KinesisSender(client, stream_name, linger_s=linger_ms / 1000.0,
                           in_flight=1 if ordered else in_flight)
    pacer = Pacer(rate=rate, speedup=speedup)
    trips = iter_trips(
        source, stats, send_invalid=send_invalid, partition_key=partition_key,
        start_at=parse_start_at(start_at), loop=loop, sort_by_pickup=speedup is not None,
        max_passes=max_passes,
    )
    ids: list[str] = []
    bar = tqdm(total=limit, unit="trip", disable=not progress, dynamic_ncols=True, smoothing=0.1)
    started = time.monotonic()
    produced, passes = 0, 0
    try:
        while not stop.stop and (limit is None or produced < limit):
            trip = next(trips, None)  # checked before reading: --limit N reads N rows, not N+1
            if trip is None:
                break
            if stats.passes != passes:  # a new pass of --loop: new replay timeline
                passes = stats.passes
                pacer.reset()
            wait = pacer.delay(trip.pickup if trip.reason is None else None)  # trusted times only
            if wait > 0:
                if sender.pending and sender.age() + wait >= sender.linger_s:
                    sender.flush()
                _sleep(wait, stop)
                if stop.stop:
                    stats.give_back(trip)  # read but never sent: the summary counts sent rows
                    break
            sender.add(trip.data, trip.partition_key)
            sender.flush_if_due()
            produced += 1
            if keep_ids:
                ids.append(trip.trip_id)
            if produced % 100 == 0:
                bar.update(100)
                bar.set_postfix(sent=sender.stats.sent, retried=sender.stats.retried, refresh=False)
    finally:
        sender.close()  # Ctrl-C included: nothing buffered is dropped
        bar.update(produced % 100)
        bar.close()
    return RunResult(
        stream=stream_name, source=str(source), source_stats=stats, send_stats=sender.stats,
        elapsed_s=time.monotonic() - started, interrupted=stop.stop, sent_trip_ids=ids,
    )


def _sleep(seconds: float, stop: _StopFlag) -> None:
    deadline = time.monotonic() + seconds
    while not stop.stop:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.2))


def format_summary(result: RunResult, settings: Settings) -> str:
    """The end-of-run report a student reads."""
    src, snd = result.source_stats, result.send_stats
    lines = [
        "",
        f"Producer {'stopped (Ctrl-C)' if result.interrupted else 'finished'}: {result.source}"
        f" -> Kinesis stream {result.stream}",
        f"  rows read        {src.rows_read:,}" + (f" ({src.passes} passes)" if src.passes > 1
                                                    else ""),
        f"  sent             {snd.sent:,} records in {result.elapsed_s:.1f} s "
        f"({result.rate:,.0f} events/s)",
        f"    valid trips    {src.valid:,}",
        f"    invalid trips  {src.invalid_sent:,} (sent: the Lambda puts them in quarantine)",
        f"  retried          {snd.retried:,} records"
        + (f" {dict(snd.error_codes)}" if snd.error_codes else ""),
        f"  failed           {snd.failed:,}",
        f"  skipped          {src.skipped_total:,}"
        + (f" {dict(src.skipped.most_common())}" if src.skipped else ""),
    ]
    if src.invalid_reasons:
        top = ", ".join(f"{k}: {v}" for k, v in src.invalid_reasons.most_common(6))
        lines.append(f"  invalid reasons  {top}")
    lines += [
        "",
        "Where to look next:",
        f"  scored trips   s3://{settings.gold_bucket}/scored/ (after the Firehose buffer)",
        f"  quarantine     s3://{settings.gold_bucket}/quarantine/",
        f"  search index   {settings.opensearch_index}-* "
        f"({settings.opensearch_endpoint or 'set OPENSEARCH_ENDPOINT'})",
        "  live stats     python viz/live_stats.py",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Send TLC taxi trips (CSV/Parquet, any TLC variant) to a Kinesis stream.",
        allow_abbrev=False)
    parser.add_argument("source", nargs="?", help=f"trip file (default {DEFAULT_INPUT})")
    parser.add_argument("--csv", dest="source_option", metavar="FILE",
                        help="the trip file, as the course template passes it (CSV or Parquet)")
    parser.add_argument("--stream-name", "--stream", dest="stream_name",
                        help="Kinesis stream (default: STREAM_NAME or KINESIS_STREAM_NAME, "
                             "else taxi-trips-stream)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, else us-east-1)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=None,
                      help=f"events per second (default {DEFAULT_RATE:g}; 0 = as fast as possible)")
    pace.add_argument("--speedup", type=float,
                      help="replay in event time (pickup order), X times faster than real time")
    parser.add_argument("--limit", type=_positive_int, help="stop after this many records")
    parser.add_argument("--loop", action="store_true", help="start the file again at its end")
    parser.add_argument("--start-at", help="skip rows: a row number or a pickup time (ISO 8601)")
    parser.add_argument("--partition-key", choices=PARTITION_KEYS, default="trip_id",
                        help="Kinesis partition key (default trip_id: even spread over shards)")
    parser.add_argument("--invalid", choices=("send", "skip"), default="send",
                        help="invalid rows: send them (the Lambda quarantines them with the "
                             "reason, default) or skip them here")
    parser.add_argument("--linger-ms", type=float, default=100.0,
                        help="longest wait of a record in the batch buffer (default 100)")
    parser.add_argument("--summary-json", type=Path, help="also write the summary as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; the trip file may come positionally or as ``--csv``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.source and args.source_option and args.source != args.source_option:
        parser.error(f"two trip files given ({args.source} and --csv {args.source_option}): "
                     "pass one")
    args.source = args.source or args.source_option or DEFAULT_INPUT
    return args


def main(argv: list[str] | None = None) -> int:
    import boto3

    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(stream_name=args.stream_name, region=args.region)
    except ValueError as exc:  # e.g. STREAM_NAME and KINESIS_STREAM_NAME disagree
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not Path(args.source).exists():
        print(f"error: {args.source} not found (generate the sample with "
              "`python data/generate.py` or download months with `python data/download.py`)",
              file=sys.stderr)
        return 2
    rate = DEFAULT_RATE if args.rate is None and args.speedup is None else args.rate
    stop = _StopFlag()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    client = boto3.client("kinesis", region_name=settings.region)
    pacing = f"{rate:g} events/s" if rate else (
        f"event-time replay x{args.speedup:g}" if args.speedup else "as fast as possible")
    print(f"Sending {args.source} to Kinesis stream {settings.stream_name} in "
          f"{settings.region} ({pacing}); Ctrl-C stops cleanly.")
    try:
        result = run(
            args.source, stream_name=settings.stream_name, client=client, rate=rate,
            speedup=args.speedup, limit=args.limit, loop=args.loop, start_at=args.start_at,
            partition_key=args.partition_key, send_invalid=args.invalid == "send",
            linger_ms=args.linger_ms, progress=not args.no_progress, stop=stop,
        )
    except SendError as exc:
        print(f"error: {exc}\n(does the stream exist? `aws kinesis describe-stream-summary "
              f"--stream-name {settings.stream_name}`)", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result, settings))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(result.to_json(), indent=2))
    if result.send_stats.failed:
        return 1
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
