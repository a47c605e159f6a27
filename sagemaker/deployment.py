"""Deploy, roll back and inspect the fare endpoint (blue/green with UpdateEndpoint).

The model, the endpoint configuration and the endpoint are the SageMaker SDK's typed resources
(``Model.create``, ``EndpointConfig.create``, ``Endpoint.create`` / ``endpoint.update()``,
``Endpoint.get``), created, followed and read through the caller's boto3 client
(``sagemaker_sdk.bind``).

Each deployment creates a model and a new endpoint configuration whose single production
variant is named after the model package version (``mv-<version>``): InvokeEndpoint returns it
as ``InvokedProductionVariant`` and the Lambda uses it to pick ``thresholds/mv-<version>``.
An existing endpoint is switched with UpdateEndpoint (SageMaker keeps the old fleet serving
until the new one is healthy: no downtime). Serverless inference (``ServerlessConfig``) is an
option: no idle cost, a cold start after idle periods.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

import registry
from taximl.errors import InvalidInputError, PlatformError
from taximl.thresholds import VARIANT_PREFIX, variant_name

logger = logging.getLogger(__name__)

DEFAULT_INSTANCE_TYPE = "ml.m5.large"
MAX_NAME = 63


@dataclass(frozen=True)
class ServingOptions:
    """Real-time instances, or serverless when ``serverless_memory_mb`` is set."""

    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    serverless_memory_mb: int | None = None  # 1024..6144 in 1024 steps
    serverless_max_concurrency: int = 5

    def variant_config(self) -> dict[str, Any]:
        if self.serverless_memory_mb:
            if self.serverless_memory_mb not in range(1024, 6145, 1024):
                raise InvalidInputError("serverless memory must be 1024, 2048, ..., 6144 MB")
            return {
                "ServerlessConfig": {
                    "MemorySizeInMB": self.serverless_memory_mb,
                    "MaxConcurrency": self.serverless_max_concurrency,
                }
            }
        return {"InitialInstanceCount": self.instance_count, "InstanceType": self.instance_type}


@dataclass(frozen=True)
class Serving:
    """What an endpoint serves right now."""

    endpoint: str
    status: str
    config: str
    variant: str
    version: int | None
    model: str


def resource_name(prefix: str, version: int, stamp: str) -> str:
    """``<prefix>-mv-<version>-<stamp>`` cut to SageMaker's 63 characters."""
    tail = f"-{VARIANT_PREFIX}{version}-{stamp}"
    return f"{prefix[: MAX_NAME - len(tail)].rstrip('-')}{tail}"


def version_of_variant(variant: str) -> int | None:
    if variant.startswith(VARIANT_PREFIX) and variant[len(VARIANT_PREFIX):].isdigit():
        return int(variant[len(VARIANT_PREFIX):])
    return None


def endpoint_config_request(
    name: str, model_name: str, version: int, options: ServingOptions
) -> dict[str, Any]:
    """The CreateEndpointConfig request (API names, as ``aws sagemaker`` takes it)."""
    return {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": variant_name(version),
                "ModelName": model_name,
                "InitialVariantWeight": 1.0,
                **options.variant_config(),
            }
        ],
    }


def production_variant(model_name: str, version: int, options: ServingOptions) -> Any:
    """The endpoint configuration's single variant as the SDK's ``ProductionVariant``."""
    import sagemaker_sdk

    shapes = sagemaker_sdk.shapes()
    config = options.variant_config()
    serverless = config.get("ServerlessConfig")
    return shapes.ProductionVariant(
        variant_name=variant_name(version),
        model_name=model_name,
        initial_variant_weight=1.0,
        **({"serverless_config": shapes.ProductionVariantServerlessConfig(
                memory_size_in_mb=serverless["MemorySizeInMB"],
                max_concurrency=serverless["MaxConcurrency"])} if serverless else
           {"initial_instance_count": config["InitialInstanceCount"],
            "instance_type": config["InstanceType"]}),
    )


