"""The batch tests import step 1's modules (infra/datalake) next to sagemaker/ (pythonpath)."""

from __future__ import annotations

import sys
from pathlib import Path

DATALAKE = Path(__file__).resolve().parents[2] / "infra" / "datalake"
if str(DATALAKE) not in sys.path:
    sys.path.insert(0, str(DATALAKE))
