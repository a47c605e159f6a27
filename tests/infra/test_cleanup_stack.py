"""``python infra/cleanup.py`` empties the local stack of one project, and of nothing else.

The project ``cleanup-e2e`` is built with the README's own steps (1: datalake, 2: training,
registry and endpoint, 3-5: streaming, 6: a few trips through to the index), plus what the
CloudFormation stack and step 8 would add (alarm, dashboard, topic, log group, schedule rule,
OpenSearch domain, a stack), a bucket found only by its tag, and several object versions and
delete markers. Resources of another project in the same stack must survive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e_helpers import generate, wait_for
from taximl.config import Settings

pytestmark = [pytest.mark.stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PREFIX = "cleanup-e2e"
OTHER = "keep-e2e"  # another project in the same account: must survive


def _run(args: list[str], env: dict[str, str], stdin: str | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, input=stdin,
                            capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def project(local_stack, tmp_path_factory) -> dict[str, Any]:
    """The whole project built under PREFIX, plus another project's bucket and stream."""
    import deploy

    search = local_stack.env["OPENSEARCH_ENDPOINT"]
    settings = Settings.namespaced(PREFIX, opensearch_endpoint=search,
                                   opensearch_index=f"{PREFIX}-predictions")
    env = {**os.environ, **local_stack.env, **settings.as_env(),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SAGEMAKER_ROLE_ARN", None)
    data = tmp_path_factory.mktemp("cleanup-data")
    trips = generate(data / "trips.csv", rows=3000, seed=11)
    # steps 1 and 2 as the README runs them (the role <prefix>-sagemaker-execution is created)
    _run(["infra/datalake/setup_datalake.py", "--sample", str(trips)], env)
    _run(["sagemaker/train_register_deploy.py", "--quiet", "run"], env)
    # steps 3-5 and a few trips (step 6) through to gold and the index
    deploy.deploy_streaming(settings, buffer_seconds=1, shards=1, say=lambda m: None)
    _run(["producer/producer.py", str(trips), "--rate", "0", "--limit", "40", "--no-progress"],
         env)
    s3 = boto3.client("s3")
    wait_for(lambda: s3.list_objects_v2(Bucket=settings.gold_bucket, Prefix="scored/")
             .get("KeyCount", 0) > 0, 120, "scored trips in gold")
    # what the CloudFormation stack and step 8 add
    cw, logs = boto3.client("cloudwatch"), boto3.client("logs")
    cw.put_metric_alarm(AlarmName=f"{PREFIX}-iterator-age", Namespace="AWS/Lambda",
                        MetricName="IteratorAge", Statistic="Maximum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0,
                        ComparisonOperator="GreaterThanThreshold")
    cw.put_dashboard(DashboardName=f"{PREFIX}-pipeline", DashboardBody=json.dumps({"widgets": []}))
    boto3.client("sns").create_topic(Name=f"{PREFIX}-alarms")
    logs.create_log_group(logGroupName=f"/aws/lambda/{settings.function_name}")
    boto3.client("events").put_rule(Name=f"{PREFIX}-retraining-schedule",
                                    ScheduleExpression="rate(7 days)")
    boto3.client("opensearch").create_domain(DomainName=PREFIX)
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"{PREFIX}-stack-topic"}}
    boto3.client("cloudformation").create_stack(
        StackName=f"{PREFIX}-stack", TemplateBody=json.dumps({"Resources": {"Topic": topic}}))
    # a bucket known only by its tag, with versions and a delete marker
    s3.create_bucket(Bucket="tagged-only-bucket-e2e")
    s3.put_bucket_tagging(Bucket="tagged-only-bucket-e2e",
                          Tagging={"TagSet": [{"Key": "project", "Value": PREFIX}]})
    s3.put_bucket_versioning(Bucket=settings.raw_bucket,
                             VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2", b"v3"):
        s3.put_object(Bucket=settings.raw_bucket, Key="versions/trip.csv", Body=body)
    s3.delete_object(Bucket=settings.raw_bucket, Key="versions/trip.csv")
    # another project: must survive
    s3.create_bucket(Bucket=f"{OTHER}-raw")
    boto3.client("kinesis").create_stream(StreamName=f"{OTHER}-trips-stream", ShardCount=1)
    return {"settings": settings, "env": env}


def remaining(settings: Settings) -> dict[str, list[str]]:
    """Everything of the project still in the stack, looked up service by service."""
    prefix = settings.project_prefix
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    lam, iam = boto3.client("lambda"), boto3.client("iam")
    firehose, kinesis = boto3.client("firehose"), boto3.client("kinesis")
    from search_client import search_client

    search = search_client(settings.opensearch_endpoint or "", settings.region)
    found = {
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]
                    if b["Name"].startswith(prefix) or b["Name"] == "tagged-only-bucket-e2e"],
        "streams": [n for n in kinesis.list_streams()["StreamNames"] if n.startswith(prefix)],
        "firehose": [n for n in firehose.list_delivery_streams(Limit=100)["DeliveryStreamNames"]
                     if n.startswith(prefix)],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]
                      if f["FunctionName"].startswith(prefix)],
        "mappings": [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]
                     if prefix in m["EventSourceArn"]],
        "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]
                      if e["EndpointName"].startswith(prefix)],
        "endpoint_configs": [c["EndpointConfigName"] for c in
                             sm.list_endpoint_configs()["EndpointConfigs"]
                             if c["EndpointConfigName"].startswith(prefix)],
        "models": [m["ModelName"] for m in sm.list_models()["Models"]
                   if m["ModelName"].startswith(prefix)],
        "model_package_groups": [g["ModelPackageGroupName"] for g in
                                 sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
                                 if g["ModelPackageGroupName"].startswith(prefix)],
        "tables": [t for t in boto3.client("dynamodb").list_tables()["TableNames"]
                   if t.startswith(prefix)],
        "glue": [d["Name"] for d in boto3.client("glue").get_databases()["DatabaseList"]
                 if d["Name"] == settings.glue_database],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]
                  if r["RoleName"].startswith(prefix)],
        "alarms": [a["AlarmName"] for a in boto3.client("cloudwatch").describe_alarms(
            AlarmNamePrefix=prefix)["MetricAlarms"]],
        "dashboards": [d["DashboardName"] for d in boto3.client("cloudwatch").list_dashboards(
            DashboardNamePrefix=prefix)["DashboardEntries"]],
        "topics": [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]
                   if f":{prefix}-" in t["TopicArn"]],
        "log_groups": [g["logGroupName"] for g in boto3.client("logs").describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{prefix}")["logGroups"]],
        "rules": [r["Name"] for r in boto3.client("events").list_rules(NamePrefix=prefix)["Rules"]],
        "domains": [d["DomainName"] for d in
                    boto3.client("opensearch").list_domain_names()["DomainNames"]
                    if d["DomainName"].startswith(prefix)],
        "stacks": [s["StackName"] for s in boto3.client("cloudformation").describe_stacks()[
            "Stacks"] if s["StackName"].startswith(prefix)
            and s["StackStatus"] != "DELETE_COMPLETE"],
        "indices": sorted(search.indices.get(index=f"{prefix}-*", ignore_unavailable=True,
                                             allow_no_indices=True)),
        "index_templates": [t["name"] for t in search.indices.get_index_template()[
            "index_templates"] if any(p.startswith(prefix) for p in
                                      t["index_template"]["index_patterns"])],
    }
    return {kind: names for kind, names in found.items() if names}


