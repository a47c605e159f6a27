"""Lifecycle of the local stack: idempotent start, status, stop by PID, 127.0.0.1 only, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from local import process
from local.health import port_free
from local.settings import SERVICES, StackConfig
from local.stack import Stack, StackError

pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def private_stack(tmp_path, local_stack):
    """A short-lived stack with its own ports and state (the session stack stays untouched)."""
    stack = Stack(StackConfig.from_env(local_stack.config.port_base + 30, tmp_path / "state"))
    try:
        yield stack
    finally:
        stack.stop()


def _pids(stack: Stack) -> dict[str, int]:
    return {row.name: row.pid for row in stack.status() if row.pid}


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = stack.config
    return subprocess.run(
        [sys.executable, "-m", "local", *args, "--port-base", str(cfg.port_base),
         "--state-dir", str(cfg.state_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_start_twice_is_one_stack(private_stack):
    first = private_stack.start()
    assert not first.already_running
    enabled = [s.name for s in private_stack.enabled()]
    assert sorted(first.started) == sorted(enabled)
    pids = _pids(private_stack)
    assert set(pids) == set(enabled)

    second = private_stack.start()
    assert second.already_running and second.started == []
    assert _pids(private_stack) == pids

    rows = {row.name: row for row in private_stack.status()}
    for name in enabled:
        assert rows[name].running and rows[name].healthy, name
        assert rows[name].port == private_stack.config.port(name)


def test_ports_bound_to_loopback_only(private_stack):
    private_stack.start()
    listening = []
    for pid in _pids(private_stack).values():
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            listening += [c for c in p.net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN]
    assert listening, "no listening sockets found"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
    ports = {c.laddr.port for c in listening}
    for spec in private_stack.enabled():
        assert private_stack.config.port(spec.name) in ports, spec.name


def test_stop_kills_every_pid(private_stack):
    private_stack.start()
    pids = _pids(private_stack)
    children = {pid: [c.pid for c in psutil.Process(pid).children(recursive=True)]
                for pid in pids.values()}
    stopped = private_stack.stop()
    assert sorted(stopped) == sorted(pids)
    for name, pid in pids.items():
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", name
        for child in children[pid]:
            assert not psutil.pid_exists(child), (name, child)
        assert not private_stack.config.pid_file(name).exists()
        assert port_free("127.0.0.1", private_stack.config.port(name)), name
    assert not private_stack.running()
    assert private_stack.stop() == []


def test_cli_start_status_env_stop(private_stack):
    cfg = private_stack.config
    first = _cli(private_stack, "start")
    assert first.returncode == 0, first.stderr
    assert "healthy" in first.stdout and f"source {cfg.env_file}" in first.stdout
    second = _cli(private_stack, "start")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout

    status = _cli(private_stack, "status")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "PORT", "PID", "HEALTHY"]
    moto_row = next(line.split() for line in lines if line.startswith("moto "))
    assert moto_row[1] == str(cfg.port_base) and moto_row[3] == "yes"

    env = _cli(private_stack, "env")
    sourced = subprocess.run(
        ["bash", "-c", f"source {cfg.env_file} && env"], capture_output=True, text=True,
        timeout=30, check=True).stdout
    for line in (f"AWS_ENDPOINT_URL=http://127.0.0.1:{cfg.port_base}",
                 f"AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:{cfg.port_base + 1}",
                 f"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:{cfg.port_base + 2}",
                 f"OPENSEARCH_ENDPOINT=http://127.0.0.1:{cfg.port_base + 6}",
                 "AWS_DEFAULT_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test"):
        assert line in sourced.splitlines()
        assert line.replace("=", "=", 1) in env.stdout.replace("export ", "")

    stop = _cli(private_stack, "stop")
    assert stop.returncode == 0 and "Stopped" in stop.stdout
    assert not private_stack.running()


def test_port_in_use_is_a_clear_error(private_stack):
    import socket

    port = private_stack.config.port("kinesis")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(StackError, match=f"port {port} for kinesis is in use"):
            private_stack.start()
    assert not private_stack.running()


def test_service_that_dies_names_service_and_log(private_stack, monkeypatch):
    monkeypatch.setenv("OSMEM_SERVER_BIN", "/bin/false")
    with pytest.raises(StackError) as err:
        private_stack.start()
    message = str(err.value)
    assert "opensearch" in message and "exited during start-up" in message
    assert str(private_stack.config.log_file("opensearch")) in message
    assert not private_stack.running(), "services started before the failure must be stopped"


def test_missing_node_says_how_to_install(private_stack, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no node on PATH
    with pytest.raises(StackError, match="apt-get install nodejs npm"):
        private_stack.start()
    assert not private_stack.running()


def test_sigkill_after_timeout(tmp_path):
    """A process that ignores SIGTERM is killed once the stop timeout has passed."""
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)")
    rec = process.spawn([sys.executable, "-c", code], tmp_path / "stubborn.log",
                        dict(os.environ), tmp_path, port=0)
    deadline = time.monotonic() + 10
    while ("ready" not in (tmp_path / "stubborn.log").read_text().splitlines()
           and time.monotonic() < deadline):
        time.sleep(0.05)
    started = time.monotonic()
    assert process.terminate(rec, timeout=0.5) is True
    assert time.monotonic() - started < 5
    assert not rec.alive()


def test_every_service_has_a_distinct_port():
    cfg = StackConfig.from_env(4566, "/tmp/unused-state")
    ports = [cfg.port(s.name) for s in SERVICES]
    assert len(set(ports)) == len(ports) == 8
    assert cfg.port("moto") == 4566 and cfg.port("opensearch") == 4572
    assert cfg.port("dashboard") == 4573
    assert signal.SIGTERM  # stop uses SIGTERM first (see local.process.terminate)
