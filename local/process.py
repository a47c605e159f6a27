"""Start detached child processes and stop them again by PID (never by name)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from local.envfile import write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PidRecord:
    """What we know about a process we started: enough to be sure a PID is still ours."""

    pid: int
    create_time: float
    port: int
    command: list[str]

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.__dict__))

    @classmethod
    def load(cls, path: Path) -> PidRecord | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(data["pid"]), float(data["create_time"]), int(data["port"]),
                       list(data["command"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def process(self) -> psutil.Process | None:
        """The live process if it is still the one we started (guards against PID reuse)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


def spawn(command: list[str], log_path: Path, env: dict[str, str], cwd: Path,
          port: int) -> PidRecord:
    """Start ``command`` in its own session, stdout+stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(command)}\n"
                  .encode())
        out.flush()
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        create_time = time.time()
    return PidRecord(proc.pid, create_time, port, command)


def exited(record: PidRecord) -> bool:
    """True once the process is gone (reaps it when it is our direct child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(record.pid, os.WNOHANG)
    return not record.alive()


def terminate(record: PidRecord, timeout: float) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL its process group. True if it had to kill."""
    proc = record.process()
    if proc is None:
        return False
    try:
        proc.send_signal(signal.SIGTERM)
    except psutil.Error:
        return False
    return wait_or_kill([record], timeout)


def wait_or_kill(records: list[PidRecord], timeout: float) -> bool:
    """Wait for already-signalled processes; SIGKILL what is left after ``timeout``."""
    deadline = time.monotonic() + timeout
    pending = [r for r in records if not exited(r)]
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [r for r in pending if not exited(r)]
    for record in pending:
        log.warning("pid %s did not exit %.1f s after SIGTERM: SIGKILL", record.pid, timeout)
        _kill_group(record)
    for record in pending:
        end = time.monotonic() + 5.0
        while not exited(record) and time.monotonic() < end:
            time.sleep(0.05)
    return bool(pending)


def _kill_group(record: PidRecord) -> None:
    proc = record.process()
    if proc is None:
        return
    try:
        # Our children run in their own session: their group id is their pid.
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, psutil.Error):
        pass


def signal_term(record: PidRecord) -> bool:
    """Send SIGTERM if the process is still ours; False if it was already gone."""
    proc = record.process()
    if proc is None:
        return False
    try:
        proc.send_signal(signal.SIGTERM)
        return True
    except psutil.Error:
        return False
