"""The whole AWS stack in one command: package the Lambda, upload, deploy, print the outputs.

Usage (after ``aws configure`` and ``export PROJECT_PREFIX=st1630-<user>``;
``eval "$(python -m taximl.config)"`` first if you changed other names)::

    python infra/aws_deploy.py                           # shows the change set, asks, deploys
    python infra/aws_deploy.py --yes                     # no question (CI: buildspec.yml)
    python infra/aws_deploy.py --opensearch-domain false --opensearch-endpoint https://search-...

What it does, in order:

1. builds ``lambda.zip`` (``lambda/build_zip.py``: handler + ``taximl`` + Powertools);
2. makes (or reuses) the deployment bucket ``<prefix>-artifacts`` (versioned, encrypted, private)
   and uploads the zip under a content hash, so a code change is a stack update, and the
   template (``infra/cloudformation/stack.yaml``);
3. creates a CloudFormation change set with every name from ``taximl.config``, prints what it
   will create or change, asks, executes it and waits (a new OpenSearch domain takes 15-20 min);
4. installs the OpenSearch index template (``viz/setup_index.py``) and prints the outputs and
   what to run next (steps 1, 2 and 6 of the README).

``python infra/cleanup.py`` removes all of it again.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "infra" / "streaming", REPO / "infra" / "datalake", REPO / "lambda",
              REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from botocore.exceptions import ClientError, WaiterError  # noqa: E402

import render  # noqa: E402
from taximl.config import Settings  # noqa: E402

logger = logging.getLogger("aws_deploy")

TEMPLATE = REPO / "infra" / "cloudformation" / "stack.yaml"
DEFAULT_SHARDS = 2  # infra/streaming/deploy.py and README step 3
DEFAULT_BUFFER_SECONDS = 60
WAIT = {"Delay": 15, "MaxAttempts": 240}  # up to an hour: a new OpenSearch domain is slow


@dataclass(frozen=True)
class DeployOptions:
    """What the command line can change; names come from ``taximl.config``."""

    stack_name: str | None = None
    create_domain: bool = True
    opensearch_endpoint: str = ""
    alarm_email: str = ""
    shards: int = DEFAULT_SHARDS
    buffer_seconds: int = DEFAULT_BUFFER_SECONDS
    role_arn: str | None = None
    yes: bool = False


def stack_name(settings: Settings, options: DeployOptions) -> str:
    return options.stack_name or f"{settings.project_prefix}-stack"


def artifacts_bucket(settings: Settings) -> str:
    return f"{settings.project_prefix}-artifacts"


def stack_parameters(settings: Settings, values: dict[str, str], options: DeployOptions,
                     code: tuple[str, str]) -> dict[str, str]:
    """The template's parameters: every name from the settings, as the CLI steps use them."""
    return {
        "ProjectPrefix": settings.project_prefix,
        "RawBucketName": settings.raw_bucket,
        "ProcessedBucketName": settings.processed_bucket,
        "ModelsBucketName": settings.models_bucket,
        "GoldBucketName": settings.gold_bucket,
        "GlueDatabaseName": settings.glue_database,
        "StreamName": settings.stream_name,
        "GoldDeliveryStreamName": settings.gold_delivery_stream,
        "QuarantineDeliveryStreamName": settings.quarantine_delivery_stream,
        "FunctionName": settings.function_name,
        "EndpointName": settings.endpoint_name,
        "ParamsTableName": settings.params_table,
        "OpenSearchIndex": settings.opensearch_index,
        "QuarantineIndex": settings.quarantine_index,
        "LambdaCodeBucket": code[0],
        "LambdaCodeKey": code[1],
        "ThresholdMode": values["THRESHOLD_MODE"],
        "FixedThreshold": str(settings.fixed_threshold),
        "CreateOpenSearchDomain": "true" if options.create_domain else "false",
        "OpenSearchDomainName": values["OPENSEARCH_DOMAIN"],
        "OpenSearchEndpoint": "" if options.create_domain else options.opensearch_endpoint,
        "ShardCount": str(options.shards),
        "FirehoseBufferSeconds": str(options.buffer_seconds),
        "AlarmEmail": options.alarm_email,
    }


