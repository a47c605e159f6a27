"""Settings resolve argument > environment > default, from one project prefix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taximl.config import Settings


def test_template_names_are_the_defaults_and_buckets_keep_the_prefix() -> None:
    s = Settings.from_env({"PROJECT_PREFIX": "st1630-ana"})
    assert s.raw_bucket == "st1630-ana-raw"
    assert s.model_package_group == "st1630-ana-fare-model"
    # the names the course template gives
    assert s.stream_name == "taxi-trips-stream"
    assert s.gold_delivery_stream == "taxi-predictions-firehose"
    assert s.glue_database == "nyc_db"
    assert s.endpoint_name == "taxi-fare-xgb-endpoint"
    assert s.function_name == "taxi-kinesis-infer"
    assert s.opensearch_index == "taxi-predictions"
    assert s.quarantine_index == "taxi-quarantine"
    assert s.region == "us-east-1"


def test_namespaced_settings_derive_every_name_from_the_prefix() -> None:
    outer = {"STREAM_NAME": "from-shell", "KINESIS_STREAM_NAME": "from-shell",
             "AWS_REGION": "eu-west-1", "RAW_BUCKET": "shell-raw"}
    s = Settings.namespaced("e2e-x", outer, endpoint_name="given")
    assert s.stream_name == "e2e-x-trips-stream"
    assert s.glue_database == "e2e_x"  # Glue/Athena names take no hyphens
    assert s.function_name == "e2e-x-kinesis-infer"
    assert (s.opensearch_index, s.quarantine_index) == ("e2e-x-predictions", "e2e-x-quarantine")
    assert s.raw_bucket == "e2e-x-raw"
    assert s.endpoint_name == "given"
    assert s.region == "eu-west-1"
    assert Settings.from_env(s.as_env()) == s


def test_course_template_variables_are_aliases() -> None:
    env = {"KINESIS_STREAM_NAME": "s1", "FIREHOSE_STREAM": "f1", "SAGEMAKER_ENDPOINT": "e1",
           "THRESHOLD": "12"}
    s = Settings.from_env(env)
    assert (s.stream_name, s.gold_delivery_stream, s.endpoint_name, s.fixed_threshold) == (
        "s1", "f1", "e1", 12.0)
    exported = s.as_env()
    assert exported["KINESIS_STREAM_NAME"] == exported["STREAM_NAME"] == "s1"
    assert exported["THRESHOLD"] == exported["FIXED_THRESHOLD"] == "12.0"
    # the same value under both names is fine (10 and 10.0 are the same threshold)
    assert Settings.from_env({"THRESHOLD": "10", "FIXED_THRESHOLD": "10.0"}).fixed_threshold == 10


def test_disagreeing_alias_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="STREAM_NAME='a' and KINESIS_STREAM_NAME='b' disagree"):
        Settings.from_env({"STREAM_NAME": "a", "KINESIS_STREAM_NAME": "b"})


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
