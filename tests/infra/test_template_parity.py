"""The CloudFormation template and the CLI steps create the same resources with the same settings.

The CLI side is read at test time from what the steps really use: the JSON files of
``infra/streaming/`` and ``infra/iam/`` rendered by ``infra/streaming/render.py``, the defaults of
``infra/streaming/deploy.py``, the commands of README steps 3-5, the DDL of ``infra/sql/`` and
``infra/streaming/`` (through the local Athena's DDL parser), the bucket settings of step 1
(``setup_datalake.ensure_bucket``) and the thresholds table of step 2
(``threshold_params.ensure_table``), the last two run against moto. The template side is
``infra/cloudformation/stack.yaml`` resolved with the parameters ``infra/aws_deploy.py`` passes.

Settings only the template has must be listed in ``TEMPLATE_ONLY`` with the reason; settings
that differ on purpose until another change lands are in ``PENDING`` with both values, and the
test fails as soon as the CLI side changes, so that the entry is removed and the two aligned.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from string import Template
from typing import Any

import aws_deploy
import boto3
import pytest

import deploy
import render
from athena_sql import strip_comment
from cfn_model import Stack, resolve_template
from taximl.config import Settings

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "infra" / "cloudformation" / "stack.yaml"
PREFIX, REGION, ACCOUNT = "parity", "eu-west-1", "210987654321"
SEARCH = "https://search-parity-abc123.eu-west-1.es.amazonaws.com"
DEPLOY_DEFAULTS = inspect.signature(deploy.deploy_streaming).parameters
SHARDS = DEPLOY_DEFAULTS["shards"].default
BUFFER_SECONDS = DEPLOY_DEFAULTS["buffer_seconds"].default

#: (resource, setting) -> why only the template sets it.
TEMPLATE_ONLY: dict[tuple[str, str], str] = {
    ("firehose", "DeliveryStreamEncryptionConfigurationInput"):
        "encryption at rest with an AWS owned key (no cost); AWS-only hardening",
    ("function", "Code"): "the CLI passes the zip with --zip-file; the stack takes it from S3",
    ("mapping", "FunctionName"): "the CLI names the function in the JSON too (compared below)",
    ("stream", "StreamEncryption"):
        "KMS with the AWS managed key aws/kinesis; kinesalite has no StartStreamEncryption",
    ("stream", "RetentionPeriodHours"): "24 h, the Kinesis default the CLI stream gets anyway",
    ("stream", "Tags"): "the stack tags everything project=<prefix>",
}
#: (resource, setting) -> (CLI value today, template value, why they differ until merged).
PENDING: dict[tuple[str, str], tuple[Any, Any, str]] = {}


def _number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


def norm(value: Any) -> Any:
    """Numbers from strings, policy Action/Resource as sorted lists, tags as a dict."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("Action", "Resource") and not isinstance(item, list):
                item = [item]
            if key in ("Action", "Resource"):
                item = sorted(item)
            out[key] = norm(item)
        return out
    if isinstance(value, list):
        return [norm(v) for v in value]
    return _number(value)


def tags(value: Any) -> dict[str, str]:
    """API tags (list of Key/Value or a dict) as a dict, without the local-only ones."""
    pairs = value.items() if isinstance(value, dict) else ((t["Key"], t["Value"]) for t in value)
    return {k: v for k, v in pairs if not k.startswith("local:")}