def upload_artifacts(s3: Any, settings: Settings, zip_path: Path) -> tuple[str, str, str]:
    """Deployment bucket + content-addressed zip and template; (bucket, zip key, template URL)."""
    from setup_datalake import ensure_bucket

    bucket = artifacts_bucket(settings)
    ensure_bucket(s3, bucket, settings.region)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={
        "TagSet": [{"Key": "project", "Value": settings.project_prefix}]})
    code = zip_path.read_bytes()
    key = f"lambda/lambda-{hashlib.sha256(code).hexdigest()[:16]}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=code)
    body = TEMPLATE.read_bytes()
    template_key = f"cloudformation/stack-{hashlib.sha256(body).hexdigest()[:16]}.yaml"
    s3.put_object(Bucket=bucket, Key=template_key, Body=body)
    host = "s3.amazonaws.com" if settings.region == "us-east-1" else \
        f"s3.{settings.region}.amazonaws.com"
    return bucket, key, f"https://{bucket}.{host}/{template_key}"


def _stack_status(cfn: Any, name: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def deploy_stack(cfn: Any, name: str, template_url: str, parameters: dict[str, str],
                 settings: Settings, options: DeployOptions,
                 say: Callable[[str], None] = print,
                 confirm: Callable[[str], bool] | None = None) -> str:
    """Create and execute a change set; returns the final stack status (or 'NO_CHANGES')."""
    status = _stack_status(cfn, name)
    if status == "ROLLBACK_COMPLETE":  # a failed first create cannot be updated
        say(f"stack {name} is ROLLBACK_COMPLETE (a failed first create): deleting it first")
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
        status = None
    kind = "CREATE" if status is None else "UPDATE"
    change_set = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    request: dict[str, Any] = {
        "StackName": name, "ChangeSetName": change_set, "ChangeSetType": kind,
        "TemplateURL": template_url, "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Tags": [{"Key": "project", "Value": settings.project_prefix}],
    }
    if options.role_arn:
        request["RoleARN"] = options.role_arn
    cfn.create_change_set(**request)
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=name, ChangeSetName=change_set, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    except WaiterError:
        described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            say(f"stack {name}: already up to date (no changes)")
            return "NO_CHANGES"
        raise RuntimeError(f"change set {change_set} failed: {reason}") from None
    changes = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)["Changes"]
    say(f"{kind.lower()} stack {name}: {len(changes)} changes")
    for change in changes:
        rc = change["ResourceChange"]
        say(f"  {rc['Action']:<7} {rc['LogicalResourceId']:<28} {rc['ResourceType']}"
            + (f" (replacement: {rc['Replacement']})" if rc.get("Replacement") == "True" else ""))
    if not options.yes and confirm is not None and not confirm(
            f"Execute change set {change_set}?"):
        cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
        say("nothing changed (change set deleted)")
        return "CANCELLED"
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    say("waiting for CloudFormation (a new OpenSearch domain takes 15-20 minutes)...")
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig=WAIT)
    except WaiterError:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
        failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                  for e in events if e["ResourceStatus"].endswith("FAILED")][:5]
        raise RuntimeError(f"stack {name} is {_stack_status(cfn, name)}: "
                           + "; ".join(failed)) from None
    return _stack_status(cfn, name) or "UNKNOWN"


def outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _ask(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(
        description="Package the Lambda, upload it and deploy infra/cloudformation/stack.yaml.",
        allow_abbrev=False)
    parser.add_argument("--yes", action="store_true", help="execute without asking")
    parser.add_argument("--stack-name", help="default: <prefix>-stack")
    parser.add_argument("--opensearch-domain", choices=("true", "false"), default="true",
                        help="create a small OpenSearch domain (default) or use "
                        "--opensearch-endpoint")
    parser.add_argument("--opensearch-endpoint", default=os.environ.get("OPENSEARCH_ENDPOINT", ""),
                        help="existing domain endpoint (default: $OPENSEARCH_ENDPOINT)")
    parser.add_argument("--alarm-email", default="", help="e-mail for the alarms (optional)")
    parser.add_argument("--shards", type=int, default=DEFAULT_SHARDS, help="Kinesis shards")
    parser.add_argument("--buffer-seconds", type=int, default=DEFAULT_BUFFER_SECONDS,
                        help="Firehose buffering interval")
    parser.add_argument("--role-arn", help="role CloudFormation acts as (CI: the deploy role)")
    parser.add_argument("--no-build", action="store_true", help="use the existing lambda.zip")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = DeployOptions(
        stack_name=args.stack_name, create_domain=args.opensearch_domain == "true",
        opensearch_endpoint=args.opensearch_endpoint, alarm_email=args.alarm_email,
        shards=args.shards, buffer_seconds=args.buffer_seconds, role_arn=args.role_arn,
        yes=args.yes)
    if not options.create_domain and not options.opensearch_endpoint.startswith("https://"):
        parser.error("--opensearch-domain false needs --opensearch-endpoint https://...")
    try:
        settings = Settings.from_env()
        values = render.variables()
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    session = boto3.session.Session(region_name=settings.region)
    zip_path = REPO / "lambda.zip"
    try:
        if not args.no_build or not zip_path.exists():
            import build_zip

            sizes = build_zip.build(zip_path)
            print(f"[1/4] built {zip_path.name}: {sizes['zipped'] / 1e6:.2f} MB")
        bucket, key, template_url = upload_artifacts(session.client("s3"), settings, zip_path)
        print(f"[2/4] uploaded s3://{bucket}/{key} and the template")
        cfn = session.client("cloudformation")
        name = stack_name(settings, options)
        parameters = stack_parameters(settings, values, options, (bucket, key))
        print(f"[3/4] stack {name} in {settings.region}, account {values['ACCOUNT_ID']}")
        status = deploy_stack(cfn, name, template_url, parameters, settings, options,
                              confirm=_ask)
    except (ClientError, WaiterError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if status == "CANCELLED":
        return 1
    found = outputs(cfn, name)
    endpoint = found.get("OpenSearchEndpoint") or options.opensearch_endpoint
    print(f"[4/4] stack {name}: {status}")
    _index_template(settings, endpoint)
    for key_name, value in sorted(found.items()):
        print(f"  {key_name:<26} {value}")
    print("\nNext:")
    print(f"  export SAGEMAKER_ROLE_ARN={found.get('SageMakerExecutionRoleArn', '<output>')}")
    print(f"  export OPENSEARCH_ENDPOINT={endpoint}")
    print("  python infra/datalake/setup_datalake.py --sample data/sample_nyc_taxi.csv  # step 1")
    print("  python sagemaker/train_register_deploy.py run                               # step 2")
    print("  python producer/producer.py data/sample_nyc_taxi.csv --rate 200             # step 6")
    print("  python infra/cleanup.py --dry-run    # what bills, and how to remove it all")
    return 0


def _index_template(settings: Settings, endpoint: str) -> None:
    """Install the index template on the domain; a failure only prints the manual command."""
    if not endpoint:
        return
    from dataclasses import replace

    try:
        import setup_index

        setup_index.apply_template(replace(settings, opensearch_endpoint=endpoint))
        print(f"      index template installed on {endpoint}")
    except Exception as exc:  # the domain may still be processing, or access not yet granted
        print(f"      index template not installed yet ({type(exc).__name__}: {exc}); run "
              f"OPENSEARCH_ENDPOINT={endpoint} python viz/setup_index.py")


if __name__ == "__main__":
    sys.exit(main())
