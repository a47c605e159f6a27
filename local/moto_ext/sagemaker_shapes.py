"""SageMaker Describe*/List* answers in the shapes of the API, so that typed clients parse them.

moto builds its SageMaker responses from its own objects and sends a few things AWS does not:

- an optional structure it has no value for as an empty object: ``DataCaptureConfig: {}`` in
  DescribeEndpoint and DescribeEndpointConfig when data capture is off. AWS leaves such a
  member out; a client that types the response (the SageMaker Python SDK's resources) rejects
  an empty object whose shape has required members (``EnableCapture``, ``CaptureStatus``...).
- DescribeModelPackage of a versioned package without ``ModelPackageName``, which the API
  marks as always present; for a version AWS gives its group's name there.

``install()`` wraps the Describe*/List* handlers of moto's ``SageMakerResponse``: after the
handler, every empty structure whose shape has required members is removed (walking the
botocore output shape, at any depth), and ``ModelPackageName`` is filled in. Handlers already
patched by ``local.moto_ext.sagemaker`` (loaded first, by name order) are wrapped as patched.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape
from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse

logger = logging.getLogger(__name__)

READ_PREFIXES = ("describe_", "list_")

_installed = False


def _operation_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


def prune(value: Any, shape: Shape | None) -> Any:
    """``value`` without the empty structures that ``shape`` says cannot be empty."""
    if shape is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        pruned: dict[str, Any] = {}
        for name, member in value.items():
            member_shape = shape.members.get(name)
            if (
                isinstance(member_shape, StructureShape)
                and member == {}
                and member_shape.required_members
            ):
                continue
            pruned[name] = prune(member, member_shape)
        return pruned
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [prune(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: prune(item, shape.value) for key, item in value.items()}
    return value


def _complete_model_package(described: dict[str, Any]) -> None:
    if "ModelPackageName" not in described and described.get("ModelPackageGroupName"):
        described["ModelPackageName"] = described["ModelPackageGroupName"]


def _shaped(method: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    operation = _operation_name(method)

    @functools.wraps(handler)
    def wrapper(self: SageMakerResponse, *args: Any, **kwargs: Any) -> Any:
        result = handler(self, *args, **kwargs)
        if not isinstance(result, ActionResult) or not isinstance(result.result, dict):
            return result
        body = dict(result.result)
        if operation == "DescribeModelPackage":
            _complete_model_package(body)
        output = _output_shape(operation)
        return ActionResult(prune(body, output))

    return wrapper


@functools.cache
def _output_shape(operation: str) -> Shape | None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    try:
        return model.operation_model(operation).output_shape
    except Exception:  # an operation botocore does not know: leave the answer as it is
        return None


def install() -> None:
    """Wrap moto's SageMaker read handlers (idempotent)."""
    global _installed
    if _installed:
        return
    count = 0
    for method in sorted(vars(SageMakerResponse)):
        if method.startswith(READ_PREFIXES) and callable(getattr(SageMakerResponse, method)):
            setattr(SageMakerResponse, method, _shaped(method, getattr(SageMakerResponse, method)))
            count += 1
    _installed = True
    logger.info("SageMaker read answers shaped like the API (%d handlers)", count)
