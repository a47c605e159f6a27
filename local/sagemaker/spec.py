"""What a training job needs from its CreateTrainingJob request (standard library only).

Kept apart from ``training`` so the moto process can import it without numpy or xgboost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from local.sagemaker.errors import ChannelError


@dataclass(frozen=True)
class TrainingSpec:
    """What the training process needs from the CreateTrainingJob request."""

    name: str
    hyperparameters: dict[str, str]
    channels: list[dict[str, Any]]
    output_path: str
    max_runtime_s: int = 86_400
    endpoint_url: str | None = None

    @classmethod
    def from_request(cls, request: Mapping[str, Any], endpoint_url: str | None) -> TrainingSpec:
        """Build the spec from CreateTrainingJob parameters."""
        stopping = request.get("StoppingCondition") or {}
        return cls(
            name=request["TrainingJobName"],
            hyperparameters=dict(request.get("HyperParameters") or {}),
            channels=list(request.get("InputDataConfig") or []),
            output_path=request["OutputDataConfig"]["S3OutputPath"],
            max_runtime_s=int(stopping.get("MaxRuntimeInSeconds") or 86_400),
            endpoint_url=endpoint_url,
        )

    @property
    def artifact_uri(self) -> str:
        """Where SageMaker puts the model: ``<output>/<job>/output/model.tar.gz``."""
        return f"{self.output_path.rstrip('/')}/{self.name}/output/model.tar.gz"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ChannelError(f"Not an S3 URI: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def channel_config(channels: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The InputDataConfig entry of channel ``name``, if present."""
    for channel in channels:
        if channel.get("ChannelName") == name:
            return channel
    return None
