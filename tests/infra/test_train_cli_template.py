"""``sagemaker/train_register_deploy.py`` takes the course template's call next to its commands.

Template (step 2): ``python sagemaker/train_register_deploy.py --region $AWS_REGION --role
$SAGEMAKER_EXECUTION_ROLE --train_s3 s3://$PROCESSED_BUCKET/train/ --models_s3
s3://$MODELS_BUCKET/ --endpoint_name taxi-fare-xgb-endpoint``.
"""

from __future__ import annotations

import io

import boto3
import pandas as pd
import pytest

import train_register_deploy as cli
from taximl.errors import InvalidInputError

ROLE = "arn:aws:iam::123456789012:role/course-sagemaker"
TEMPLATE_ARGV = ["--region", "eu-west-1", "--role", ROLE, "--train_s3", "s3://p-bucket/train/",
                 "--models_s3", "s3://m-bucket/", "--endpoint_name", "taxi-fare-xgb-endpoint"]


def test_template_call_is_train_register_deploy_with_every_option_wired():
    args = cli.parse_args(TEMPLATE_ARGV)
    assert args.command == "run"  # train, register, deploy if approved
    assert (args.region, args.role_arn, args.train_s3, args.models_s3, args.endpoint_name) == (
        "eu-west-1", ROLE, "s3://p-bucket/train/", "s3://m-bucket/", "taxi-fare-xgb-endpoint")
    # the run command's own defaults are there although no command was typed
    assert (args.from_month, args.to_month, args.sample_fraction) == ("000001", "999912", 1.0)
    settings = cli.settings_for(args, env={"MODELS_BUCKET": "other", "ENDPOINT_NAME": "other"})
    assert (settings.region, settings.models_bucket, settings.endpoint_name) == (
        "eu-west-1", "m-bucket", "taxi-fare-xgb-endpoint")


def test_project_commands_still_parse_and_take_the_template_options_first():
    assert cli.parse_args(["train"]).command == "train"
    assert cli.parse_args(["--quiet", "status"]).command == "status"
    args = cli.parse_args(["--region", "us-west-2", "--endpoint-name", "e", "deploy",
                           "--version", "3"])
    assert (args.command, args.version, args.region, args.endpoint_name) == (
        "deploy", 3, "us-west-2", "e")
    assert cli.parse_args(["--train-s3", "s3://b/x", "train"]).train_s3 == "s3://b/x/"
    assert cli.parse_args(["--role-arn", ROLE, "train"]).role_arn == ROLE


@pytest.mark.parametrize("argv", [
    ["--train_s3", "s3://b/t/", "deploy"],          # a training set means nothing to deploy
    ["--models_s3", "s3://b/models/"],              # a key prefix cannot be honoured: say so
    ["--models_s3", "b"], ["--train_s3", "/tmp/t"], ["--train_s3", "s3://"],
    ["--endpoint", "e"], ["--rol", ROLE], ["--models", "s3://b/"],  # no abbreviations
    ["deploy", "--vers", "2"],
])
def test_bad_calls_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_role_from_option_then_project_variable_then_template_variable():
    args = cli.parse_args([])
    assert cli.role_of(args, {}) is None  # the run creates <prefix>-sagemaker-execution
    assert cli.role_of(args, {"SAGEMAKER_EXECUTION_ROLE": "t"}) == "t"
    assert cli.role_of(args, {"SAGEMAKER_EXECUTION_ROLE": "t", "SAGEMAKER_ROLE_ARN": "p"}) == "p"
    assert cli.role_of(cli.parse_args(["--role", "o"]), {"SAGEMAKER_ROLE_ARN": "p"}) == "o"


@pytest.fixture
def s3(moto_env):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="p-bucket")
    return client


def _parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.to_parquet(sink)
    return sink.getvalue()


def test_empty_train_folder_is_filled_by_the_projects_ctas(s3, monkeypatch):
    calls = []
    monkeypatch.setattr(cli.trainset, "run_ctas",
                        lambda athena, settings, uri, **kw: calls.append((uri, kw)))
    args = cli.parse_args(TEMPLATE_ARGV)
    athena = object()  # not called here: the CTAS itself runs in the template commands test
    uri = cli.training_set(s3, athena, cli.settings_for(args, {}), args)
    assert uri == "s3://p-bucket/train/"
    assert calls == [("s3://p-bucket/train/",
                      {"from_month": "000001", "to_month": "999912", "sample_fraction": 1.0})]


def test_folder_with_the_projects_training_set_is_reused_without_a_ctas(s3, monkeypatch):
    monkeypatch.setattr(cli.trainset, "run_ctas", lambda *a, **k: pytest.fail("CTAS ran"))
    trips = pd.DataFrame({"pickup_datetime": pd.to_datetime(["2024-01-01 10:00"]),
                          "fare_amount": [12.5]})
    s3.put_object(Bucket="p-bucket", Key="train/20240101_000_part", Body=_parquet(trips))
    s3.put_object(Bucket="p-bucket", Key="train/query.metadata", Body=b"x")
    args = cli.parse_args(TEMPLATE_ARGV)
    assert cli.training_set(s3, None, cli.settings_for(args, {}), args) == "s3://p-bucket/train/"


def test_folder_with_the_templates_ctas_output_gets_a_clear_error(s3):
    # the template's CTAS keeps trip_distance, passenger_count, zones, year, month, label
    template_set = pd.DataFrame({"trip_distance": [1.2], "passenger_count": [1],
                                 "pulocationid": [1], "dolocationid": [2], "year": ["2023"],
                                 "month": ["01"], "label": [9.5]})
    s3.put_object(Bucket="p-bucket", Key="train/part-0", Body=_parquet(template_set))
    args = cli.parse_args(TEMPLATE_ARGV)
    with pytest.raises(InvalidInputError, match=r"without pickup times.*aws s3 rm --recursive"):
        cli.training_set(s3, None, cli.settings_for(args, {}), args)


def test_missing_bucket_and_non_parquet_files_are_clear_errors(s3):
    args = cli.parse_args(["--train_s3", "s3://nope/train/"])
    with pytest.raises(InvalidInputError, match="bucket nope does not exist"):
        cli.training_set(s3, None, cli.settings_for(args, {}), args)
    s3.put_object(Bucket="p-bucket", Key="train/trips.bin", Body=b"not parquet at all")
    args = cli.parse_args(["--train_s3", "s3://p-bucket/train/"])
    with pytest.raises(InvalidInputError, match="is not a Parquet file"):
        cli.training_set(s3, None, cli.settings_for(args, {}), args)


def test_main_reports_a_missing_models_bucket_without_a_traceback(s3, capsys, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert cli.main(["--models_s3", "s3://no-such-models/", "status"]) == 1
    assert "bucket no-such-models does not exist" in capsys.readouterr().err
