"""Node.js side of the stack: find node/npm, install the pinned kinesalite with ``npm ci``."""

from __future__ import annotations

import logging
import shutil
import subprocess

from local.settings import LOCAL_DIR

log = logging.getLogger(__name__)

NODE_HELP = (
    "Node.js (>= 18) and npm are needed for Kinesis (kinesalite). Install them, e.g.\n"
    "  Debian/Ubuntu: sudo apt-get install nodejs npm\n"
    "  macOS:         brew install node\n"
    "  Windows:       https://nodejs.org (or run the stack inside WSL)\n"
    "then run: python -m local setup"
)


class NodeMissingError(RuntimeError):
    """node or npm is not installed."""


def node_binary() -> str:
    path = shutil.which("node") or shutil.which("nodejs")
    if path is None:
        raise NodeMissingError(NODE_HELP)
    return path


def kinesalite_installed() -> bool:
    return (LOCAL_DIR / "node_modules" / "kinesalite" / "package.json").is_file()


def npm_ci(timeout: float = 300.0) -> None:
    """Install local/node_modules exactly as local/package-lock.json pins it."""
    node_binary()
    npm = shutil.which("npm")
    if npm is None:
        raise NodeMissingError(NODE_HELP)
    log.info("npm ci in %s", LOCAL_DIR)
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=LOCAL_DIR, capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"npm ci in {LOCAL_DIR} took more than {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed in {LOCAL_DIR}:\n{result.stdout}\n{result.stderr}")


def ensure_kinesalite() -> None:
    """Run ``npm ci`` once when local/node_modules is missing."""
    if not kinesalite_installed():
        npm_ci()