def compare(kind: str, cli: dict[str, Any], cfn: dict[str, Any]) -> list[str]:
    """Every CLI setting equals the template's; template extras are listed; 'Tags' as dicts."""
    problems = []
    for key, value in cli.items():
        if key == "Tags":
            if tags(value) != tags(cfn.get("Tags", [])):
                problems.append(f"{kind}.Tags: CLI {tags(value)} != template "
                                f"{tags(cfn.get('Tags', []))}")
            continue
        if (kind, key) in PENDING:
            old_cli, new_template, why = PENDING[(kind, key)]
            if norm(value) != norm(old_cli):
                problems.append(f"{kind}.{key}: the CLI side changed to {value!r} ({why}): "
                                "align the template and remove the PENDING entry")
            if norm(cfn.get(key)) != norm(new_template):
                problems.append(f"{kind}.{key}: template has {cfn.get(key)!r}, PENDING says "
                                f"{new_template!r}")
            continue
        if key not in cfn:
            problems.append(f"{kind}.{key}: set by the CLI ({value!r}), missing in the template")
        elif norm(value) != norm(cfn[key]):
            problems.append(f"{kind}.{key}: CLI {json.dumps(value, sort_keys=True)} != "
                            f"template {json.dumps(cfn[key], sort_keys=True)}")
    for key in cfn:
        if key not in cli and (kind, key) not in TEMPLATE_ONLY:
            problems.append(f"{kind}.{key}: only in the template; add it to the CLI step or to "
                            "TEMPLATE_ONLY with the reason")
    return problems


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict[str, Any]:
    """The CLI steps' values and rendered files for one project (prefix, region, account)."""
    env = {"PROJECT_PREFIX": PREFIX, "AWS_REGION": REGION, "ACCOUNT_ID": ACCOUNT,
           "OPENSEARCH_ENDPOINT": SEARCH, "FIREHOSE_BUFFER_SECONDS": str(BUFFER_SECONDS)}
    settings = Settings.from_env(env)
    values = render.variables(env)
    out = tmp_path_factory.mktemp("rendered")
    files = render.render_all(out, values)
    docs = {f"{p.parent.name}/{p.name}": json.loads(p.read_text()) for p in files}
    return {"settings": settings, "values": values, "docs": docs}


@pytest.fixture(scope="module")
def stack(cli) -> Stack:
    options = aws_deploy.DeployOptions(create_domain=False, opensearch_endpoint=SEARCH,
                                       shards=SHARDS, buffer_seconds=BUFFER_SECONDS)
    parameters = aws_deploy.stack_parameters(cli["settings"], cli["values"], options,
                                             ("code-bucket", "lambda/code.zip"))
    return resolve_template(TEMPLATE, parameters, region=REGION, account=ACCOUNT)


def test_deploy_script_passes_every_template_parameter(cli):
    from cfnlint.decode import decode_str

    template, _ = decode_str(TEMPLATE.read_text())
    parameters = aws_deploy.stack_parameters(cli["settings"], cli["values"],
                                             aws_deploy.DeployOptions(), ("b", "k"))
    optional = {"OpenSearchInstanceType", "IteratorAgeAlarmSeconds",
                "EndpointLatencyAlarmMicroseconds", "ResidualAlarmDollars"}  # tuning, defaults
    assert set(parameters) == set(template["Parameters"]) - optional
    assert (aws_deploy.DEFAULT_SHARDS, aws_deploy.DEFAULT_BUFFER_SECONDS) == (SHARDS,
                                                                              BUFFER_SECONDS)


def test_every_cli_config_file_has_its_counterpart(cli, stack):
    # a new JSON file in infra/streaming or infra/iam must be compared here too
    assert set(cli["docs"]) == {
        "iam/firehose-policy.json", "iam/firehose-trust.json", "iam/lambda-policy.json",
        "iam/lambda-trust.json", "streaming/event-source-mapping.json",
        "streaming/firehose-gold.json", "streaming/firehose-quarantine.json",
        "streaming/iterator-age-alarm.json", "streaming/lambda-function.json"}


def test_iterator_age_alarm_matches(cli, stack):
    alarm = dict(cli["docs"]["streaming/iterator-age-alarm.json"])
    cfn = dict(stack.named("AWS::CloudWatch::Alarm", "AlarmName", alarm["AlarmName"]))
    # the CLI names the SNS topic by ARN; the template's Ref of the topic is that ARN on AWS
    # and its name in this model: compare the topic names
    for actions in ("AlarmActions", "OKActions"):
        alarm[actions] = [arn.rsplit(":", 1)[-1] for arn in alarm[actions]]
        cfn[actions] = [arn.rsplit(":", 1)[-1] for arn in cfn[actions]]
    assert compare("alarm", alarm, cfn) == []


def test_delivery_streams_match(cli, stack):
    problems = []
    for name in ("streaming/firehose-gold.json", "streaming/firehose-quarantine.json"):
        request = cli["docs"][name]
        cfn = stack.named("AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName",
                          request["DeliveryStreamName"])
        problems += compare("firehose", request, cfn)
    assert problems == []


def test_function_and_mapping_match(cli, stack):
    function = cli["docs"]["streaming/lambda-function.json"]
    problems = compare("function", function, stack.named(
        "AWS::Lambda::Function", "FunctionName", function["FunctionName"]))
    mapping = cli["docs"]["streaming/event-source-mapping.json"]
    [cfn_mapping] = stack.of_type("AWS::Lambda::EventSourceMapping").values()
    problems += compare("mapping", mapping, cfn_mapping)
    assert problems == []