def status(sagemaker: Any, endpoint: str) -> Serving | None:
    """The endpoint's current state, or None when it does not exist."""
    import sagemaker_sdk

    sagemaker_sdk.bind(sagemaker)
    resources = sagemaker_sdk.resources()
    try:
        described = resources.Endpoint.get(endpoint)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    config = resources.EndpointConfig.get(described.endpoint_config_name)
    variant = config.production_variants[0]
    return Serving(
        endpoint=endpoint,
        status=described.endpoint_status,
        config=described.endpoint_config_name,
        variant=variant.variant_name,
        version=version_of_variant(variant.variant_name),
        model=variant.model_name,
    )


def deploy(
    sagemaker: Any,
    *,
    endpoint: str,
    package: Mapping[str, Any],
    role_arn: str,
    options: ServingOptions = ServingOptions(),
    name_prefix: str,
    wait: bool = True,
    timeout_s: float = 1800.0,
) -> Serving:
    """Serve ``package`` (a DescribeModelPackage result) on ``endpoint``: create or update."""
    import sagemaker_sdk

    sagemaker_sdk.bind(sagemaker)
    resources, shapes = sagemaker_sdk.resources(), sagemaker_sdk.shapes()
    version = int(package["ModelPackageVersion"])
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    name = resource_name(name_prefix, version, stamp)
    resources.Model.create(
        model_name=name,
        primary_container=shapes.ContainerDefinition(
            image=registry.image_of(package), model_data_url=registry.model_data_url(package)),
        execution_role_arn=role_arn,
        tags=[shapes.Tag(key="model_package_arn", value=package["ModelPackageArn"])],
    )
    resources.EndpointConfig.create(
        endpoint_config_name=name,
        production_variants=[production_variant(name, version, options)],
    )
    current = status(sagemaker, endpoint)
    if current is None:
        resources.Endpoint.create(endpoint_name=endpoint, endpoint_config_name=name)
        logger.info("creating endpoint %s with %s", endpoint, name)
    else:
        if current.status not in ("InService", "Failed"):
            raise PlatformError(
                f"endpoint {endpoint} is {current.status}: wait until it is InService"
            )
        served = resources.Endpoint.get(endpoint)
        served.endpoint_config_name = name
        served.update()
        logger.info("updating endpoint %s: %s -> %s", endpoint, current.config, name)
    if wait:
        wait_in_service(sagemaker, endpoint, name, timeout_s)
    serving = status(sagemaker, endpoint)
    assert serving is not None
    return serving


def wait_in_service(
    sagemaker: Any, endpoint: str, config: str, timeout_s: float = 1800.0, poll_s: float = 2.0
) -> None:
    """Wait until the endpoint is InService *with* ``config`` (PlatformError otherwise).

    Not ``Endpoint.wait_for_status("InService")``: after an UpdateEndpoint that could not
    load the new models SageMaker goes back to InService with the *old* configuration and a
    FailureReason, which only a check of the configuration tells apart from success.
    """
    import sagemaker_sdk

    sagemaker_sdk.bind(sagemaker)
    described = sagemaker_sdk.resources().Endpoint.get(endpoint)
    deadline = time.monotonic() + timeout_s
    while True:
        state = described.endpoint_status
        if state == "InService" and described.endpoint_config_name == config:
            return
        if state == "Failed" or (state == "InService" and time.monotonic() > deadline):
            reason = (described.failure_reason if sagemaker_sdk.is_set(described.failure_reason)
                      else f"update to {config} did not complete")
            raise PlatformError(
                f"endpoint {endpoint} {state} with {described.endpoint_config_name}: {reason}"
            )
        if time.monotonic() > deadline:
            raise PlatformError(f"endpoint {endpoint} still {state} after {timeout_s:.0f} s")
        time.sleep(poll_s)
        described.refresh()


def previous_approved(
    sagemaker: Any, group: str, serving_version: int | None
) -> dict[str, Any] | None:
    """The newest approved version older than the one serving (None when there is none)."""
    for package in registry.versions(sagemaker, group, registry.APPROVED):
        if serving_version is None or int(package["ModelPackageVersion"]) < serving_version:
            return package
    return None


def _not_found(exc: ClientError) -> bool:
    message = str(exc)
    return "Could not find" in message or "does not exist" in message or (
        exc.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFound")
    )
