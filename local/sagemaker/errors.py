"""Errors of the local SageMaker stand-in, one per failing stage."""

from __future__ import annotations


class LocalSageMakerError(Exception):
    """When the local SageMaker stand-in cannot do what was asked (base class)."""


class HyperparameterError(LocalSageMakerError):
    """When a training job's hyperparameters break the built-in XGBoost rules."""


class ChannelError(LocalSageMakerError):
    """When a training channel is missing, empty or not readable."""


class ServingError(LocalSageMakerError):
    """When a stage of the serving contract fails; carries the container's HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ModelLoadError(ServingError):
    """When the model artifact cannot be downloaded, unpacked or loaded (container 500)."""

    def __init__(self, message: str) -> None:
        super().__init__(500, message)
