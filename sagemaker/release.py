"""Release operations on the registry and the endpoint: approve, deploy, roll back, status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

import deployment
import registry
import threshold_params
from execution_role import ensure_role
from taximl.config import Settings
from taximl.errors import InvalidInputError
from taximl.thresholds import MODE_CALIBRATED, doc_from_json, fixed_doc, with_mode

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Release:
    """Outcome of a deploy or a rollback."""

    previous: deployment.Serving | None
    serving: deployment.Serving
    threshold_param: str
    threshold_mode: str
    rejected_version: int | None = None


def approve(settings: Settings, clients: Any, version: int, reason: str) -> dict[str, Any]:
    package = registry.by_version(clients.sagemaker, settings.model_package_group, version)
    registry.set_status(clients.sagemaker, package["ModelPackageArn"], registry.APPROVED, reason)
    return registry.describe(clients.sagemaker, package["ModelPackageArn"])


def deploy(
    settings: Settings,
    clients: Any,
    *,
    version: int | None = None,
    options: deployment.ServingOptions | None = None,
    threshold_mode: str = MODE_CALIBRATED,
    role_arn: str | None = None,
    timeout_s: float = 1800.0,
) -> Release:
    """Deploy an approved version (default: the latest) and set its threshold mode."""
    group = settings.model_package_group
    if version is None:
        package = registry.latest_approved(clients.sagemaker, group)
        if package is None:
            raise InvalidInputError(
                f"no approved version in {group}: train one, or approve one with "
                "`train_register_deploy.py approve --version N`"
            )
    else:
        package = registry.by_version(clients.sagemaker, group, version)
        if package["ModelApprovalStatus"] != registry.APPROVED:
            raise InvalidInputError(
                f"version {version} is {package['ModelApprovalStatus']}: approve it first"
            )
    return _switch(settings, clients, package, options, threshold_mode, role_arn, timeout_s)


def rollback(
    settings: Settings,
    clients: Any,
    *,
    options: deployment.ServingOptions | None = None,
    threshold_mode: str = MODE_CALIBRATED,
    role_arn: str | None = None,
    timeout_s: float = 1800.0,
) -> Release:
    """Serve the previous approved version; the rolled-back one is marked Rejected."""
    current = deployment.status(clients.sagemaker, settings.endpoint_name)
    if current is None:
        raise InvalidInputError(
            f"endpoint {settings.endpoint_name} does not exist: nothing to roll back"
        )
    previous = deployment.previous_approved(
        clients.sagemaker, settings.model_package_group, current.version
    )
    if previous is None:
        raise InvalidInputError(
            f"no approved version older than {current.variant}: nothing to roll back to"
        )
    release = _switch(settings, clients, previous, options, threshold_mode, role_arn, timeout_s)
    if current.version is not None:
        package = registry.by_version(clients.sagemaker, settings.model_package_group,
                                      current.version)
        registry.set_status(
            clients.sagemaker, package["ModelPackageArn"], registry.REJECTED,
            f"rolled back to version {previous['ModelPackageVersion']}",
        )
    return Release(release.previous, release.serving, release.threshold_param,
                   release.threshold_mode, rejected_version=current.version)


def thresholds_in_mode(
    doc: dict[str, Any] | None, threshold_mode: str, fixed_threshold: float, version: int
) -> dict[str, Any]:
    """The threshold document to serve ``version`` with, in the requested mode.

    The mode is applied every time (a version once deployed with ``fixed`` goes back to its
    calibrated thresholds with the next calibrated deploy); a version that was never
    calibrated falls back to the fixed rule, with a warning.
    """
    if doc is not None and "global" in doc:
        return with_mode(doc, threshold_mode)
    if threshold_mode == MODE_CALIBRATED:
        logger.warning("version %d has no calibrated thresholds: using the fixed rule", version)
    return fixed_doc(fixed_threshold, f"mv-{version}")


def _switch(
    settings: Settings,
    clients: Any,
    package: dict[str, Any],
    options: deployment.ServingOptions | None,
    threshold_mode: str,
    role_arn: str | None,
    timeout_s: float,
) -> Release:
    options = options or deployment.ServingOptions()
    version = int(package["ModelPackageVersion"])
    threshold_params.ensure_table(clients.dynamodb, settings.params_table)
    doc = threshold_params.get_doc(clients.dynamodb, settings.params_table, version)
    if doc is None:
        doc = _thresholds_next_to_report(clients.s3, package)
    doc = thresholds_in_mode(doc, threshold_mode, settings.fixed_threshold, version)
    item = threshold_params.put_doc(clients.dynamodb, settings.params_table, version, doc,
                                    package["ModelPackageArn"])
    previous = deployment.status(clients.sagemaker, settings.endpoint_name)
    serving = deployment.deploy(
        clients.sagemaker,
        endpoint=settings.endpoint_name,
        package=package,
        role_arn=ensure_role(clients.iam, settings, role_arn),
        options=options,
        name_prefix=settings.project_prefix,
        timeout_s=timeout_s,
    )
    return Release(previous, serving, item, doc["mode"])


def _thresholds_next_to_report(s3: Any, package: dict[str, Any]) -> dict[str, Any] | None:
    """``thresholds.json`` next to the version's report (versions registered by the pipeline)."""
    from batch_s3 import get_bytes

    report = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
    uri = report.get("S3Uri", "")
    if not uri.endswith("/report.json"):
        return None
    try:
        return doc_from_json(get_bytes(s3, uri.rsplit("/", 1)[0] + "/thresholds.json"))
    except (ClientError, ValueError):
        logger.warning("no thresholds.json next to %s", uri)
        return None
