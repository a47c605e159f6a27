"""Settings resolve argument > environment > default, from one project prefix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taximl.config import Settings


def test_names_derive_from_the_prefix() -> None:
    s = Settings.from_env({"PROJECT_PREFIX": "st1630-ana"})
    assert s.raw_bucket == "st1630-ana-raw"
    assert s.glue_database == "st1630_ana"  # Glue/Athena names take no hyphens
    assert s.stream_name == "st1630-ana-trips"
    assert s.region == "us-east-1"


def test_argument_beats_environment_beats_default() -> None:
    env = {"RAW_BUCKET": "from-env", "AWS_DEFAULT_REGION": "eu-west-1", "FIXED_THRESHOLD": "7.5"}
    s = Settings.from_env(env, raw_bucket="from-arg")
    assert s.raw_bucket == "from-arg"
    assert Settings.from_env(env).raw_bucket == "from-env"
    assert s.region == "eu-west-1" and s.fixed_threshold == 7.5
    assert Settings.from_env({"AWS_REGION": "sa-east-1", "AWS_DEFAULT_REGION": "x"}).region == (
        "sa-east-1"
    )


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(TypeError, match="unknown settings"):
        Settings.from_env({}, raw_bukket="typo")


def test_fixed_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="FIXED_THRESHOLD"):
        Settings.from_env({"FIXED_THRESHOLD": "0"})


def test_as_env_round_trips() -> None:
    s = Settings.from_env({"PROJECT_PREFIX": "p1", "OPENSEARCH_ENDPOINT": "http://x:1"})
    assert Settings.from_env(s.as_env()) == s


def test_shell_exports_can_be_evaluated() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "taximl.config"],
        check=True,
        capture_output=True,
        text=True,
        env={"PROJECT_PREFIX": "demo-x"},
    ).stdout
    assert "export RAW_BUCKET=demo-x-raw" in out.splitlines()
