"""``infra/aws_deploy.py``: the deployment bucket and upload (moto), the change set flow (Stubber).

moto's CloudFormation skips Firehose, Glue and CloudWatch alarm resources, so the stack itself
cannot be created locally; the CloudFormation calls are checked one by one with botocore's
Stubber instead, and the template by cfn-lint, checkov and the parity test.
"""

from __future__ import annotations

import aws_deploy
import boto3
import pytest
from botocore.stub import ANY, Stubber

from taximl.config import Settings

SETTINGS = Settings.from_env({"PROJECT_PREFIX": "deploy-test", "AWS_REGION": "eu-west-1"})
URL = "https://deploy-test-artifacts.s3.eu-west-1.amazonaws.com/cloudformation/stack-x.yaml"
PARAMETERS = {"ProjectPrefix": "deploy-test", "StreamName": "taxi-trips-stream"}


@pytest.fixture
def s3(moto_env):
    return boto3.client("s3", region_name="eu-west-1")


def test_artifacts_bucket_is_private_versioned_and_keys_follow_the_content(s3, tmp_path):
    zip_path = tmp_path / "lambda.zip"
    zip_path.write_bytes(b"PK fake zip v1")
    bucket, key, url = aws_deploy.upload_artifacts(s3, SETTINGS, zip_path)
    assert bucket == "deploy-test-artifacts"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
               .values())
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [
        {"Key": "project", "Value": "deploy-test"}]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"PK fake zip v1"
    template_key = url.split(".amazonaws.com/", 1)[1]
    assert s3.get_object(Bucket=bucket, Key=template_key)["Body"].read() == \
        aws_deploy.TEMPLATE.read_bytes()
    assert url.startswith("https://deploy-test-artifacts.s3.eu-west-1.amazonaws.com/")
    # same code, same key (no stack change); new code, new key (the stack updates the function)
    assert aws_deploy.upload_artifacts(s3, SETTINGS, zip_path)[1] == key
    zip_path.write_bytes(b"PK fake zip v2")
    assert aws_deploy.upload_artifacts(s3, SETTINGS, zip_path)[1] != key


def _cfn():
    client = boto3.client("cloudformation", region_name="eu-west-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def _no_stack(stub: Stubber) -> None:
    stub.add_client_error("describe_stacks", "ValidationError",
                          "Stack with id s does not exist", 400, expected_params={"StackName": "s"})


def _stack(stub: Stubber, status: str) -> None:
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": "s", "StackStatus": status, "CreationTime": "2026-01-01T00:00:00Z"}]},
        {"StackName": "s"})


def _change_set(stub: Stubber, status: str, reason: str = "", changes: int = 0) -> None:
    stub.add_response("describe_change_set", {
        "Status": status, "StatusReason": reason, "ExecutionStatus": "AVAILABLE",
        "Changes": [{"Type": "Resource", "ResourceChange": {
            "Action": "Add", "LogicalResourceId": f"R{i}", "ResourceType": "AWS::S3::Bucket"}}
            for i in range(changes)]},
        {"StackName": "s", "ChangeSetName": ANY})


def test_first_deploy_creates_executes_and_waits(capsys):
    cfn, stub = _cfn()
    _no_stack(stub)
    stub.add_response("create_change_set", {"Id": "cs", "StackId": "sid"}, {
        "StackName": "s", "ChangeSetName": ANY, "ChangeSetType": "CREATE", "TemplateURL": URL,
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        "Tags": [{"Key": "project", "Value": "deploy-test"}],
        "RoleARN": "arn:aws:iam::1:role/deploy"})
    _change_set(stub, "CREATE_COMPLETE", changes=2)   # the waiter
    _change_set(stub, "CREATE_COMPLETE", changes=2)   # the listing
    stub.add_response("execute_change_set", {}, {"StackName": "s", "ChangeSetName": ANY})
    _stack(stub, "CREATE_COMPLETE")  # the waiter
    _stack(stub, "CREATE_COMPLETE")  # the final status
    options = aws_deploy.DeployOptions(yes=True, role_arn="arn:aws:iam::1:role/deploy")
    with stub:
        status = aws_deploy.deploy_stack(cfn, "s", URL, PARAMETERS, SETTINGS, options)
        stub.assert_no_pending_responses()
    assert status == "CREATE_COMPLETE"
    out = capsys.readouterr().out
    assert "create stack s: 2 changes" in out and "Add     R1" in out


def test_a_deploy_without_changes_says_so_and_leaves_no_change_set(capsys):
    cfn, stub = _cfn()
    _stack(stub, "UPDATE_COMPLETE")
    stub.add_response("create_change_set", {"Id": "cs"}, None)
    reason = "The submitted information didn't contain changes. Submit different information."
    _change_set(stub, "FAILED", reason)  # the waiter stops on FAILED
    _change_set(stub, "FAILED", reason)
    stub.add_response("delete_change_set", {}, {"StackName": "s", "ChangeSetName": ANY})
    with stub:
        status = aws_deploy.deploy_stack(cfn, "s", URL, PARAMETERS, SETTINGS,
                                         aws_deploy.DeployOptions(yes=True))
        stub.assert_no_pending_responses()
    assert status == "NO_CHANGES"
    assert "already up to date" in capsys.readouterr().out


def test_answering_no_deletes_the_change_set():
    cfn, stub = _cfn()
    _stack(stub, "UPDATE_COMPLETE")
    stub.add_response("create_change_set", {"Id": "cs"}, None)
    _change_set(stub, "CREATE_COMPLETE", changes=1)
    _change_set(stub, "CREATE_COMPLETE", changes=1)
    stub.add_response("delete_change_set", {}, {"StackName": "s", "ChangeSetName": ANY})
    asked = []
    with stub:
        status = aws_deploy.deploy_stack(
            cfn, "s", URL, PARAMETERS, SETTINGS, aws_deploy.DeployOptions(),
            say=lambda m: None, confirm=lambda q: asked.append(q) or False)
        stub.assert_no_pending_responses()
    assert status == "CANCELLED" and asked and asked[0].startswith("Execute change set s-")


def test_a_failed_change_set_is_an_error_with_the_reason():
    cfn, stub = _cfn()
    _no_stack(stub)
    stub.add_response("create_change_set", {"Id": "cs"}, None)
    _change_set(stub, "FAILED", "Parameter ShardCount must be a number")
    _change_set(stub, "FAILED", "Parameter ShardCount must be a number")
    with stub, pytest.raises(RuntimeError, match="ShardCount must be a number"):
        aws_deploy.deploy_stack(cfn, "s", URL, PARAMETERS, SETTINGS,
                                aws_deploy.DeployOptions(yes=True), say=lambda m: None)


def test_existing_domain_needs_an_endpoint(capsys):
    with pytest.raises(SystemExit) as exit_info:
        aws_deploy.main(["--opensearch-domain", "false", "--opensearch-endpoint", ""])
    assert exit_info.value.code == 2
    assert "needs --opensearch-endpoint" in capsys.readouterr().err
