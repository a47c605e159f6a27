"""The SageMaker Python SDK (v3 core package ``sagemaker-core``) as the batch scripts use it.

The scripts of steps 2 and 8 read ``image_uris.retrieve`` and the typed resources
(``TrainingJob``, ``Model``, ``EndpointConfig``, ``Endpoint``, ``ModelPackageGroup``,
``ModelPackage``) from here. This module holds what the SDK needs around it, in one place:

- **Lazy import.** The SDK is imported on first use, never at module level: the code of the
  pipeline's processing steps (``pipeline_step.py`` and what it imports) runs in SageMaker's
  XGBoost image, which has no SDK.
- **One client, the caller's.** The SDK's resources call AWS through one process-wide
  ``SageMakerClient``. :func:`bind` hands it the boto3 client the script already has, so
  endpoints (``AWS_ENDPOINT_URL``...), credentials, retries and test doubles are exactly the
  caller's. The SDK never builds a client of its own, so nothing it does can bypass the local
  stack (no STS call, no ``default_bucket()``), and the course's ``SAGEMAKER_ENDPOINT`` (the
  endpoint *name*) is never read as a URL, which sagemaker-core 2.13 to 2.17 do.
- **Quiet import.** Importing the SDK configures the root logger (a rich handler at INFO) and
  installs rich tracebacks; both are undone here: the CLIs print their own progress lines.
  It also builds a default JumpStart session, whose clients look for credentials; without
  any in the environment botocore would ask the EC2 instance metadata service, so that
  lookup is switched off for the import only (our own clients are not affected).

``python sagemaker/sagemaker_sdk.py`` prints which SDK the scripts use and where it lives.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

#: The distribution the scripts need (``sagemaker/requirements.txt`` pins its version).
DISTRIBUTION = "sagemaker-core"
#: The SDK's loggers: WARNING unless the application set a level (they say INFO a lot).
SDK_LOGGERS = ("sagemaker", "sagemaker.config", "sagemaker.core")
ENV_IMDS_DISABLED = "AWS_EC2_METADATA_DISABLED"

_modules: dict[str, ModuleType] = {}


def _import(name: str) -> ModuleType:
    """Import an SDK module, undoing the logging and traceback set-up of its import."""
    module = _modules.get(name)
    if module is not None:
        return module
    root = logging.getLogger()
    handlers, level, excepthook = list(root.handlers), root.level, sys.excepthook
    imds = os.environ.get(ENV_IMDS_DISABLED)
    os.environ[ENV_IMDS_DISABLED] = "true"
    for logger_name in SDK_LOGGERS:
        logger = logging.getLogger(logger_name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    try:
        module = importlib.import_module(name)
    finally:
        if imds is None:
            os.environ.pop(ENV_IMDS_DISABLED, None)
        else:
            os.environ[ENV_IMDS_DISABLED] = imds
        root.handlers[:] = handlers
        root.setLevel(level)
        sys.excepthook = excepthook
    _modules[name] = module
    return module


def resources() -> ModuleType:
    """``sagemaker.core.resources``: TrainingJob, Model, Endpoint, ModelPackage, ..."""
    return _import("sagemaker.core.resources")


def shapes() -> ModuleType:
    """``sagemaker.core.shapes.shapes``: the API's request and response shapes.

    Not the package ``sagemaker.core.shapes``: it also star-imports the model-card shapes,
    whose ``InferenceSpecification`` (containers only) hides the API's.
    """
    return _import("sagemaker.core.shapes.shapes")


def image_uris() -> ModuleType:
    """``sagemaker.core.image_uris`` (``retrieve("xgboost", region, "1.7-1")``)."""
    return _import("sagemaker.core.image_uris")


def bind(client: Any) -> None:
    """Make the SDK's resources call AWS through ``client`` (a boto3 SageMaker client).

    sagemaker-core keeps one ``SageMakerClient`` per process and creates it from its own
    boto3 session on first use; here it is created around the caller's client instead.
    """
    utils = _import("sagemaker.core.utils.utils")
    holder = utils.SageMakerClient
    meta = getattr(utils, "SingletonMeta", None)
    if meta is None or not isinstance(holder, meta):
        raise RuntimeError(
            f"{DISTRIBUTION} {version()} keeps its SageMaker clients differently from 2.12: "
            "update sagemaker_sdk.bind() before upgrading the pinned version"
        )
    current = meta._instances.get(holder)
    if current is not None and current.sagemaker_client is client:
        return
    instance = object.__new__(holder)
    instance.session = None
    instance.region_name = client.meta.region_name
    instance.config = client.meta.config
    instance.sagemaker_client = client
    meta._instances[holder] = instance


def to_dict(resource: Any) -> dict[str, Any]:
    """A typed resource as the Describe* dictionary of the API (PascalCase keys)."""
    utils = _import("sagemaker.core.utils.utils")
    value = utils.serialize(resource)
    return dict(value) if isinstance(value, Mapping) else {}


def is_set(value: Any) -> bool:
    """False for the SDK's ``Unassigned()`` marker (a field the response did not have)."""
    return value is not None and type(value).__name__ != "Unassigned"


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version(DISTRIBUTION)


def main() -> int:
    from taximl.config import Settings

    package = _import("sagemaker")
    core = _import("sagemaker.core")
    region = Settings.from_env().region
    print(f"{DISTRIBUTION} {version()}")
    print(f"sagemaker      : {', '.join(package.__path__)}")
    print(f"sagemaker.core : {core.__file__}")
    print(f"xgboost image  : {image_uris().retrieve('xgboost', region, '1.7-1')} ({region})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
