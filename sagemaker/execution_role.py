"""The IAM role SageMaker jobs and endpoints run as (infra/iam/sagemaker-*.json).

``SAGEMAKER_ROLE_ARN`` (or ``--role-arn``) names an existing role; otherwise the role
``<prefix>-sagemaker-execution`` is created (or reused) from the policy files, with the bucket
names of the current settings filled in.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from string import Template
from typing import Any

from botocore.exceptions import ClientError

from taximl.config import Settings

logger = logging.getLogger(__name__)

ENV_ROLE_ARN = "SAGEMAKER_ROLE_ARN"
IAM_DIR = Path(__file__).resolve().parents[1] / "infra" / "iam"
TRUST_POLICY = "sagemaker-trust-policy.json"
POLICY_FILES = ("sagemaker-execution-policy.json", "sagemaker-pipeline-policy.json")


def role_name(settings: Settings) -> str:
    return f"{settings.project_prefix}-sagemaker-execution"[:64]


def render_policy(path: Path, settings: Settings) -> str:
    """A policy file with ``${raw_bucket}``-style placeholders filled from the settings."""
    text = Template(path.read_text(encoding="utf-8")).substitute(
        {k: str(v) for k, v in vars(settings).items()}
    )
    json.loads(text)  # fail here, not in IAM, when a file is broken
    return text


def ensure_role(iam: Any, settings: Settings, role_arn: str | None = None) -> str:
    """The ARN of the execution role: given, from the environment, or created from the files."""
    role_arn = role_arn or os.environ.get(ENV_ROLE_ARN)
    if role_arn:
        return role_arn
    name = role_name(settings)
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=(IAM_DIR / TRUST_POLICY).read_text(encoding="utf-8"),
        Description="SageMaker training jobs, endpoints and pipeline of the taxi fare model",
    )["Role"]["Arn"]
    for file_name in POLICY_FILES:
        iam.put_role_policy(
            RoleName=name,
            PolicyName=file_name.removesuffix(".json"),
            PolicyDocument=render_policy(IAM_DIR / file_name, settings),
        )
    logger.info("created IAM role %s", arn)
    return arn
