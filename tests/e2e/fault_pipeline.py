"""A deployed streaming path to break on purpose, and the exact-count check after each fault.

:class:`FaultPipeline` keeps a ledger of every trip produced into it (valid ids; invalid ids
with the reason the producer's validation gave) and :meth:`FaultPipeline.assert_exact` checks,
after a fault scenario, that:

- **gold, read as distinct trips** (``infra/streaming/gold_distinct_trips.sql`` through the
  local Athena): every valid trip exactly once, nothing else;
- **the raw gold prefix** holds exactly the valid trips (copies allowed: delivery is at least
  once; the returned counter says how many);
- **the search index**: every valid trip exactly one document (total = distinct = valid), by
  counting documents per ``trip_id``, whatever makes the ids;
- **quarantine**: every invalid trip, with the producer's reason, and nothing else;
- **the on-failure destination**: exactly the records expected there (none, except for the
  poison record scenario).

Faults are injected without touching any stand-in: the function is pointed at a
:class:`local.faults.FaultProxy` through its own environment, or a service's process is killed
and restarted (``Stack.start()`` starts whatever is not running).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil

from e2e_helpers import REPO, generate, read_jsonl_objects, search_trip_ids, wait_for
from local import opensearch_state
from local.faults import FaultProxy
from local.health import port_free
from local.process import PidRecord, signal_term, wait_or_kill
from local.settings import HOST
from producer import run
from taximl.config import Settings
from trip_source import SourceStats, iter_trips

#: Lambda stand-in tunables for these tests: quick retries of the event source mapping (the
#: retry *count* stays the configured 10), quick polling.
FAST_TUNABLES = {"retry_backoff_ms": 100, "retry_backoff_max_ms": 1000, "poll_interval_ms": 100,
                 "shard_discovery_s": 1}
ENDPOINT_ENV = {"sagemaker-runtime": "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
                "firehose": "AWS_ENDPOINT_URL_FIREHOSE"}
GOLD_TABLE_SQL = REPO / "infra" / "streaming" / "gold_table.sql"
DISTINCT_SQL = REPO / "infra" / "streaming" / "gold_distinct_trips.sql"
SETTLE_S = 120.0


def sql_text(path: Path, settings: Settings) -> str:
    """A SQL file of the project without comments, placeholders filled, no final semicolon."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("--")]
    sql = "\n".join(lines).replace("${GLUE_DATABASE}", settings.glue_database)
    return sql.replace("${GOLD_BUCKET}", settings.gold_bucket).strip().rstrip(";")


@dataclass
class Batch:
    """Trips one scenario produced: valid ids (in production order) and invalid ids -> reason."""

    valid: list[str]
    invalid: dict[str, str]


@dataclass
class Ledger:
    """Everything produced into the pipeline so far, and what must have been given up on."""

    valid: set[str] = field(default_factory=set)
    invalid: dict[str, str] = field(default_factory=dict)
    given_up: int = 0


