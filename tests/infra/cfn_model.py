"""A CloudFormation template resolved to plain values, for comparing it with the CLI steps.

``resolve_template(path, parameters)`` evaluates the intrinsic functions the project's template
uses (``Ref``, ``Fn::Sub``, ``Fn::GetAtt``, ``Fn::If``, ``Fn::Equals``, ``Fn::Not``,
``Fn::Join``, conditions, ``AWS::NoValue`` and the pseudo parameters) the way CloudFormation
would for the given parameter values, so that each resource's properties become the concrete
request CloudFormation would make. Resources whose condition is false are dropped.

Physical names and ARNs follow from the names the template sets (every project resource is
named explicitly), e.g. ``GetAtt Role.Arn`` is ``arn:aws:iam::<account>:role/<RoleName>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}]+)\}")

#: Ref value of a resource type: the property holding its name (None = not needed here).
REF_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::OpenSearchService::Domain": "DomainName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
}


@dataclass(frozen=True)
class Stack:
    """The resolved template: resources by logical id (type and properties)."""

    resources: dict[str, dict[str, Any]]
    region: str
    account: str

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r["Properties"] for name, r in self.resources.items()
                if r["Type"] == resource_type}

    def named(self, resource_type: str, key: str, value: str) -> dict[str, Any]:
        """The properties of the one resource of ``resource_type`` whose ``key`` is ``value``."""
        found = [p for p in self.of_type(resource_type).values() if p.get(key) == value]
        assert len(found) == 1, f"{resource_type} with {key}={value}: {len(found)} in template"
        return found[0]


class _Resolver:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str],
                 region: str, account: str) -> None:
        self.template = template
        self.region, self.account = region, account
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in parameters:
                self.params[name] = parameters[name]
            elif "Default" in spec:
                self.params[name] = spec["Default"]
            else:
                raise KeyError(f"parameter {name} has no value and no default")
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
                       "AWS::StackName": "stack", "AWS::URLSuffix": "amazonaws.com"}
        self.conditions: dict[str, bool] = {}
        for name in template.get("Conditions", {}):
            self.condition(name)
        self.names: dict[str, Any] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        return self.physical_name(name)

    def physical_name(self, logical: str) -> Any:
        if logical not in self.names:
            resource = self.template["Resources"][logical]
            key = REF_PROPERTY.get(resource["Type"])
            if resource["Type"] == "AWS::Glue::Database":
                self.names[logical] = self.value(resource["Properties"]["DatabaseInput"]["Name"])
            elif key is None:
                self.names[logical] = f"<{logical}>"
            else:
                self.names[logical] = self.value(resource["Properties"][key])
        return self.names[logical]

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.template["Resources"][logical]["Type"]
        name = self.physical_name(logical)
        region, account = self.region, self.account
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{region}:{account}:stream/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
            "AWS::CodeBuild::Project": f"arn:aws:codebuild:{region}:{account}:project/{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if kind == "AWS::OpenSearchService::Domain" and attribute == "DomainEndpoint":
            return f"search-{name}-id.{region}.es.amazonaws.com"
        raise KeyError(f"GetAtt {logical}.{attribute} ({kind}) is not modelled")

    def sub(self, text: str, extra: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in extra:
                return str(extra[token])
            if "." in token and token.split(".", 1)[0] in self.template["Resources"]:
                return self.get_att(*token.split(".", 1))
            return str(self.ref(token))

        return _SUB.sub(one, text)

    def value(self, node: Any) -> Any:
        if isinstance(node, Mapping):
            if len(node) == 1:
                (key, arg), = node.items()
                if key == "Ref":
                    return self.ref(arg)
                if key == "Fn::Sub":
                    if isinstance(arg, str):
                        return self.sub(arg, {})
                    text, variables = arg
                    return self.sub(text, {k: self.value(v) for k, v in variables.items()})
                if key == "Fn::GetAtt":
                    logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                    return self.get_att(logical, attribute)
                if key == "Fn::If":
                    name, yes, no = arg
                    return self.value(yes if self.condition(name) else no)
                if key == "Fn::Equals":
                    left, right = (self.value(a) for a in arg)
                    return str(left) == str(right)
                if key == "Fn::Not":
                    return not self.value(arg[0])
                if key == "Fn::Join":
                    separator, parts = arg
                    return separator.join(str(self.value(p)) for p in parts)
                if key == "Condition":
                    return self.condition(arg)
            out = {}
            for key, item in node.items():
                resolved = self.value(item)
                if resolved is not NO_VALUE:
                    out[str(key)] = resolved
            return out
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not NO_VALUE]
        if isinstance(node, str):
            return str(node)
        return node


def resolve_template(path: Path, parameters: Mapping[str, str], *, region: str,
                     account: str) -> Stack:
    """Every resource of the template at ``path`` with its properties resolved."""
    template, problems = decode_str(path.read_text(encoding="utf-8"))
    assert not problems, problems
    resolver = _Resolver(template, parameters, region, account)
    resources = {}
    for logical, resource in template["Resources"].items():
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            continue
        resources[logical] = {"Type": resource["Type"],
                              "Properties": resolver.value(resource.get("Properties", {}))}
    return Stack(resources, region, account)
