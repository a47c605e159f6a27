"""Run training jobs in child processes.

``TrainingProcess`` starts ``python -m local.sagemaker.training`` for one job, relays its JSON
progress lines to callbacks from a monitor thread, and enforces ``MaxRuntimeInSeconds``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from local.sagemaker.spec import TrainingSpec

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


class TrainingProcess:
    """One training job running in a child process."""

    def __init__(
        self,
        spec: TrainingSpec,
        region: str,
        on_status: Callable[[str, str], None],
        on_done: Callable[[dict[str, Any]], None],
    ) -> None:
        self.spec = spec
        self.region = region
        self._on_status = on_status
        self._on_done = on_done
        self._proc: subprocess.Popen[str] | None = None
        self._stop_reason: str | None = None
        self._lock = threading.Lock()  # stop() may come before the child process exists
        self._thread = threading.Thread(target=self._run, name=f"training-{spec.name}", daemon=True)

    def start(self) -> None:
        """Start the child process and its monitor thread (returns at once)."""
        self._thread.start()

    def stop(self, reason: str = "Stopped") -> None:
        """Terminate the child; the job ends as Stopped (``reason`` is its SecondaryStatus)."""
        with self._lock:
            self._stop_reason = reason
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("AWS_ACCESS_KEY_ID", "test")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = self.region
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("OMP_NUM_THREADS", "1")
        return env

    def _run(self) -> None:
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", prefix=f"training-{self.spec.name}-", delete=False
        ) as handle:
            json.dump(asdict(self.spec), handle)
            spec_path = handle.name
        result: dict[str, Any] | None = None
        timer = threading.Timer(self.spec.max_runtime_s, self.stop, args=("MaxRuntimeExceeded",))
        timer.daemon = True
        try:
            with self._lock:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "local.sagemaker.training", spec_path],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=self._env(),
                    cwd=str(REPO_ROOT),
                )
                if self._stop_reason:  # stopped while the process was being created
                    self._proc.terminate()
            timer.start()
            assert self._proc.stdout is not None
            for line in self._proc.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("event") == "status":
                    self._on_status(event["status"], event.get("message", ""))
                elif event.get("event") == "result":
                    result = event
            stderr = self._proc.stderr.read() if self._proc.stderr else ""
            code = self._proc.wait()
        except OSError as exc:
            result, stderr, code = None, str(exc), -1
        finally:
            timer.cancel()
            Path(spec_path).unlink(missing_ok=True)
        if self._stop_reason:
            result = {"ok": False, "stopped": True, "secondary": self._stop_reason}
        elif result is None:
            tail = (stderr or "").strip().splitlines()[-3:]
            reason = f"AlgorithmError: training process exited with code {code}: {' '.join(tail)}"
            result = {"ok": False, "reason": reason}
        if stderr and not result.get("ok"):
            logger.warning("training job %s stderr:\n%s", self.spec.name, stderr[-4000:])
        self._on_done(result)


def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
