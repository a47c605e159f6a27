"""Delete everything the project created on AWS (or in the local stack), in one command.

Usage (after ``eval "$(python -m taximl.config)"``; locally also ``source .local-stack/env.sh``)::

    python infra/cleanup.py --dry-run                 # list, with what bills while idle
    python infra/cleanup.py                           # list, ask, delete, report
    python infra/cleanup.py --yes                     # no question (scripts, CI)
    python infra/cleanup.py --only endpoint,opensearch,kinesis   # pause: stop what bills idle

A resource belongs to the project when one of these holds, and the listing says which:

- **name**: it has a name that ``taximl.config`` gives (stream, Firehose streams, function,
  endpoint, buckets, Glue database, parameters table, model package group, the roles the CLI
  steps create), or it is what such a resource uses (the endpoint's config and models, the
  function's role, e.g. the course template's ``taxi-lambda-role``);
- **prefix**: its name is the project prefix or starts with ``<prefix>-`` (models and endpoint
  configs of every deployed version, the CloudFormation stacks, alarms, pipeline, rules, ...);
- **tag**: it carries the tag ``project=<prefix>`` (the CloudFormation template and the CLI
  steps tag what they create). Tagged resources of a kind this tool does not handle are listed
  as such, never silently left behind.

Buckets are emptied of every object version and delete marker first. Deleting is idempotent:
run it again after a failure. Nothing outside the project is touched.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from taximl.config import Settings  # noqa: E402

logger = logging.getLogger("cleanup")

TAG_KEY = "project"
#: Roles the CLI steps create (infra/streaming/render.py, sagemaker/execution_role.py).
ROLE_SUFFIXES = ("firehose", "lambda-scorer", "sagemaker-execution")
#: Resource types the tag sweep asks about. SageMaker is left out: its finder reads the tags of
#: endpoints itself (and moto's tagging API fails on SageMaker ARNs).
SWEPT_TYPES = ("s3", "kinesis", "firehose", "lambda", "dynamodb", "es", "cloudformation",
               "cloudwatch", "events", "sns", "glue", "iam", "logs")
_NOT_FOUND = ("NotFound", "NoSuch", "ResourceNotFoundException", "EntityNotFoundException",
              "ValidationException", "ValidationError")


# --- what was found ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """A kind of resource: its key for ``--only``, how it is shown, what it costs idle."""

    key: str
    title: str
    idle_cost: str = ""


ENDPOINT = Kind("endpoint", "SageMaker endpoint",
                "bills per instance-hour while it exists (ml.m5.xlarge ~ $170/month)")
ENDPOINT_CONFIG = Kind("endpoint-config", "SageMaker endpoint config")
MODEL = Kind("model", "SageMaker model")
TRAINING_JOB = Kind("training-job", "SageMaker training job (running)",
                    "bills per instance-hour until it ends")
PIPELINE = Kind("pipeline", "SageMaker pipeline")
RULE = Kind("rule", "EventBridge rule")
MODEL_PACKAGE = Kind("model-package", "SageMaker model package")
MODEL_PACKAGE_GROUP = Kind("model-package-group", "SageMaker model package group")
MAPPING = Kind("mapping", "Lambda event source mapping")
FUNCTION = Kind("function", "Lambda function")
FIREHOSE = Kind("firehose", "Firehose delivery stream")
KINESIS = Kind("kinesis", "Kinesis data stream", "bills per shard-hour (~ $11/month per shard)")
OPENSEARCH = Kind("opensearch", "OpenSearch domain",
                  "bills per instance-hour and GB of storage while it exists")
INDEX = Kind("index", "OpenSearch index")
INDEX_TEMPLATE = Kind("index-template", "OpenSearch index template")
PIPELINE_INGEST = Kind("ingest-pipeline", "OpenSearch ingest pipeline")
ALARM = Kind("alarm", "CloudWatch alarm", "$0.10 per alarm-month")
DASHBOARD = Kind("dashboard", "CloudWatch dashboard", "$3 per dashboard-month beyond 3 free")
LOG_GROUP = Kind("log-group", "CloudWatch log group", "stored logs, per GB-month")
GLUE = Kind("glue", "Glue database (with its tables)")
DYNAMODB = Kind("dynamodb", "DynamoDB table", "stored items and backups, per GB-month")
BUCKET = Kind("bucket", "S3 bucket (every object version)", "stored data, per GB-month")
TOPIC = Kind("topic", "SNS topic")
STACK = Kind("stack", "CloudFormation stack")
ROLE = Kind("role", "IAM role")
TAGGED = Kind("tagged", "tagged, not handled by this tool (delete it by hand)")

#: Deletion order: what serves or feeds first, storage next, stacks and roles last.
KINDS: tuple[Kind, ...] = (
    ENDPOINT, ENDPOINT_CONFIG, MODEL, TRAINING_JOB, PIPELINE, RULE, MODEL_PACKAGE,
    MODEL_PACKAGE_GROUP, MAPPING, FUNCTION, FIREHOSE, KINESIS, OPENSEARCH, INDEX,
    INDEX_TEMPLATE, PIPELINE_INGEST, ALARM,
    DASHBOARD, LOG_GROUP, GLUE, DYNAMODB, BUCKET, TOPIC, STACK, ROLE, TAGGED,
)
KIND_KEYS = tuple(k.key for k in KINDS if k is not TAGGED)


@dataclass(frozen=True)
class Resource:
    """One thing to delete: what, which, why it belongs to the project, and how."""

    kind: Kind
    name: str
    found_by: str  # name | prefix | tag
    detail: str = ""
    delete: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass
class Inventory:
    """Everything found, plus the listings that failed (an incomplete inventory says so)."""

    resources: list[Resource] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, resource: Resource) -> None:
        if not any(r.kind == resource.kind and r.name == resource.name for r in self.resources):
            self.resources.append(resource)

    def names(self, kind: Kind) -> list[str]:
        return [r.name for r in self.resources if r.kind == kind]

    def ordered(self) -> list[Resource]:
        rank = {kind.key: i for i, kind in enumerate(KINDS)}
        return sorted(self.resources, key=lambda r: (rank[r.kind.key], r.name))


# --- matching ----------------------------------------------------------------------------------
class Scope:
    """Which names, prefixes and tag mean 'the project' for these settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.project_prefix
        self.prefix_sql = self.prefix.replace("-", "_")

    def by_name_or_prefix(self, name: str, *known: str) -> str | None:
        """``"name"``, ``"prefix"`` or None for a resource called ``name``."""
        if name in known:
            return "name"
        if name in (self.prefix, self.prefix_sql) or name.startswith(
                (f"{self.prefix}-", f"{self.prefix_sql}_")):
            return "prefix"
        return None

    def tagged(self, tags: Iterable[tuple[str, str]]) -> bool:
        return any(k == TAG_KEY and v == self.prefix for k, v in tags)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _gone(exc: ClientError) -> bool:
    return any(part in _code(exc) for part in _NOT_FOUND) or exc.response.get(
        "ResponseMetadata", {}).get("HTTPStatusCode") == 404


