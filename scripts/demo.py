"""The whole pipeline on this machine, in one command (the README's demo).

Usage::

    python scripts/demo.py [--rate 1000] [--retrain]          # real TLC trips (bundled sample)
    python scripts/demo.py --data data/sample_nyc_taxi.csv    # any trip file (e.g. synthetic)

1. starts the local AWS stack (``python -m local start``; nothing goes to AWS);
2. step 1: datalake (buckets, Glue database, raw tables) with the bundled real sample's history
   months (``data/real_sample/history/``, 2019-06..11), or with ``--data``;
3. step 2: training set, XGBoost training, thresholds, registry, deployment of the fare
   endpoint (skipped when the endpoint already serves a model, unless ``--retrain``);
4. steps 3-5: Kinesis stream, Firehose to S3 + OpenSearch and quarantine, the scoring Lambda
   and its event source mapping (short Firehose buffers so results show up in seconds);
5. step 6: the producer streams a *later* real month (2019-12, never trained on) with 3 %
   labelled fare anomalies mixed in (``sagemaker/fare_anomalies.py``), or the ``--data`` file;
   the demo waits (bounded) until every trip is scored or quarantined, then prints a summary:
   how many real trips were flagged and how many labelled anomalies were caught.

Re-running works: existing resources are kept, trips keep their ``trip_id``.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "producer", REPO / "infra" / "streaming", REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

REAL_SAMPLE = REPO / "data" / "real_sample"
HISTORY = REAL_SAMPLE / "history"
HOLDOUT = REAL_SAMPLE / "holdout" / "yellow_tripdata_2019-12.parquet"
DEMO_DIR = REPO / "build" / "demo"
WAIT_S = 300.0


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def sh(*args: str) -> None:
    """Run a command of the project (same Python), echoing it; fail loudly."""
    cmd = [sys.executable if a == "python" else a for a in args]
    print("   $ " + " ".join(shlex.quote(a) for a in args), flush=True)
    result = subprocess.run(cmd, cwd=REPO, env=os.environ.copy(), check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo stopped: `{' '.join(args)}` failed (exit {result.returncode})")


def load_stack_env() -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "local", "env"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    env = dict(re.findall(r"^export (\w+)=(.*)$", out, flags=re.M))
    return {k: shlex.split(v)[0] if v else "" for k, v in env.items()}


def endpoint_in_service(settings: Any) -> bool:
    import boto3
    from botocore.exceptions import ClientError

    try:
        described = boto3.client("sagemaker").describe_endpoint(
            EndpointName=settings.endpoint_name)
    except ClientError:
        return False
    return described["EndpointStatus"] == "InService"


def read_prefix(bucket: str, prefix: str) -> tuple[int, list[dict[str, Any]]]:
    import boto3

    s3 = boto3.client("s3")
    objects, rows = 0, []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            objects += 1
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            rows += [json.loads(line) for line in body.splitlines() if line.strip()]
    return objects, rows


def stream_file(seed: int) -> tuple[Path, dict[str, int]]:
    """The held-out real month with labelled fare anomalies, as the producer's input file."""
    sys.path.insert(0, str(REPO / "sagemaker"))
    import fare_anomalies
    from taximl.io import read_raw

    injection = fare_anomalies.inject(read_raw(HOLDOUT), seed=seed)
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    path = DEMO_DIR / f"{HOLDOUT.stem}_with_anomalies.parquet"
    injection.trips.to_parquet(path, index=False)
    return path, injection.injected


def expected_ids(path: Path, limit: int | None) -> tuple[set[str], set[str], dict[str, str]]:
    """Valid and invalid trip ids the producer sends, and the kind of each labelled anomaly
    (``anomaly_label`` column of the demo's stream file or of data/generate.py output)."""
    from taximl.io import iter_raw_chunks
    from trip_source import SourceStats, iter_trips

    labels: list[str] = []
    for chunk in iter_raw_chunks(path):
        if "anomaly_label" not in chunk.columns:
            break
        labels += chunk["anomaly_label"].fillna("").astype(str).tolist()
    valid: set[str] = set()
    invalid: set[str] = set()
    anomalies: dict[str, str] = {}
    for i, trip in enumerate(iter_trips(path, SourceStats())):
        if limit is not None and i >= limit:
            break
        (valid if trip.reason is None else invalid).add(trip.trip_id)
        if i < len(labels) and labels[i] and not labels[i].startswith("malformed"):
            anomalies[trip.trip_id] = labels[i]
    return valid, invalid, anomalies


def search_count(settings: Any) -> int:
    from search_client import search_client

    client = search_client(settings.opensearch_endpoint, settings.region)
    try:
        client.indices.refresh(index=f"{settings.opensearch_index}-*")
        return int(client.count(index=f"{settings.opensearch_index}-*")["count"])
    except Exception:
        return 0


