"""The failure-handling settings of infra/streaming/*.json agree with each other and the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STREAMING = REPO / "infra" / "streaming"


def _template(name: str) -> dict:
    """A template with every ${PLACEHOLDER} filled by a dummy value (numbers stay numbers)."""
    text = (STREAMING / name).read_text()
    return json.loads(re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: "60" if m.group(1).endswith(
        "_SECONDS") else f"x-{m.group(1).lower()}", text))


def test_the_mapping_gives_up_after_finite_retries_into_the_s3_destination() -> None:
    mapping = _template("event-source-mapping.json")
    assert 0 <= mapping["MaximumRetryAttempts"] == 10
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"].startswith("arn:aws:s3:::")


def test_in_invocation_patience_fits_in_the_function_timeout(monkeypatch) -> None:
    # GIVEN the deployed timeout and TRANSIENT_RETRY_S  THEN patience + one more pass fit in it
    function = _template("lambda-function.json")
    patience = float(function["Environment"]["Variables"]["TRANSIENT_RETRY_S"])
    for key, value in {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "THRESHOLD_MODE": "fixed"}.items():
        monkeypatch.setenv(key, value)
    import importlib
    import sys

    sys.modules.pop("lambda_function", None)
    module = importlib.import_module("lambda_function")
    try:
        assert patience + module.PASS_RESERVE_S <= function["Timeout"]
        # one pass at worst: 3 attempts of (connect + read timeout) per endpoint call
        config = module._client_config
        worst_call = 3 * (config.connect_timeout + config.read_timeout)
        assert worst_call <= module.PASS_RESERVE_S
    finally:
        sys.modules.pop("lambda_function", None)


def test_the_iterator_age_alarm_watches_the_function() -> None:
    alarm = _template("iterator-age-alarm.json")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/Lambda", "IteratorAge", "Maximum")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "x-function_name"}]
    assert alarm["Threshold"] == 120_000 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"][0].endswith(":x-project_prefix-streaming-alarms")


@pytest.mark.parametrize(("current", "changes"), [
    ({"MaximumRetryAttempts": -1, "BatchSize": 1000,
      "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::gold"}}},
     {"MaximumRetryAttempts": 10}),
    ({"MaximumRetryAttempts": 10, "BatchSize": 1000,
      "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::old"}}},
     {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::gold"}}}),
    ({"MaximumRetryAttempts": 10, "BatchSize": 1000,
      "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::gold"}}}, {}),
])
def test_deploy_updates_only_the_mapping_settings_that_changed(current, changes) -> None:
    import sys

    sys.path.insert(0, str(STREAMING))
    from deploy import mapping_changes

    wanted = {"MaximumRetryAttempts": 10, "BatchSize": 1000, "StartingPosition": "LATEST",
              "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::gold"}}}
    assert mapping_changes(current, wanted) == changes