def _quiet(call: Callable[[], Any]) -> None:
    """Run a delete call; a resource that is already gone counts as deleted."""
    try:
        call()
    except ClientError as exc:
        if not _gone(exc):
            raise


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**kwargs).get(key, [])


# --- finders, one per service ------------------------------------------------------------------
class Finder:
    """Lists the project's resources service by service (boto3 clients from the environment)."""

    def __init__(self, settings: Settings, client: Callable[[str], Any],
                 search: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.scope = Scope(settings)
        self.client = client
        self.search = search
        self.inventory = Inventory()
        self.function_roles: set[str] = set()  # role ARNs of the project's functions

    def run(self, kinds: set[str]) -> Inventory:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("SageMaker", self.sagemaker), ("EventBridge", self.events),
            ("Lambda", self.lambda_), ("Kinesis", self.kinesis), ("Firehose", self.firehose),
            ("OpenSearch", self.opensearch), ("OpenSearch indices", self.indices),
            ("CloudWatch", self.cloudwatch), ("CloudWatch Logs", self.logs), ("Glue", self.glue),
            ("DynamoDB", self.dynamodb), ("S3", self.s3), ("SNS", self.sns),
            ("CloudFormation", self.cloudformation), ("IAM", self.iam),
            ("tagged resources", self.tagged),
        ]
        for service, step in steps:
            try:
                step()
            except (ClientError, BotoCoreError, OSError) as exc:
                self.inventory.errors.append(f"could not list {service}: {exc}")
            except Exception as exc:  # an unreachable search endpoint, an odd reply
                self.inventory.errors.append(f"could not list {service}: "
                                             f"{type(exc).__name__}: {exc}")
        self.inventory.resources = [r for r in self.inventory.resources
                                    if r.kind.key in kinds or r.kind is TAGGED]
        return self.inventory

    def _add(self, kind: Kind, name: str, found_by: str, delete: Callable[[], None],
             detail: str = "") -> None:
        self.inventory.add(Resource(kind, name, found_by, detail, delete))

    # SageMaker: endpoints, their configs and models, training jobs, registry, pipeline
    def sagemaker(self) -> None:
        sm, s, scope = self.client("sagemaker"), self.settings, self.scope
        prefix = scope.prefix
        endpoints = {e["EndpointName"]: e["EndpointArn"]
                     for e in _pages(sm, "list_endpoints", "Endpoints", NameContains=prefix)}
        try:
            described = sm.describe_endpoint(EndpointName=s.endpoint_name)
            endpoints[s.endpoint_name] = described["EndpointArn"]
        except ClientError as exc:
            if not _gone(exc):
                raise
        serving: dict[str, str] = {}  # config -> model of the project's endpoints
        for name, arn in endpoints.items():
            found_by = scope.by_name_or_prefix(name, s.endpoint_name) or (
                "tag" if self._sagemaker_tagged(sm, arn) else None)
            if not found_by:
                continue
            config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            try:
                variants = sm.describe_endpoint_config(
                    EndpointConfigName=config)["ProductionVariants"]
            except ClientError as exc:
                if not _gone(exc):
                    raise
                variants = []
            serving[config] = ", ".join(v["ModelName"] for v in variants)
            self._add(ENDPOINT, name, found_by,
                      lambda n=name: _quiet(lambda: sm.delete_endpoint(EndpointName=n)),
                      f"config {config}")
        configs = {c["EndpointConfigName"] for c in _pages(
            sm, "list_endpoint_configs", "EndpointConfigs", NameContains=prefix)}
        for config in sorted(configs | set(serving)):
            found_by = "name" if config in serving else scope.by_name_or_prefix(config)
            if found_by:
                self._add(ENDPOINT_CONFIG, config, found_by, lambda c=config: _quiet(
                    lambda: sm.delete_endpoint_config(EndpointConfigName=c)))
        models = {m["ModelName"] for m in _pages(sm, "list_models", "Models",
                                                 NameContains=prefix)}
        served = {m for names in serving.values() for m in names.split(", ") if m}
        for model in sorted(models | served):
            found_by = "name" if model in served else scope.by_name_or_prefix(model)
            if found_by:
                self._add(MODEL, model, found_by,
                          lambda m=model: _quiet(lambda: sm.delete_model(ModelName=m)))
        for job in _pages(sm, "list_training_jobs", "TrainingJobSummaries",
                          NameContains=prefix, StatusEquals="InProgress"):
            name = job["TrainingJobName"]
            if scope.by_name_or_prefix(name):
                self._add(TRAINING_JOB, name, "prefix", lambda n=name: _quiet(
                    lambda: sm.stop_training_job(TrainingJobName=n)), "stopped, not deleted")
        self._registry(sm)
        for pipeline in _pages(sm, "list_pipelines", "PipelineSummaries",
                               PipelineNamePrefix=prefix):
            name = pipeline["PipelineName"]
            if scope.by_name_or_prefix(name):
                self._add(PIPELINE, name, "prefix", lambda n=name: _quiet(
                    lambda: sm.delete_pipeline(PipelineName=n)))

    def _sagemaker_tagged(self, sm: Any, arn: str) -> bool:
        tags = sm.list_tags(ResourceArn=arn).get("Tags", [])
        return self.scope.tagged((t["Key"], t["Value"]) for t in tags)

    def _registry(self, sm: Any) -> None:
        group_names = {g["ModelPackageGroupName"] for g in _pages(
            sm, "list_model_package_groups", "ModelPackageGroupSummaryList",
            NameContains=self.scope.prefix)}
        group_names.add(self.settings.model_package_group)
        for group in sorted(group_names):
            found_by = self.scope.by_name_or_prefix(group, self.settings.model_package_group)
            if not found_by:
                continue
            try:
                packages = list(_pages(sm, "list_model_packages", "ModelPackageSummaryList",
                                       ModelPackageGroupName=group))
                sm.describe_model_package_group(ModelPackageGroupName=group)
            except ClientError as exc:
                if _gone(exc):
                    continue
                raise
            for package in packages:
                arn = package["ModelPackageArn"]
                self._add(MODEL_PACKAGE, f"{group}/{package.get('ModelPackageVersion', arn)}",
                          found_by, lambda a=arn: _quiet(
                              lambda: sm.delete_model_package(ModelPackageName=a)),
                          package.get("ModelApprovalStatus", ""))
            self._add(MODEL_PACKAGE_GROUP, group, found_by, lambda g=group: _quiet(
                lambda: sm.delete_model_package_group(ModelPackageGroupName=g)),
                f"{len(packages)} versions")

    def events(self) -> None:
        events = self.client("events")
        for rule in _pages(events, "list_rules", "Rules", NamePrefix=self.scope.prefix):
            name = rule["Name"]
            if not self.scope.by_name_or_prefix(name):
                continue

            def delete(n: str = name) -> None:
                targets = [t["Id"] for t in events.list_targets_by_rule(Rule=n)["Targets"]]
                if targets:
                    events.remove_targets(Rule=n, Ids=targets)
                _quiet(lambda: events.delete_rule(Name=n))

            self._add(RULE, name, "prefix", delete)

    def lambda_(self) -> None:
        lam, s = self.client("lambda"), self.settings
        functions: dict[str, str] = {}
        for fn in _pages(lam, "list_functions", "Functions"):
            name = fn["FunctionName"]
            found_by = self.scope.by_name_or_prefix(name, s.function_name)
            if not found_by:
                tags = lam.list_tags(Resource=fn["FunctionArn"]).get("Tags", {})
                found_by = "tag" if self.scope.tagged(tags.items()) else None
            if found_by:
                functions[name] = found_by
                self.function_roles.add(fn.get("Role", ""))
        for name, found_by in functions.items():
            for mapping in _pages(lam, "list_event_source_mappings", "EventSourceMappings",
                                  FunctionName=name):
                uuid = mapping["UUID"]
                source = mapping.get("EventSourceArn", "").rsplit("/", 1)[-1]
                self._add(MAPPING, uuid, found_by, lambda u=uuid: _quiet(
                    lambda: lam.delete_event_source_mapping(UUID=u)), f"{source} -> {name}")
            self._add(FUNCTION, name, found_by, lambda n=name: _quiet(
                lambda: lam.delete_function(FunctionName=n)))

    def kinesis(self) -> None:
        kinesis = self.client("kinesis")
        for name in _pages(kinesis, "list_streams", "StreamNames"):
            found_by = self.scope.by_name_or_prefix(name, self.settings.stream_name)
            if not found_by:
                tags = kinesis.list_tags_for_stream(StreamName=name).get("Tags", [])
                found_by = "tag" if self.scope.tagged((t["Key"], t.get("Value", ""))
                                                      for t in tags) else None
            if found_by:
                shards = kinesis.describe_stream_summary(StreamName=name)[
                    "StreamDescriptionSummary"].get("OpenShardCount")
                self._add(KINESIS, name, found_by, lambda n=name: _quiet(
                    lambda: kinesis.delete_stream(StreamName=n, EnforceConsumerDeletion=True)),
                    f"{shards} shards")

    def firehose(self) -> None:
        firehose, s = self.client("firehose"), self.settings
        names: list[str] = []
        start: str | None = None
        for _ in range(1000):  # bounded paging: 10 names a page by default
            page = firehose.list_delivery_streams(
                Limit=100, **({"ExclusiveStartDeliveryStreamName": start} if start else {}))
            names += page["DeliveryStreamNames"]
            if not page.get("HasMoreDeliveryStreams") or not page["DeliveryStreamNames"]:
                break
            start = page["DeliveryStreamNames"][-1]
        known = (s.gold_delivery_stream, s.quarantine_delivery_stream)
        for name in names:
            found_by = self.scope.by_name_or_prefix(name, *known)
            if not found_by:
                tags = firehose.list_tags_for_delivery_stream(
                    DeliveryStreamName=name).get("Tags", [])
                found_by = "tag" if self.scope.tagged((t["Key"], t.get("Value", ""))
                                                      for t in tags) else None
            if found_by:
                self._add(FIREHOSE, name, found_by, lambda n=name: _quiet(
                    lambda: firehose.delete_delivery_stream(DeliveryStreamName=n)))

    def opensearch(self) -> None:
        client = self.client("opensearch")
        for domain in client.list_domain_names().get("DomainNames", []):
            name = domain["DomainName"]
            found_by = self.scope.by_name_or_prefix(name)
            if not found_by:
                arn = client.describe_domain(DomainName=name)["DomainStatus"]["ARN"]
                tags = client.list_tags(ARN=arn).get("TagList", [])
                found_by = "tag" if self.scope.tagged((t["Key"], t["Value"])
                                                      for t in tags) else None
            if found_by:
                self._add(OPENSEARCH, name, found_by, lambda n=name: _quiet(
                    lambda: client.delete_domain(DomainName=n)), "deletion takes minutes")

    def indices(self) -> None:
        """Indices, index templates and their ingest pipelines at ``OPENSEARCH_ENDPOINT``.

        The project's index families are ``<OPENSEARCH_INDEX>-*`` (scored trips),
        ``<QUARANTINE_INDEX>-*`` (quarantined records) and ``<prefix>-*``; a template belongs to
        the project when one of its patterns is one of those, and so does the
        ``default_pipeline`` it sets.
        """
        if self.search is None or not self.settings.opensearch_endpoint:
            return
        search = self.search()
        named = (self.settings.opensearch_index, self.settings.quarantine_index)
        prefix = self.scope.prefix
        where = self.settings.opensearch_endpoint

        def ours(pattern: str) -> bool:
            return (pattern == prefix or pattern.startswith(f"{prefix}-")
                    or any(pattern in (index, f"{index}-*") for index in named))

        seen: set[str] = set()
        for family, found_by in [*((f"{i}-*", "name") for i in named), (f"{prefix}-*", "prefix")]:
            for name in sorted(search.indices.get(index=family, ignore_unavailable=True,
                                                  allow_no_indices=True)):
                if name in seen:
                    continue
                seen.add(name)
                count = search.count(index=name)["count"]
                self._add(INDEX, name, found_by,
                          lambda i=name: search.indices.delete(index=i, ignore_unavailable=True),
                          f"{count} documents at {where}")
        for template in search.indices.get_index_template().get("index_templates", []):
            body = template["index_template"]
            patterns = body.get("index_patterns", [])
            if not any(ours(p) for p in ([patterns] if isinstance(patterns, str) else patterns)):
                continue
            name = template["name"]
            self._add(INDEX_TEMPLATE, name, "name", lambda n=name:
                      search.indices.delete_index_template(name=n), f"for {', '.join(patterns)}")
            index_settings = body.get("template", {}).get("settings", {})
            pipeline = (index_settings.get("index", {}).get("default_pipeline")
                        or index_settings.get("index.default_pipeline"))
            if pipeline:
                self._add(PIPELINE_INGEST, pipeline, "name", lambda n=pipeline:
                          search.ingest.delete_pipeline(id=n), f"default pipeline of {name}")

    def cloudwatch(self) -> None:
        cw, s = self.client("cloudwatch"), self.settings
        prefixes = {f"{self.scope.prefix}-", s.stream_name, s.function_name, s.endpoint_name}
        for prefix in sorted(prefixes):
            for alarm in _pages(cw, "describe_alarms", "MetricAlarms", AlarmNamePrefix=prefix):
                name = alarm["AlarmName"]
                self._add(ALARM, name, "prefix" if prefix.endswith("-") else "name",
                          lambda n=name: cw.delete_alarms(AlarmNames=[n]))
        for board in _pages(cw, "list_dashboards", "DashboardEntries",
                            DashboardNamePrefix=self.scope.prefix):
            name = board["DashboardName"]
            if self.scope.by_name_or_prefix(name):
                self._add(DASHBOARD, name, "prefix",
                          lambda n=name: _quiet(lambda: cw.delete_dashboards(DashboardNames=[n])))

    def logs(self) -> None:
        logs, s = self.client("logs"), self.settings
        groups = [f"/aws/lambda/{s.function_name}",
                  f"/aws/kinesisfirehose/{s.gold_delivery_stream}",
                  f"/aws/kinesisfirehose/{s.quarantine_delivery_stream}",
                  f"/aws/sagemaker/Endpoints/{s.endpoint_name}"]
        groups += [f"/aws/lambda/{name}" for name in self.inventory.names(FUNCTION)]
        for wanted in dict.fromkeys(groups):
            for group in _pages(logs, "describe_log_groups", "logGroups",
                                logGroupNamePrefix=wanted):
                name = group["logGroupName"]
                if name == wanted:
                    self._add(LOG_GROUP, name, "name", lambda n=name: _quiet(
                        lambda: logs.delete_log_group(logGroupName=n)),
                        f"{group.get('storedBytes', 0):,} bytes")

    def glue(self) -> None:
        glue, s = self.client("glue"), self.settings
        for database in _pages(glue, "get_databases", "DatabaseList"):
            name = database["Name"]
            found_by = self.scope.by_name_or_prefix(name, s.glue_database)
            if found_by:
                tables = [t["Name"] for t in _pages(glue, "get_tables", "TableList",
                                                    DatabaseName=name)]
                self._add(GLUE, name, found_by, lambda n=name: _quiet(
                    lambda: glue.delete_database(Name=n)),
                    f"tables: {', '.join(tables) or 'none'}")

    def dynamodb(self) -> None:
        ddb = self.client("dynamodb")
        for name in _pages(ddb, "list_tables", "TableNames"):
            found_by = self.scope.by_name_or_prefix(name, self.settings.params_table)
            if found_by:
                self._add(DYNAMODB, name, found_by,
                          lambda n=name: _quiet(lambda: ddb.delete_table(TableName=n)))

    def s3(self) -> None:
        s3, s = self.client("s3"), self.settings
        known = (s.raw_bucket, s.processed_bucket, s.models_bucket, s.gold_bucket)
        tagged = set(self._tagged_arns("s3"))
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            found_by = self.scope.by_name_or_prefix(name, *known) or (
                "tag" if f"arn:aws:s3:::{name}" in tagged else None)
            if found_by:
                self._add(BUCKET, name, found_by, lambda n=name: delete_bucket(s3, n))

    def sns(self) -> None:
        sns = self.client("sns")
        for topic in _pages(sns, "list_topics", "Topics"):
            arn = topic["TopicArn"]
            name = arn.rsplit(":", 1)[-1]
            if self.scope.by_name_or_prefix(name):
                self._add(TOPIC, name, "prefix",
                          lambda a=arn: _quiet(lambda: sns.delete_topic(TopicArn=a)))

    def cloudformation(self) -> None:
        cfn = self.client("cloudformation")
        for stack in _pages(cfn, "describe_stacks", "Stacks"):
            name = stack["StackName"]
            if stack.get("StackStatus") == "DELETE_COMPLETE":
                continue
            found_by = self.scope.by_name_or_prefix(name) or (
                "tag" if self.scope.tagged((t["Key"], t["Value"]) for t in stack.get(
                    "Tags", [])) else None)
            if found_by:
                self._add(STACK, name, found_by, lambda n=name: delete_stack(cfn, n),
                          stack.get("StackStatus", ""))

    def iam(self) -> None:
        iam = self.client("iam")
        known = tuple(f"{self.scope.prefix}-{suffix}" for suffix in ROLE_SUFFIXES)
        for role in _pages(iam, "list_roles", "Roles"):
            name = role["RoleName"]
            found_by = self.scope.by_name_or_prefix(name, *known) or (
                "name" if role["Arn"] in self.function_roles else None)
            if found_by:
                self._add(ROLE, name, found_by, lambda n=name: delete_role(iam, n))

    def _tagged_arns(self, *types: str) -> list[str]:
        tagging = self.client("resourcegroupstaggingapi")
        tag_filter = [{"Key": TAG_KEY, "Values": [self.scope.prefix]}]
        found = _pages(tagging, "get_resources", "ResourceTagMappingList",
                       TagFilters=tag_filter, ResourceTypeFilters=list(types))
        # the tags are checked again: moto's Glue part ignores the filter
        return [r["ResourceARN"] for r in found
                if self.scope.tagged((t["Key"], t["Value"]) for t in r.get("Tags", []))]

    def tagged(self) -> None:
        """Tagged resources that no finder above listed: shown, so none is forgotten."""
        known = {r.name for r in self.inventory.resources}
        for arn in self._tagged_arns(*SWEPT_TYPES):
            tail = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            if tail not in known and not any(name in arn for name in known):
                self._add(TAGGED, arn, "tag", lambda: None)


