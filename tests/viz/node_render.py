"""Compile and render Vega-Lite specs with the pinned vega/vega-lite, in Node (no browser)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "render_specs.js"


def render(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per spec: ``ok``, ``error``, ``svg``, ``marks`` (data marks), ``texts``."""
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js is required (make setup installs it)"
    done = subprocess.run([node, str(SCRIPT)], input=json.dumps(specs), capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)