def test_stream_matches_deploy_and_readme(cli, stack):
    settings = cli["settings"]
    cfn = stack.named("AWS::Kinesis::Stream", "Name", settings.stream_name)
    readme_shards = {int(n) for n in re.findall(r"--shard-count (\d+)", readme_steps_3_to_5())}
    assert readme_shards == {SHARDS}
    assert compare("stream", {"Name": settings.stream_name, "ShardCount": SHARDS}, cfn) == []


def readme_steps_3_to_5() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = text.index("**Paso 3"), text.index("**Paso 6")
    return "\n".join(re.findall(r"```bash\n(.*?)```", text[start:end], re.S))


def _role(stack: Stack, name: str) -> dict[str, Any]:
    return stack.named("AWS::IAM::Role", "RoleName", name)


def test_streaming_roles_match_the_iam_files_and_readme(cli, stack):
    docs, values = cli["docs"], cli["values"]
    roles = {
        values["FIREHOSE_ROLE_NAME"]: (deploy.FIREHOSE_POLICY, "firehose"),
        values["LAMBDA_ROLE_NAME"]: (deploy.LAMBDA_POLICY, "lambda"),
    }
    for role_name, (policy_name, stem) in roles.items():
        role = _role(stack, role_name)
        assert norm(role["AssumeRolePolicyDocument"]) == norm(docs[f"iam/{stem}-trust.json"])
        assert norm(role["Policies"]) == norm([{"PolicyName": policy_name,
                                                "PolicyDocument": docs[f"iam/{stem}-policy.json"]}])
    # README steps 3-4 create the same roles with the same policy names
    steps = readme_steps_3_to_5()
    readme_roles = set(re.findall(r'--role-name "\$PROJECT_PREFIX-([a-z-]+)"', steps))
    assert {f"{PREFIX}-{suffix}" for suffix in readme_roles} == set(roles)
    assert set(re.findall(r"--policy-name (\S+)", steps)) == {p for p, _ in roles.values()}


def test_sagemaker_role_matches_execution_role(cli, stack):
    import execution_role

    settings = cli["settings"]
    role = _role(stack, execution_role.role_name(settings))
    trust = json.loads((execution_role.IAM_DIR / execution_role.TRUST_POLICY).read_text())
    assert norm(role["AssumeRolePolicyDocument"]) == norm(trust)
    expected = [{"PolicyName": f.removesuffix(".json"), "PolicyDocument": json.loads(
        execution_role.render_policy(execution_role.IAM_DIR / f, settings))}
        for f in execution_role.POLICY_FILES]
    assert norm(role["Policies"]) == norm(expected)


class _Catalog:
    """Collects what the local Athena's DDL would put in Glue."""

    def __init__(self) -> None:
        self.tables: list[Any] = []

    def database_exists(self, name: str) -> bool:
        return True

    def get_table(self, database: str, name: str) -> None:
        return None

    def create_table(self, table: Any) -> None:
        self.tables.append(table)


#: DDL kept as a reference for loading files by hand; no step creates these tables.
REFERENCE_DDL = {"raw_trips_csv_table.sql"}


def ddl_tables(settings: Settings, values: dict[str, str]) -> list[Any]:
    """Every CREATE EXTERNAL TABLE of the SQL files, as the (local) Athena DDL makes it."""
    from local.athena import ddl
    from local.athena.translate import parse

    mapping = {**values, "database": settings.glue_database, "raw_table": settings.raw_table,
               "raw_bucket": settings.raw_bucket, "GLUE_DATABASE": settings.glue_database,
               "GOLD_BUCKET": settings.gold_bucket}
    catalog = _Catalog()
    for path in sorted([*REPO.glob("infra/sql/*.sql"), *REPO.glob("infra/streaming/*.sql")]):
        if path.name in REFERENCE_DDL:
            continue
        text = Template(path.read_text(encoding="utf-8")).safe_substitute(mapping)
        sql = "\n".join(line for line in (strip_comment(x) for x in text.splitlines())
                        if line.strip()).strip().rstrip(";")
        if re.match(r"CREATE\s+EXTERNAL\s+TABLE", sql, re.I):
            ddl.create_table(parse(sql), settings.glue_database, catalog)  # type: ignore[arg-type]
    return catalog.tables