# --- deleting ----------------------------------------------------------------------------------
def delete_bucket(s3: Any, bucket: str) -> None:
    """Delete every object version and delete marker, then the bucket."""
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                      for key in ("Versions", "DeleteMarkers") for v in page.get(key, [])]
            for start in range(0, len(doomed), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start:start + 1000],
                                                         "Quiet": True})
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # unversioned
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if not _gone(exc):
            raise


def delete_stack(cfn: Any, name: str) -> None:
    """Delete a stack and wait (at most 30 minutes) until it is gone."""
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 180})


def delete_role(iam: Any, name: str) -> None:
    """Detach and delete every policy of a role, remove it from instance profiles, delete it."""
    try:
        for policy in _pages(iam, "list_role_policies", "PolicyNames", RoleName=name):
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for policy in _pages(iam, "list_attached_role_policies", "AttachedPolicies",
                             RoleName=name):
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for profile in _pages(iam, "list_instance_profiles_for_role", "InstanceProfiles",
                              RoleName=name):
            iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
        iam.delete_role(RoleName=name)
    except ClientError as exc:
        if not _gone(exc):
            raise


@dataclass
class Outcome:
    deleted: list[Resource] = field(default_factory=list)
    failed: list[tuple[Resource, str]] = field(default_factory=list)


