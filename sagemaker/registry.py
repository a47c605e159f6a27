"""Model Registry: one model package group, one version per training run, an approval gate.

Gate: a new version is approved automatically only when its test RMSE beats the currently
approved version's RMSE, measured on the *same* test rows, by at least ``margin`` (relative,
e.g. 0.01 = 1 %). The very first version must beat the meter-formula baseline instead.
Otherwise it stays ``PendingManualApproval`` with the reason in its ApprovalDescription, and
``train_register_deploy.py approve --version N`` approves it by hand.

The group and the versions are read and updated as the SageMaker SDK's typed resources
(``ModelPackageGroup``, ``ModelPackage.get``, ``package.update(...)``) through the caller's
boto3 client. Two calls stay on that client, because sagemaker-core cannot make them:
``ModelPackage.create`` reads a ``ModelPackageName`` that the CreateModelPackage response does
not have (it returns only the ARN) and types ``InferenceSpecification`` with the model-card
shape (containers only, so the supported content types would be dropped); and
``ModelPackage.get_all`` re-reads each version by name, which for a versioned package is its
group's name. Versions are therefore created with ``create_model_package`` and listed with
``list_model_packages``, then read with ``ModelPackage.get(arn)``.
"""


from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from taximl.errors import InvalidInputError

logger = logging.getLogger(__name__)

APPROVED = "Approved"
PENDING = "PendingManualApproval"
REJECTED = "Rejected"
DEFAULT_MARGIN = 0.01
REALTIME_INSTANCE_TYPES = ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge", "ml.c5.large"]
TRANSFORM_INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]


@dataclass(frozen=True)
class GateDecision:
    """Whether a new version is approved automatically, and why (printed and stored)."""

    approve: bool
    reason: str

    @property
    def status(self) -> str:
        return APPROVED if self.approve else PENDING


def gate(
    new_rmse: float,
    *,
    current_rmse: float | None,
    current_version: int | None,
    meter_rmse: float,
    margin: float = DEFAULT_MARGIN,
) -> GateDecision:
    """Approval decision from test RMSEs on the same rows (pure function)."""
    if current_rmse is None:
        if new_rmse < meter_rmse:
            return GateDecision(
                True,
                f"first approved version: test RMSE {new_rmse:.4f} beats the meter formula "
                f"({meter_rmse:.4f})",
            )
        return GateDecision(
            False,
            f"test RMSE {new_rmse:.4f} does not beat the meter formula ({meter_rmse:.4f})",
        )
    needed = current_rmse * (1.0 - margin)
    if new_rmse <= needed:
        return GateDecision(
            True,
            f"test RMSE {new_rmse:.4f} beats approved version {current_version} "
            f"({current_rmse:.4f}) by at least {margin:.1%}",
        )
    return GateDecision(
        False,
        f"test RMSE {new_rmse:.4f} does not beat approved version {current_version} "
        f"({current_rmse:.4f}) by {margin:.1%} (needs <= {needed:.4f} on the same test rows)",
    )


def ensure_group(sagemaker: Any, group: str) -> None:
    import sagemaker_sdk

    sagemaker_sdk.bind(sagemaker)
    resources = sagemaker_sdk.resources()
    try:
        resources.ModelPackageGroup.get(group)
    except ClientError:
        resources.ModelPackageGroup.create(
            model_package_group_name=group,
            model_package_group_description="NYC taxi fare model (built-in XGBoost)",
        )
        logger.info("created model package group %s", group)


