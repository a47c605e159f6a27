"""Infrastructure tests: the CLI step scripts and the infra tools are importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO / "infra", REPO / "infra" / "streaming", REPO / "infra" / "cicd",
              REPO / "tests" / "e2e", REPO / "tests" / "streaming", REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))