@pytest.fixture(scope="module")
def cleaned(project) -> dict[str, Any]:
    """Before, dry run, 'no' answer, then --yes; what was left after each."""
    settings, env = project["settings"], project["env"]
    before = remaining(settings)
    dry = _run(["infra/cleanup.py", "--dry-run"], env)
    after_dry = remaining(settings)
    refused = _run(["infra/cleanup.py"], env, stdin="n\n", check=False)
    after_refusal = remaining(settings)
    deleted = _run(["infra/cleanup.py", "--yes"], env, check=False)
    return {"before": before, "dry": dry, "after_dry": after_dry, "refused": refused,
            "after_refusal": after_refusal, "deleted": deleted, "after": remaining(settings),
            "again": _run(["infra/cleanup.py", "--dry-run"], env, check=False)}


def test_the_project_had_every_kind_of_resource(cleaned):
    assert set(cleaned["before"]) == {
        "buckets", "streams", "firehose", "functions", "mappings", "endpoints",
        "endpoint_configs", "models", "model_package_groups", "tables", "glue", "roles",
        "alarms", "dashboards", "topics", "log_groups", "rules", "domains", "stacks", "indices",
        "index_templates"}


def test_dry_run_lists_everything_and_deletes_nothing(cleaned, project):
    settings = project["settings"]
    out = cleaned["dry"].stdout
    assert cleaned["after_dry"] == cleaned["before"]
    for name in (settings.endpoint_name, settings.stream_name, settings.gold_delivery_stream,
                 settings.quarantine_delivery_stream, settings.function_name,
                 settings.params_table, settings.glue_database, settings.model_package_group,
                 settings.raw_bucket, settings.gold_bucket, f"{PREFIX}-lambda-scorer",
                 f"{PREFIX}-sagemaker-execution", f"{PREFIX}-iterator-age", PREFIX,
                 f"{PREFIX}-stack"):
        assert f"- {name}  by name" in out or f"- {name}  by prefix" in out, name
    assert "- tagged-only-bucket-e2e  by tag" in out
    assert "[idle: bills per instance-hour while it exists" in out  # endpoint and domain
    assert "Dry run:" in out and OTHER not in out


def test_answering_no_deletes_nothing(cleaned):
    assert cleaned["refused"].returncode == 1
    assert "Nothing deleted" in cleaned["refused"].stdout
    assert cleaned["after_refusal"] == cleaned["before"]


def test_yes_leaves_nothing_of_the_project(cleaned):
    left = cleaned["after"]
    out = cleaned["deleted"].stdout
    assert "deleted  S3 bucket (every object version) tagged-only-bucket-e2e" in out
    assert left == {}
    assert cleaned["deleted"].returncode == 0
    assert "nothing found" in cleaned["again"].stdout


def test_other_projects_survive(cleaned):
    assert boto3.client("s3").head_bucket(Bucket=f"{OTHER}-raw")
    assert f"{OTHER}-trips-stream" in boto3.client("kinesis").list_streams()["StreamNames"]
