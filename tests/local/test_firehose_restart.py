"""Delivery streams and buffered records survive restarts (clean stop, crash, whole stack).

The first two tests run their own Firehose stand-in process (own port and state dir) next to the
session's stack, so they can stop and kill it without disturbing other tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from test_firehose_support import (
    create_s3_stream,
    list_keys,
    make_bucket,
    read_object,
    wait_keys,
)

pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]
LONG_BUFFER = {"SizeInMBs": 128, "IntervalInSeconds": 900}


class FirehoseProcess:
    """A Firehose stand-in process on a free port with a fixed state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        return boto3.client("firehose", endpoint_url=self.url)

    def start(self) -> None:
        log = open(self.state_dir / "firehose.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local.services.firehose", "--host", "127.0.0.1",
             "--port", str(self.port), "--state-dir", str(self.state_dir)],
            cwd=REPO_ROOT, stdout=log, stderr=log,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_health", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("firehose stand-in did not become healthy")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code


@pytest.fixture
def own_firehose(local_stack, tmp_path: Path) -> Iterator[FirehoseProcess]:
    process = FirehoseProcess(tmp_path)
    process.start()
    yield process
    if process.proc is not None:
        process.proc.kill()
        process.proc.wait(timeout=10)


def test_clean_stop_flushes_buffers_and_keeps_streams(own_firehose: FirehoseProcess) -> None:
    # GIVEN a stream whose buffer would only flush after 15 minutes
    bucket = make_bucket()
    firehose = own_firehose.client()
    name = create_s3_stream(firehose, bucket, Prefix="gold/", BufferingHints=LONG_BUFFER)
    firehose.put_record_batch(DeliveryStreamName=name,
                              Records=[{"Data": f"{i}\n".encode()} for i in range(100)])
    time.sleep(0.5)
    assert list_keys(bucket) == []
    # WHEN the stand-in is stopped cleanly (SIGTERM)
    assert own_firehose.stop() == 0
    # THEN the buffered records were delivered, and the stream exists after a restart
    [key] = list_keys(bucket)
    assert read_object(bucket, key) == b"".join(f"{i}\n".encode() for i in range(100))
    own_firehose.start()
    desc = own_firehose.client().describe_delivery_stream(DeliveryStreamName=name)
    assert desc["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"


def test_crash_keeps_accepted_records(own_firehose: FirehoseProcess) -> None:
    # GIVEN records accepted into a long buffer
    bucket = make_bucket()
    firehose = own_firehose.client()
    name = create_s3_stream(firehose, bucket, BufferingHints=LONG_BUFFER)
    firehose.put_record_batch(DeliveryStreamName=name,
                              Records=[{"Data": b"a\n"}, {"Data": b"b\n"}])
    # WHEN the process is killed (no chance to flush) and started again
    own_firehose.stop(signal.SIGKILL)
    assert list_keys(bucket) == []
    own_firehose.start()
    own_firehose.client().put_record(DeliveryStreamName=name, Record={"Data": b"c\n"})
    # THEN a clean stop delivers the records from before and after the crash, in order
    assert own_firehose.stop() == 0
    [key] = list_keys(bucket)
    assert read_object(bucket, key) == b"a\nb\nc\n"


def test_whole_stack_restart_keeps_streams_and_records(local_stack) -> None:
    # GIVEN a stream on the session stack with records still buffered
    bucket = make_bucket()
    firehose = boto3.client("firehose")
    name = create_s3_stream(firehose, bucket, Prefix="restart/", BufferingHints=LONG_BUFFER)
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"before-restart\n"})
    # WHEN the whole stack restarts
    local_stack.restart()
    # THEN the records are in S3 and the stream still takes records
    [key] = wait_keys(bucket, 1, prefix="restart/")
    assert read_object(bucket, key) == b"before-restart\n"
    firehose = boto3.client("firehose")
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"after\n"})
    assert name in firehose.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]