def delete_all(inventory: Inventory, say: Callable[[str], None] = print) -> Outcome:
    """Delete in dependency order; a failure is reported and the rest goes on."""
    outcome = Outcome()
    for resource in inventory.ordered():
        if resource.kind is TAGGED or resource.delete is None:
            continue
        try:
            resource.delete()
        except (ClientError, BotoCoreError, OSError) as exc:
            outcome.failed.append((resource, str(exc)))
            say(f"  FAILED   {resource.kind.title} {resource.name}: {exc}")
            continue
        except Exception as exc:  # a search endpoint error, a waiter timeout
            outcome.failed.append((resource, f"{type(exc).__name__}: {exc}"))
            say(f"  FAILED   {resource.kind.title} {resource.name}: {exc}")
            continue
        outcome.deleted.append(resource)
        say(f"  deleted  {resource.kind.title} {resource.name}")
    return outcome


# --- the command -------------------------------------------------------------------------------
def find(settings: Settings, kinds: Iterable[str] = KIND_KEYS) -> Inventory:
    """Everything of the project in the account/region of ``settings`` (or the local stack)."""
    import boto3

    session = boto3.session.Session(region_name=settings.region)
    clients: dict[str, Any] = {}

    def client(name: str) -> Any:
        if name not in clients:
            clients[name] = session.client(name)
        return clients[name]

    def search() -> Any:
        from search_client import search_client

        return search_client(settings.opensearch_endpoint or "", settings.region)

    return Finder(settings, client, search).run(set(kinds))