def test_glue_database_and_tables_match_the_ddl(cli, stack):
    settings = cli["settings"]
    [database] = stack.of_type("AWS::Glue::Database").values()
    assert database["DatabaseInput"] == {"Name": settings.glue_database,
                                         "Description": "NYC taxi trips"}
    tables = ddl_tables(settings, cli["values"])
    assert {t.name for t in tables} == {"raw_trips_yellow", "raw_trips_green", "scored_trips"}
    template_tables = {p["TableInput"]["Name"]: p for p in
                       stack.of_type("AWS::Glue::Table").values()}
    assert set(template_tables) == {t.name for t in tables}
    for table in tables:
        cfn = template_tables[table.name]
        assert cfn["DatabaseName"] == settings.glue_database
        expected = table.table_input()
        got = dict(cfn["TableInput"])
        got["StorageDescriptor"] = {"SerdeInfo": {"Parameters": {}}, **got["StorageDescriptor"]}
        got["StorageDescriptor"]["SerdeInfo"].setdefault("Parameters", {})
        assert norm(got) == norm(expected), table.name


def test_gold_projection_follows_the_firehose_prefix(cli, stack):
    gold = cli["docs"]["streaming/firehose-gold.json"]
    prefix = gold["AmazonopensearchserviceDestinationConfiguration"]["S3Configuration"]["Prefix"]
    table = next(p["TableInput"] for p in stack.of_type("AWS::Glue::Table").values()
                 if p["TableInput"]["Name"] == "scored_trips")
    as_projected = re.sub(r"!\{timestamp:(yyyy|MM|dd|HH)\}",
                          lambda m: {"yyyy": "${year}", "MM": "${month}", "dd": "${day}",
                                     "HH": "${hour}"}[m.group(1)], prefix)
    assert table["Parameters"]["storage.location.template"] == \
        f"s3://{cli['settings'].gold_bucket}/{as_projected}"


def test_datalake_buckets_match_step_1(cli, stack, moto_env):
    from setup_datalake import ensure_bucket

    settings = cli["settings"]
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (settings.raw_bucket, settings.processed_bucket, settings.models_bucket,
                   settings.gold_bucket):  # gold: infra/streaming/deploy.py uses ensure_bucket
        ensure_bucket(s3, bucket, REGION)
        cfn = stack.named("AWS::S3::Bucket", "BucketName", bucket)
        assert cfn["VersioningConfiguration"] == {
            "Status": s3.get_bucket_versioning(Bucket=bucket)["Status"]}
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert cfn["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {"ServerSideEncryptionByDefault": r["ApplyServerSideEncryptionByDefault"]}
            for r in rules["Rules"]]
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert cfn["PublicAccessBlockConfiguration"] == block
        # only the template adds a lifecycle (cost: old versions, uploads; raw -> IA/Glacier IR)
        assert set(cfn) - {"VersioningConfiguration", "BucketEncryption",
                           "PublicAccessBlockConfiguration"} == {"BucketName",
                                                                 "LifecycleConfiguration", "Tags"}


def test_params_table_matches_step_2(cli, stack, moto_env):
    import threshold_params

    settings = cli["settings"]
    ddb = boto3.client("dynamodb", region_name=REGION)
    threshold_params.ensure_table(ddb, settings.params_table)
    made = ddb.describe_table(TableName=settings.params_table)["Table"]
    cfn = stack.named("AWS::DynamoDB::Table", "TableName", settings.params_table)
    assert cfn["KeySchema"] == made["KeySchema"]
    assert cfn["AttributeDefinitions"] == made["AttributeDefinitions"]
    assert cfn["BillingMode"] == made["BillingModeSummary"]["BillingMode"]


def test_lambda_environment_reaches_the_same_resources(cli, stack):
    # the function's variables name the streams, table and endpoint the rest of the stack makes
    settings = cli["settings"]
    env = stack.named("AWS::Lambda::Function", "FunctionName",
                      settings.function_name)["Environment"]["Variables"]
    firehoses = {p["DeliveryStreamName"] for p in
                 stack.of_type("AWS::KinesisFirehose::DeliveryStream").values()}
    assert {env["GOLD_DELIVERY_STREAM"], env["QUARANTINE_DELIVERY_STREAM"]} == firehoses
    assert env["PARAMS_TABLE"] in {p["TableName"] for p in
                                   stack.of_type("AWS::DynamoDB::Table").values()}
    assert env["ENDPOINT_NAME"] == settings.endpoint_name