def register_version(
    sagemaker: Any,
    *,
    group: str,
    image_uri: str,
    model_data_url: str,
    report_uri: str,
    metadata: Mapping[str, str],
    decision: GateDecision,
    description: str,
) -> dict[str, Any]:
    """Create a model package version; returns its description (with ModelPackageVersion)."""
    ensure_group(sagemaker, group)
    response = sagemaker.create_model_package(  # not ModelPackage.create: see the docstring
        ModelPackageGroupName=group,
        ModelPackageDescription=description[:1000],
        InferenceSpecification={
            "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv", "application/json"],
            "SupportedRealtimeInferenceInstanceTypes": REALTIME_INSTANCE_TYPES,
            "SupportedTransformInstanceTypes": TRANSFORM_INSTANCE_TYPES,
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": report_uri}
            }
        },
        CustomerMetadataProperties={k: str(v)[:256] for k, v in metadata.items()},
        ModelApprovalStatus=decision.status,
    )
    arn = response["ModelPackageArn"]
    # The approval reason lives in ApprovalDescription (set with UpdateModelPackage).
    set_status(sagemaker, arn, decision.status, decision.reason,
               {k: str(v)[:256] for k, v in metadata.items()})
    return describe(sagemaker, arn)


def package(sagemaker: Any, arn: str) -> Any:
    """The SDK's ``ModelPackage`` of a version (by ARN)."""
    import sagemaker_sdk

    sagemaker_sdk.bind(sagemaker)
    found = sagemaker_sdk.resources().ModelPackage.get(arn)
    # The SDK re-reads (refresh, after update) by name; a version's name is its group's.
    found.model_package_name = arn
    return found


def describe(sagemaker: Any, arn: str) -> dict[str, Any]:
    """DescribeModelPackage of a version, read through the SDK (API names as keys)."""
    import sagemaker_sdk

    return sagemaker_sdk.to_dict(package(sagemaker, arn))


def versions(sagemaker: Any, group: str, status: str | None = None) -> list[dict[str, Any]]:
    """Descriptions of the group's versions (optionally of one approval status), newest first."""
    request: dict[str, Any] = {"ModelPackageGroupName": group, "ModelPackageType": "Versioned"}
    if status:
        request["ModelApprovalStatus"] = status
    arns: list[str] = []
    try:
        for page in sagemaker.get_paginator("list_model_packages").paginate(**request):
            arns += [p["ModelPackageArn"] for p in page["ModelPackageSummaryList"]]
    except ClientError as exc:
        if "does not exist" in str(exc) or "ValidationException" in str(exc):
            return []
        raise
    described = [describe(sagemaker, arn) for arn in arns]
    if status:
        described = [d for d in described if d.get("ModelApprovalStatus") == status]
    return sorted(described, key=lambda d: int(d["ModelPackageVersion"]), reverse=True)


def latest_approved(sagemaker: Any, group: str) -> dict[str, Any] | None:
    approved = versions(sagemaker, group, APPROVED)
    return approved[0] if approved else None


def by_version(sagemaker: Any, group: str, version: int) -> dict[str, Any]:
    for found in versions(sagemaker, group):
        if int(found["ModelPackageVersion"]) == int(version):
            return found
    raise InvalidInputError(f"model package group {group} has no version {version}")


def set_status(
    sagemaker: Any, arn: str, status: str, reason: str, metadata: Mapping[str, str] | None = None
) -> None:
    """Set the approval status and its reason (``ModelPackage.update``).

    The metadata properties are sent again: AWS keeps them anyway, but moto 5.2 forgets
    CustomerMetadataProperties on any UpdateModelPackage that does not repeat them.
    """
    import sagemaker_sdk

    version = package(sagemaker, arn)
    if metadata is None:
        current = version.customer_metadata_properties
        metadata = dict(current) if sagemaker_sdk.is_set(current) else None
    version.update(
        model_approval_status=status,
        approval_description=reason[:1000],
        **({"customer_metadata_properties": dict(metadata)} if metadata else {}),
    )
    logger.info("model package %s -> %s (%s)", arn, status, reason)


def model_data_url(package: Mapping[str, Any]) -> str:
    return str(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])


def image_of(package: Mapping[str, Any]) -> str:
    return str(package["InferenceSpecification"]["Containers"][0]["Image"])