def format_inventory(inventory: Inventory, settings: Settings) -> str:
    lines = [f"Project resources (prefix {settings.project_prefix}, region {settings.region}, "
             f"tag {TAG_KEY}={settings.project_prefix}):"]
    if not inventory.resources:
        lines.append("  nothing found")
    current = None
    for resource in inventory.ordered():
        if resource.kind != current:
            current = resource.kind
            cost = f"  [idle: {current.idle_cost}]" if current.idle_cost else ""
            lines.append(f"  {current.title}{cost}")
        detail = f"  ({resource.detail})" if resource.detail else ""
        lines.append(f"    - {resource.name}  by {resource.found_by}{detail}")
    lines += [f"  WARNING: {error}" for error in inventory.errors]
    return "\n".join(lines)


def _kinds(text: str | None) -> set[str]:
    if not text:
        return set(KIND_KEYS)
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = chosen - set(KIND_KEYS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown kind(s) {', '.join(sorted(unknown))}; choose among {', '.join(KIND_KEYS)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="List and delete every resource the project created (by name, prefix "
                    "and tag).", allow_abbrev=False)
    parser.add_argument("--dry-run", action="store_true", help="only list, delete nothing")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    parser.add_argument("--only", type=_kinds, metavar="KINDS",
                        help=f"comma-separated kinds to handle ({', '.join(KIND_KEYS)})")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, else us-east-1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(region=args.region)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inventory = find(settings, args.only or KIND_KEYS)
    print(format_inventory(inventory, settings))
    doomed = [r for r in inventory.resources if r.kind is not TAGGED]
    if args.dry_run:
        print(f"\nDry run: {len(doomed)} resources would be deleted. "
              "Run without --dry-run to delete them.")
        return 1 if inventory.errors else 0
    if not doomed:
        print("\nNothing to delete.")
        return 1 if inventory.errors else 0
    if not args.yes:
        try:
            answer = input(f"\nDelete these {len(doomed)} resources? This cannot be undone. "
                           "[y/N] ")
        except EOFError:  # no terminal and nothing piped in
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("\nNothing deleted (answer y to delete, or pass --yes).")
            return 1
    print(f"\nDeleting {len(doomed)} resources:")
    outcome = delete_all(inventory)
    print(f"\nDeleted {len(outcome.deleted)} of {len(doomed)} resources"
          + (f"; {len(outcome.failed)} failed (run again, or delete them by hand)."
             if outcome.failed else "."))
    if any(r.kind is OPENSEARCH for r in outcome.deleted):
        print("OpenSearch domains take several minutes to disappear after the request.")
    return 1 if outcome.failed or inventory.errors else 0


if __name__ == "__main__":
    sys.exit(main())