class FaultPipeline:
    """The streaming path of ``settings`` on the test stack, plus the tools to break it."""

    def __init__(self, settings: Settings, local_stack: Any, data_dir: Path) -> None:
        self.settings = settings
        self.stack = local_stack
        self.data_dir = data_dir
        self.ledger = Ledger()
        self.lam = boto3.client("lambda")
        self.s3 = boto3.client("s3")
        self.function = settings.function_name
        self.base_env = dict(self.lam.get_function_configuration(
            FunctionName=self.function)["Environment"]["Variables"])
        self.mapping = self.lam.list_event_source_mappings(
            FunctionName=self.function)["EventSourceMappings"][0]["UUID"]

    # --- producing --------------------------------------------------------------------------
    def trips(self, rows: int, seed: int, malformed: float = 0.05) -> tuple[Path, Batch]:
        """Generate trips (not sent yet); their ids and, for invalid ones, the reasons."""
        path = generate(self.data_dir / f"trips-{seed}.csv", rows=rows, seed=seed,
                        malformed=malformed)
        trips = list(iter_trips(path, SourceStats()))
        batch = Batch([t.trip_id for t in trips if t.reason is None],
                      {t.trip_id: t.reason for t in trips if t.reason is not None})
        assert not (set(batch.valid) & self.ledger.valid), "seeds must give new trips"
        return path, batch

    def send(self, path: Path, batch: Batch) -> Batch:
        """Put generated trips into the stream; they join the ledger."""
        self.ledger.valid |= set(batch.valid)
        self.ledger.invalid.update(batch.invalid)
        result = run(path, stream_name=self.settings.stream_name,
                     client=boto3.client("kinesis"), rate=None, progress=False)
        assert result.send_stats.failed == 0
        return batch

    def produce(self, rows: int, seed: int, malformed: float = 0.05) -> Batch:
        return self.send(*self.trips(rows, seed, malformed))

    # --- reading ----------------------------------------------------------------------------
    def gold_raw(self) -> collections.Counter[str]:
        """trip_id -> copies in the raw gold prefix (what Firehose wrote to S3)."""
        rows = read_jsonl_objects(self.settings.gold_bucket, "scored/")
        return collections.Counter(r["trip_id"] for r in rows)

    def quarantine(self) -> dict[str, set[str]]:
        """trip_id -> reasons found in the quarantine prefix."""
        found: dict[str, set[str]] = collections.defaultdict(set)
        for row in read_jsonl_objects(self.settings.gold_bucket, "quarantine/"):
            found[row["trip_id"]].add(row["reason"])
        return found

    def index(self) -> collections.Counter[str]:
        return search_trip_ids(self.settings.opensearch_endpoint, self.settings.opensearch_index)

    def on_failure_objects(self) -> list[dict[str, Any]]:
        """What the event source mapping gave up on (the S3 on-failure destination)."""
        out = []
        listing = self.s3.list_objects_v2(Bucket=self.settings.gold_bucket,
                                          Prefix=f"aws/lambda/{self.mapping}/")
        for obj in listing.get("Contents", []):
            body = self.s3.get_object(Bucket=self.settings.gold_bucket, Key=obj["Key"])["Body"]
            out.append(json.loads(body.read()))
        return out

    def athena(self, sql: str, timeout_s: float = 60.0) -> list[list[str | None]]:
        """Rows of a query on the pipeline's Glue database (header row dropped)."""
        athena = boto3.client("athena")
        qid = athena.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": self.settings.glue_database},
            ResultConfiguration={"OutputLocation":
                                 f"s3://{self.settings.gold_bucket}/athena-results/"},
        )["QueryExecutionId"]
        status = wait_for(
            lambda: (s := athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
                     ["Status"])["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") and s,
            timeout_s, "the Athena query", 0.1)
        assert status["State"] == "SUCCEEDED", status
        rows: list[list[str | None]] = []
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
            rows += [[c.get("VarCharValue") for c in r["Data"]] for r in page["ResultSet"]["Rows"]]
        return rows[1:]

    def gold_distinct(self) -> collections.Counter[str]:
        """trip_id -> rows of the distinct-trips query (each should be 1)."""
        distinct = sql_text(DISTINCT_SQL, self.settings)
        rows = self.athena(f"WITH trips AS ({distinct}) SELECT trip_id FROM trips")
        return collections.Counter(str(row[0]) for row in rows)

    def records_done(self) -> int:
        """Records the event source mapping has finished (all shards), from the stand-in."""
        status = _get_json(self.stack.endpoint("lambda") + "/_status")
        for mapping in status["mappings"]:
            if mapping["uuid"] == self.mapping:
                return sum(s["records_done"] + s["records_skipped"]
                           for s in mapping["shards"].values())
        return 0

    # --- waiting and checking ---------------------------------------------------------------
    def wait_settled(self, timeout_s: float = SETTLE_S) -> None:
        """Until every trip of the ledger is in gold, the index or quarantine, as it belongs."""
        valid, invalid = self.ledger.valid, set(self.ledger.invalid)
        wait_for(lambda: valid <= set(self.gold_raw()), timeout_s, "valid trips in gold")
        wait_for(lambda: invalid <= set(self.quarantine()), timeout_s, "invalid trips in "
                 "quarantine")
        wait_for(lambda: valid <= set(self.index()), timeout_s, "valid trips in the index")

    def assert_exact(self) -> collections.Counter[str]:
        """The exact counts of the module docstring; returns the raw gold copies per trip."""
        valid = self.ledger.valid
        raw = self.gold_raw()
        assert set(raw) == valid, "gold holds exactly the valid trips"
        distinct = self.gold_distinct()
        assert set(distinct) == valid and set(distinct.values()) == {1}, \
            "gold read as distinct trips: each valid trip once"
        index = self.index()
        assert set(index) == valid, "the index holds exactly the valid trips"
        assert sum(index.values()) == len(index) == len(valid), "one document per trip"
        quarantined = self.quarantine()
        assert all(len(reasons) == 1 for reasons in quarantined.values())
        assert {t: min(r) for t, r in quarantined.items()} == self.ledger.invalid, \
            "every invalid trip in quarantine with its reason, nothing else"
        assert len(self.on_failure_objects()) == self.ledger.given_up, \
            "only what had to be given up is in the on-failure destination"
        return raw

    # --- breaking ---------------------------------------------------------------------------
    def set_env(self, **extra: str) -> None:
        """Function environment = deployed one + ``extra`` (a new code generation: cold)."""
        variables = {**self.base_env, **extra}
        self.lam.update_function_configuration(FunctionName=self.function,
                                               Environment={"Variables": variables})
        wait_for(lambda: self.lam.get_function_configuration(FunctionName=self.function)
                 .get("LastUpdateStatus") == "Successful", 30, "the configuration update", 0.2)

    @contextlib.contextmanager
    def proxy(self, service: str, **env: str) -> Iterator[FaultProxy]:
        """The function calls ``service`` through a fault proxy for the ``with`` block."""
        with FaultProxy(self.stack.endpoint(service)) as proxy:
            self.set_env(**{ENDPOINT_ENV[service]: proxy.url}, **env)
            try:
                yield proxy
            finally:
                self.set_env()

    def fast_retries(self) -> None:
        """Apply :data:`FAST_TUNABLES` (again after the Lambda stand-in restarted)."""
        request = urllib.request.Request(self.stack.endpoint("lambda") + "/_settings",
                                         data=json.dumps(FAST_TUNABLES).encode(), method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def kill(self, service: str) -> None:
        """SIGKILL a service's process (no clean shutdown, no checkpoint flush)."""
        record = PidRecord.load(self.stack.config.pid_file(service))
        assert record is not None and record.alive(), f"{service} is not running"
        os.kill(record.pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(record.pid) or not record.alive(), 20,
                 f"{service} to die", 0.1)
        # the kernel may hold the port a moment after a kill (sockets still closing)
        wait_for(lambda: port_free(HOST, record.port), 60, f"port {record.port} released", 0.2)

    def stop_opensearch(self) -> int:
        """Stop the OpenSearch server as ``Stack.stop`` does: save its data, then SIGTERM.
        Returns how many documents were saved."""
        config = self.stack.config
        record = PidRecord.load(config.pid_file("opensearch"))
        assert record is not None and record.alive()
        saved = opensearch_state.dump(self.stack.endpoint("opensearch"), config.data_dir(
            "opensearch") / opensearch_state.SNAPSHOT_NAME)
        signal_term(record)
        wait_or_kill([record], 10.0)
        wait_for(lambda: port_free(HOST, record.port), 60, f"port {record.port} released", 0.2)
        return saved

    def start_opensearch(self, saved: int) -> None:
        """Start OpenSearch again (``Stack.start``, which reloads the saved documents) while
        Firehose keeps retrying its deliveries, and wait until the ``saved`` documents are back.
        """
        self.stack.start()
        wait_for(lambda: self._documents() >= saved, 120, "OpenSearch to reload its documents",
                 0.1)
        self.fast_retries()

    def _documents(self) -> int:
        """Documents in OpenSearch now (0 while it does not answer)."""
        base = self.stack.endpoint("opensearch")
        try:
            urllib.request.urlopen(urllib.request.Request(base + "/_refresh", method="POST"),
                                   timeout=5).read()
            return int(_get_json(base + "/_count")["count"])
        except (OSError, ValueError, KeyError):
            return 0

    def restart_missing(self) -> None:
        """Start whatever is not running (Stack.start), then re-apply the fast tunables."""
        self.stack.start()
        self.fast_retries()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def deploy_fault_pipeline(local_stack: Any, data_dir: Path,
                          prefix: str = "faults") -> FaultPipeline:
    """Model endpoint + steps 3-5 under ``prefix`` (1 s buffers, batches of 100) + gold table."""
    import deploy
    import e2e_model

    # its own index family: other pipelines of the session write "taxi-predictions-*"
    settings = Settings.namespaced(prefix, opensearch_index=f"{prefix}-predictions",
                                   opensearch_endpoint=local_stack.env["OPENSEARCH_ENDPOINT"])
    train = generate(data_dir / "train.csv", rows=8000, seed=7)
    e2e_model.deploy_quick_model(settings, train)
    deploy.deploy_streaming(settings, buffer_seconds=1, shards=2, say=lambda m: None,
                            mapping_overrides={"BatchSize": 100})
    glue = boto3.client("glue")
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": settings.glue_database})
    pipeline = FaultPipeline(settings, local_stack, data_dir)
    pipeline.athena(sql_text(GOLD_TABLE_SQL, settings))
    pipeline.fast_retries()
    return pipeline
