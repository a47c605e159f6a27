"""Shared fixtures: the real TLC samples in ../shared/data and the local AWS stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_DIR = Path(os.environ.get("SHARED_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))

pytest_plugins = ["local_stack_fixture"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real TLC samples; tests that need them are skipped where the folder is absent."""
    if not (SHARED_DATA_DIR / "tlc").is_dir():
        pytest.skip(
            f"real TLC samples not found at {SHARED_DATA_DIR}/tlc "
            "(set SHARED_DATA_DIR to the shared/data folder to run this test)"
        )
    return SHARED_DATA_DIR


@pytest.fixture(scope="session")
def tlc_sample_files(shared_data_dir: Path) -> list[Path]:
    """Every trip file among the shared samples (lookup tables excluded)."""
    files = sorted(shared_data_dir.glob("tlc/**/*.csv"))
    files += sorted(shared_data_dir.glob("tlc/**/*.parquet"))
    return [f for f in files if "lookup" not in f.name]