def athena_query(settings: Any, sql: str, timeout_s: float = 60.0) -> list[list[str]]:
    import boto3

    athena = boto3.client("athena")
    qid = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": settings.glue_database},
        ResultConfiguration={"OutputLocation": f"s3://{settings.gold_bucket}/athena-results/"},
    )["QueryExecutionId"]
    deadline = time.monotonic() + timeout_s
    while True:
        state = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if state["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("Athena query still running")
        time.sleep(0.5)
    if state["State"] != "SUCCEEDED":
        raise RuntimeError(state.get("StateChangeReason", state["State"]))
    rows = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"]
    return [[c.get("VarCharValue", "") for c in r["Data"]] for r in rows]


#: Gold is read as distinct trips (delivery is at least once): gold_distinct_trips.sql
GOLD_QUERY = ("WITH trips AS ({distinct}) "
              "SELECT model_version, count(*) AS trips, "
              "sum(CASE WHEN is_outlier THEN 1 ELSE 0 END) AS outliers, "
              "round(avg(abs(residual)), 2) AS mean_abs_residual "
              "FROM trips GROUP BY model_version ORDER BY model_version")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole pipeline on the local stack.")
    parser.add_argument("--data", type=Path,
                        help="train on and stream this trip file instead of the bundled real "
                             "months (CSV/Parquet, any TLC variant; e.g. data/sample_nyc_taxi.csv"
                             " or a month cached by data/download.py)")
    parser.add_argument("--seed", type=int, default=1630,
                        help="seed of the labelled anomalies mixed into the streamed month")
    parser.add_argument("--rate", type=float, default=1000.0, help="producer events/s")
    parser.add_argument("--limit", type=int, help="send only this many trips")
    parser.add_argument("--retrain", action="store_true", help="train and deploy again")
    parser.add_argument("--buffer-seconds", type=int, default=1,
                        help="Firehose buffer interval for the demo (AWS default: 300)")
    args = parser.parse_args(argv)
    for needed in ([args.data] if args.data else [HISTORY, HOLDOUT]):
        if not needed.exists():
            print(f"error: {needed} not found", file=sys.stderr)
            return 2
    started = time.monotonic()

    step("Starting the local AWS stack (python -m local start)")
    sh("python", "-m", "local", "start")
    os.environ.update(load_stack_env())
    from taximl.config import Settings

    settings = Settings.from_env()

    history = args.data or HISTORY
    step(f"Step 1: datalake (buckets, Glue database, raw tables) with {_shown(history)}")
    sh("python", "infra/datalake/setup_datalake.py", "--sample", _shown(history))

    step("Step 2: training set, training, thresholds, Model Registry, endpoint")
    if endpoint_in_service(settings) and not args.retrain:
        print(f"   endpoint {settings.endpoint_name} already serves a model "
              "(--retrain to train again)")
    else:
        sh("python", "sagemaker/train_register_deploy.py", "run")
    if not endpoint_in_service(settings):
        print(f"error: endpoint {settings.endpoint_name} is not InService after step 2 "
              "(see the output above; `python sagemaker/train_register_deploy.py status`)",
              file=sys.stderr)
        return 1

    step("Steps 3-5: Kinesis, Firehose (S3 + OpenSearch + quarantine), Lambda, mapping")
    import deploy

    deploy.deploy_streaming(settings, buffer_seconds=args.buffer_seconds,
                            say=lambda m: print(f"   {m}"))
    _create_gold_table(settings)

    if args.data:
        stream = args.data
    else:
        stream, injected = stream_file(args.seed)
        print(f"   {HOLDOUT.name} (held out, never trained on) + {sum(injected.values())} "
              f"labelled fare anomalies {injected} -> {_shown(stream)}")
    run_started = time.time()
    step("Step 6: producer")
    command = ["python", "producer/producer.py", _shown(stream), "--rate", f"{args.rate:g}"]
    if args.limit:
        command += ["--limit", str(args.limit)]
    sh(*command)

    step("Waiting until every trip is scored or quarantined")
    valid, invalid, anomalies = expected_ids(stream, args.limit)
    deadline = time.monotonic() + WAIT_S
    while True:
        objects, gold = read_prefix(settings.gold_bucket, "scored/")
        _, quarantine = read_prefix(settings.gold_bucket, "quarantine/")
        gold = [g for g in gold if _epoch(g["processing_time"]) >= run_started]
        quarantine = [q for q in quarantine if _epoch(q["processing_time"]) >= run_started]
        scored = {g["trip_id"]: g for g in gold if g["trip_id"] in valid}
        held = {q.get("trip_id") for q in quarantine} & invalid
        done = len(scored) >= len(valid) and len(held) >= len(invalid)
        print(f"   scored {len(scored):,}/{len(valid):,}  quarantined {len(held):,}/"
              f"{len(invalid):,}", flush=True)
        if done or time.monotonic() > deadline:
            break
        time.sleep(3)
    docs = search_count(settings)
    index_deadline = time.monotonic() + 30  # the index's own Firehose buffer: let it catch up
    while docs < len(scored) and time.monotonic() < index_deadline:
        time.sleep(1)
        docs = search_count(settings)
    reasons = collections.Counter(q["reason"].split(":")[0] for q in quarantine
                                  if q.get("trip_id") in invalid)
    try:
        table = athena_query(settings,
                             GOLD_QUERY.format(distinct=_sql("gold_distinct_trips.sql")))
    except Exception as exc:  # Athena is a convenience here: the summary stands without it
        table = [[f"(Athena query failed: {exc})"]]

    print("\n" + "=" * 72)
    print(f"Demo {'finished' if done else 'stopped waiting'} in "
          f"{time.monotonic() - started:.0f} s")
    print(f"  trips sent            {len(valid) + len(invalid):,} from {stream.name}")
    print(f"  processed (scored)    {len(scored):,} of {len(valid):,} valid trips")
    print(f"  quarantined           {len(held):,} of {len(invalid):,} invalid rows "
          f"{dict(reasons.most_common())}")
    for line in flag_summary(scored, anomalies, real=args.data is None):
        print(line)
    print(f"  gold objects          {objects:,} in s3://{settings.gold_bucket}/scored/ "
          "(all runs)")
    print(f"  documents in index    {docs:,} in {settings.opensearch_index}-* ")
    print("  Athena (scored_trips by model version):")
    for row in table:
        print("    " + " | ".join(row))
    search = settings.opensearch_endpoint
    print("\nWhere to look:")
    print(f"  dashboard   {os.environ.get('DASHBOARD_URL', 'python viz/dashboard.py')}/  "
          "(live, refreshes every 5 s)")
    print(f"  search      {search}/{settings.opensearch_index}-*/_search?q=is_outlier:true")
    print("  live stats  python viz/live_stats.py")
    print("  detection   python sagemaker/evaluate_detection.py   (recall, false alarms, plots)")
    print(f"  S3          aws s3 ls s3://{settings.gold_bucket}/scored/ --recursive")
    print(f"  Athena      aws athena start-query-execution --query-execution-context "
          f"Database={settings.glue_database} --result-configuration "
          f"OutputLocation=s3://{settings.gold_bucket}/athena-results/ --query-string "
          f"\"SELECT * FROM scored_trips WHERE is_outlier LIMIT 10\"")
    env_file = Path(os.environ.get("LOCAL_STACK_STATE_DIR", REPO / ".local-stack")) / "env.sh"
    print(f"  (in a new shell first: source {env_file})")
    print("Stop the stack with: python -m local stop")
    return 0 if done else 1


def flag_summary(scored: dict[str, dict[str, Any]], anomalies: dict[str, str],
                 real: bool) -> list[str]:
    """Summary lines: flags on the untouched trips, and labelled anomalies caught per kind."""
    untouched = [g for t, g in scored.items() if t not in anomalies]
    flagged = sum(bool(g["is_outlier"]) for g in untouched)
    unjudged = sum(str(g.get("threshold_rule", "")).startswith("unjudged") for g in untouched)
    what = "real trips (untouched)" if real else "untouched trips"
    lines = [f"  outliers              {flagged:,} of {len(untouched):,} {what} flagged "
             f"({flagged / max(1, len(untouched)):.2%}); {unjudged:,} not judged "
             "(no fare rule or broken meter data)"]
    if anomalies:
        caught = collections.Counter(kind for t, kind in anomalies.items()
                                     if t in scored and scored[t]["is_outlier"])
        total = collections.Counter(anomalies.values())
        flags = flagged + sum(caught.values())
        lines.append(f"  labelled anomalies    {sum(caught.values()):,} of {len(anomalies):,} "
                     f"caught; precision {sum(caught.values()) / max(1, flags):.2f} "
                     f"({'sagemaker/fare_anomalies.py' if real else 'labelled in the file'})")
        lines += [f"    {kind:<20}{caught[kind]:>5} of {n}" for kind, n in sorted(total.items())]
    return lines


def _shown(path: Path) -> str:
    """A path as the student would type it (relative to the repository when inside it)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _sql(name: str) -> str:
    """A SQL file of infra/streaming/ without its comment lines or final semicolon."""
    sql = (REPO / "infra" / "streaming" / name).read_text()
    return "\n".join(line for line in sql.splitlines()
                     if not line.startswith("--")).strip().rstrip(";")


def _create_gold_table(settings: Any) -> None:
    sql = _sql("gold_table.sql").replace("${GLUE_DATABASE}", settings.glue_database)
    sql = sql.replace("${GOLD_BUCKET}", settings.gold_bucket)
    try:
        athena_query(settings, sql)
        print(f"   Athena table {settings.glue_database}.scored_trips ready")
    except Exception as exc:
        print(f"   warning: could not create the Athena table scored_trips: {exc}")


if __name__ == "__main__":
    sys.exit(main())
