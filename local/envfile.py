"""The environment that points the AWS CLI/SDKs at the stack, and its sourceable env.sh."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from local.settings import ENV_PORT_BASE, ENV_STATE_DIR, REGION, SERVICES, StackConfig


def stack_env(config: StackConfig) -> dict[str, str]:
    """Variables a client needs: endpoints, region, dummy credentials, state dir."""
    env: dict[str, str] = {}
    for spec in SERVICES:
        for var in spec.env_vars:
            env[var] = config.url(spec.name)
    env.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    env[ENV_STATE_DIR] = str(config.state_dir)
    env[ENV_PORT_BASE] = str(config.port_base)
    return env


def render(env: dict[str, str]) -> str:
    """``export K=V`` lines, shell-quoted, sourceable by bash/zsh."""
    lines = ['# Local AWS stack environment: source this file (or eval "$(python -m local env)").']
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    # A profile or session token from a real account would override the dummy credentials.
    lines.append("unset AWS_PROFILE AWS_SESSION_TOKEN")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_env_file(config: StackConfig) -> Path:
    write_atomic(config.env_file, render(stack_env(config)))
    return config.env_file
