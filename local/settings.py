"""Ports, paths and the list of services of the local stack (one place, no logic)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_PORT_BASE = "LOCAL_STACK_PORT_BASE"
ENV_STATE_DIR = "LOCAL_STACK_STATE_DIR"
ENV_START_TIMEOUT = "LOCAL_STACK_START_TIMEOUT"

DEFAULT_PORT_BASE = 4566
DEFAULT_START_TIMEOUT = 60.0
HOST = "127.0.0.1"
REGION = "us-east-1"

LOCAL_DIR = Path(__file__).resolve().parent
REPO_ROOT = LOCAL_DIR.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local-stack"


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the stack: its port offset, how it is run and which env var points at it."""

    name: str
    offset: int
    kind: str  # "moto" | "kinesalite" | "python"
    env_vars: tuple[str, ...]
    module: str | None = None  # python module run with ``python -m`` (kind python/moto)
    stop_timeout: float = 10.0  # seconds between SIGTERM and SIGKILL
    stop_order: int = 0  # lower stops first (stand-ins flush into moto/kinesis/opensearch)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("moto", 0, "moto", ("AWS_ENDPOINT_URL",), "local.services.moto_server",
                stop_timeout=60.0, stop_order=3),
    ServiceSpec("kinesis", 1, "kinesalite", ("AWS_ENDPOINT_URL_KINESIS",), stop_order=2),
    ServiceSpec("sagemaker-runtime", 2, "python", ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",),
                "local.services.sagemaker_runtime"),
    ServiceSpec("lambda", 3, "python", ("AWS_ENDPOINT_URL_LAMBDA",),
                "local.services.lambda_service", stop_timeout=20.0),
    ServiceSpec("firehose", 4, "python", ("AWS_ENDPOINT_URL_FIREHOSE",), "local.services.firehose",
                stop_timeout=30.0, stop_order=1),
    ServiceSpec("athena", 5, "python", ("AWS_ENDPOINT_URL_ATHENA",), "local.services.athena"),
    ServiceSpec("opensearch", 6, "python", ("OPENSEARCH_ENDPOINT",),
                "local.services.opensearch", stop_timeout=20.0, stop_order=2),
    ServiceSpec("dashboard", 7, "python", ("DASHBOARD_URL",), "local.services.dashboard"),
)


def service(name: str) -> ServiceSpec:
    """The spec of service ``name`` (KeyError with the known names otherwise)."""
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown service {name!r}; known: {', '.join(s.name for s in SERVICES)}")


@dataclass(frozen=True)
class StackConfig:
    """Where the stack listens and keeps its state. Argument > environment > default."""

    port_base: int = DEFAULT_PORT_BASE
    state_dir: Path = DEFAULT_STATE_DIR
    start_timeout: float = DEFAULT_START_TIMEOUT

    @classmethod
    def from_env(
        cls,
        port_base: int | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        start_timeout: float | None = None,
    ) -> StackConfig:
        """Build a config from arguments, falling back to the LOCAL_STACK_* env vars."""
        if port_base is None:
            port_base = int(os.environ.get(ENV_PORT_BASE, DEFAULT_PORT_BASE))
        if state_dir is None:
            state_dir = os.environ.get(ENV_STATE_DIR) or DEFAULT_STATE_DIR
        if start_timeout is None:
            start_timeout = float(os.environ.get(ENV_START_TIMEOUT, DEFAULT_START_TIMEOUT))
        if not 1024 <= port_base <= 65535 - len(SERVICES):
            raise ValueError(f"port base {port_base} out of range 1024..{65535 - len(SERVICES)}")
        return cls(int(port_base), Path(state_dir).expanduser().resolve(), float(start_timeout))

    def port(self, name: str) -> int:
        return self.port_base + service(name).offset

    def url(self, name: str) -> str:
        return f"http://{HOST}:{self.port(name)}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env.sh"

    def data_dir(self, name: str) -> Path:
        return self.state_dir / "data" / name

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.pids_dir / f"{name}.json"
