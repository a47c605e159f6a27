"""Which model serves an endpoint: control-plane resolution plus an artifact cache.

An endpoint resolves to its endpoint config, each production variant to its model (its
``ModelDataUrl``, from ``PrimaryContainer``, ``Containers`` or a model package) and each model
artifact to a loaded booster. Like real instances, a deployment keeps the boosters it loaded
until the endpoint changes (new config or a re-created endpoint); the endpoint is re-checked
through the control plane at most once per ``ttl_s``. While a new deployment loads, requests
keep using the previous one, so an UpdateEndpoint never fails requests in flight.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xgboost as xgb
from botocore.exceptions import ClientError

from local.sagemaker.errors import LocalSageMakerError, ModelLoadError
from local.sagemaker.serving import load_model_archive
from local.sagemaker.spec import split_s3_uri

logger = logging.getLogger(__name__)


class EndpointNotFound(LocalSageMakerError):
    """When InvokeEndpoint names an endpoint the control plane does not know."""


class VariantNotFound(LocalSageMakerError):
    """When TargetVariant names no production variant of the endpoint."""


@dataclass(frozen=True)
class Variant:
    """One production variant and the booster serving it."""

    name: str
    weight: float
    model_name: str
    artifact_uri: str
    booster: xgb.Booster


@dataclass
class Deployment:
    """What an endpoint serves right now."""

    endpoint_name: str
    key: tuple[str, str]
    variants: list[Variant]
    checked_at: float = field(default_factory=time.monotonic)

    def pick(self, target: str | None = None) -> Variant:
        """The TargetVariant, or a variant drawn by weight (like SageMaker's traffic split)."""
        if target:
            for variant in self.variants:
                if variant.name == target:
                    return variant
            raise VariantNotFound(target)
        if len(self.variants) == 1:
            return self.variants[0]
        weights = [max(v.weight, 0.0) for v in self.variants]
        if sum(weights) <= 0:
            return self.variants[0]
        return random.choices(self.variants, weights=weights, k=1)[0]


def deployment_key(endpoint: dict[str, Any], config_name: str | None = None) -> tuple[str, str]:
    """Identity of a deployment: endpoint config name and endpoint creation time."""
    return (config_name or endpoint["EndpointConfigName"], str(endpoint.get("CreationTime")))


class ArtifactCache:
    """Boosters by (S3 URI, ETag), least recently used evicted beyond ``max_items``."""

    def __init__(self, s3: Any, max_items: int = 16) -> None:
        self._s3 = s3
        self._max = max_items
        self._items: OrderedDict[tuple[str, str], xgb.Booster] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, uri: str) -> xgb.Booster:
        """Booster for ``uri``; downloads and loads only when the object is new or changed."""
        bucket, key = split_s3_uri(uri)
        try:
            etag = self._s3.head_object(Bucket=bucket, Key=key)["ETag"]
        except ClientError as exc:
            raise ModelLoadError(f"Could not find model data at {uri}: {exc}") from None
        cache_key = (uri, etag)
        with self._lock:
            booster = self._items.get(cache_key)
            if booster is not None:
                self._items.move_to_end(cache_key)
                return booster
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        booster = load_model_archive(body)
        with self._lock:
            self._items[cache_key] = booster
            self._items.move_to_end(cache_key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
            self.loads += 1
        logger.info("loaded model %s (etag %s)", uri, etag)
        return booster


def _is_not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in ("ValidationException", "ValidationError") and (
        "Could not find" in error.get("Message", "") or "not found" in error.get("Message", "")
    )


class Deployments:
    """Endpoint name -> Deployment, resolved through the SageMaker control plane."""

    def __init__(
        self,
        sagemaker: Any,
        artifacts: ArtifactCache,
        ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sm = sagemaker
        self._artifacts = artifacts
        self._ttl = ttl_s
        self._clock = clock
        self._current: dict[str, Deployment] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def get(self, name: str) -> Deployment:
        """Current deployment of ``name`` (EndpointNotFound, ModelLoadError).

        Only the first request of an endpoint waits for resolution; later ones are served from
        memory while a background thread re-checks the endpoint once per ``ttl_s``.
        """
        current = self._current.get(name)
        if current is not None:
            if self._clock() - current.checked_at >= self._ttl:
                lock = self._lock(name)
                if lock.acquire(blocking=False):
                    threading.Thread(
                        target=self._refresh_in_background, args=(name, lock), daemon=True
                    ).start()
            return current
        with self._lock(name):
            current = self._current.get(name)
            if current is not None:
                return current
            return self._refresh(name, None)

    def _refresh_in_background(self, name: str, lock: threading.Lock) -> None:
        try:
            self._refresh(name, self._current.get(name))
        except EndpointNotFound:
            logger.info("endpoint %s is gone", name)
        except Exception:
            logger.exception("re-checking endpoint %s failed; serving the current model", name)
            current = self._current.get(name)
            if current is not None:
                current.checked_at = self._clock()
        finally:
            lock.release()

    def _refresh(self, name: str, current: Deployment | None) -> Deployment:
        try:
            endpoint = self._sm.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            if _is_not_found(exc):
                self._current.pop(name, None)
                raise EndpointNotFound(name) from None
            raise
        if endpoint.get("EndpointStatus") in ("Creating", "Failed", "Deleting") and current is None:
            raise EndpointNotFound(name)
        key = deployment_key(endpoint)
        if current is not None and current.key == key:
            current.checked_at = self._clock()
            return current
        deployment = self.build(endpoint)
        self._current[name] = deployment
        return deployment

    def deploy(self, name: str, config_name: str) -> Deployment:
        """Load ``config_name`` for endpoint ``name`` now and serve it (UpdateEndpoint hook)."""
        endpoint = self._sm.describe_endpoint(EndpointName=name)
        deployment = self.build(endpoint, config_name)
        with self._lock(name):
            self._current[name] = deployment
        return deployment

    def forget(self, name: str) -> None:
        """Drop what is cached for ``name`` (endpoint created again or deleted)."""
        self._current.pop(name, None)

    def build(self, endpoint: dict[str, Any], config_name: str | None = None) -> Deployment:
        """Resolve config -> variants -> models -> boosters (ModelLoadError on failure)."""
        name = endpoint["EndpointName"]
        config_name = config_name or endpoint["EndpointConfigName"]
        config = self._sm.describe_endpoint_config(EndpointConfigName=config_name)
        variants = []
        for spec in config.get("ProductionVariants", []):
            uri = self.model_data_url(spec["ModelName"])
            variants.append(
                Variant(
                    name=spec["VariantName"],
                    weight=float(spec.get("InitialVariantWeight", 1.0)),
                    model_name=spec["ModelName"],
                    artifact_uri=uri,
                    booster=self._artifacts.get(uri),
                )
            )
        if not variants:
            raise ModelLoadError(f"Endpoint config {config_name} has no production variants")
        logger.info("endpoint %s now serves config %s", name, config_name)
        return Deployment(name, deployment_key(endpoint, config_name), variants, self._clock())

    def model_data_url(self, model_name: str) -> str:
        """ModelDataUrl of a model: PrimaryContainer, first of Containers, or its model package."""
        try:
            model = self._sm.describe_model(ModelName=model_name)
        except ClientError as exc:
            raise ModelLoadError(f"Could not find model {model_name}: {exc}") from None
        containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
        for container in containers:
            if container.get("ModelDataUrl"):
                return str(container["ModelDataUrl"])
            if container.get("ModelPackageName"):
                return self._package_data_url(container["ModelPackageName"])
        raise ModelLoadError(f"Model {model_name} has no ModelDataUrl or ModelPackageName")

    def _package_data_url(self, package: str) -> str:
        try:
            described = self._sm.describe_model_package(ModelPackageName=package)
        except ClientError as exc:
            raise ModelLoadError(f"Could not find model package {package}: {exc}") from None
        spec = described.get("InferenceSpecification") or {}
        for container in spec.get("Containers", []):
            if container.get("ModelDataUrl"):
                return str(container["ModelDataUrl"])
        raise ModelLoadError(f"Model package {package} has no ModelDataUrl")
