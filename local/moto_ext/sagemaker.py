"""Close moto's SageMaker control-plane gaps: real XGBoost training jobs and UpdateEndpoint.

``install()`` patches moto's SageMaker backend and response classes in-process, before the
moto server starts serving:

- CreateTrainingJob runs the built-in XGBoost algorithm (any ``.../sagemaker-xgboost:<ver>``
  image) in a child process: InProgress -> Completed | Failed | Stopped, with
  SecondaryStatusTransitions, FinalMetricDataList and ``model.tar.gz`` in the output path.
  Other images end as Failed with ``ClientError: ... not supported locally`` (AWS would run
  them; the local stack can only run XGBoost). Bad hyperparameters fail fast, like the
  container. StopTrainingJob and the ResourceInUse check on duplicate names work.
- UpdateEndpoint: InService -> Updating -> InService. During Updating, DescribeEndpoint shows
  ``PendingDeploymentSummary``; the runtime stand-in (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``)
  loads the new models before the switch, so requests in flight keep the old model until
  the new one is ready. If the new models cannot be loaded the endpoint stays InService on
  the old config with a FailureReason, as on AWS.
- ListModels filters (NameContains, creation times), sorts and pages, and answers
  ModelSummary items; moto returns every model as a full DescribeModel object.
- DescribeEndpoint answers ``DataCaptureConfig`` as AWS does: absent without data capture,
  else the summary (``CaptureStatus``, ``CurrentSamplingPercentage``...), not moto's copy of
  the endpoint config's request (``local.moto_ext.sagemaker_shapes`` shapes the other reads).
- Describe calls made by a botocore waiter (user agent feature ``B``) wait up to
  ``LOCAL_SAGEMAKER_WAITER_WAIT_S`` (default 50 s, under botocore's 60 s read timeout; 2 s
  when the server gives no request gate to step out of) for a transitional status to end, so the
  default waiter delays (120 s training, 30 s endpoints) do not stall a local run. Plain
  describe calls answer at once, so InProgress/Updating stay observable.

Environment variables
---------------------
LOCAL_SAGEMAKER_UPDATE_DELAY_S : minimum seconds an endpoint stays Updating (default 0.5).
LOCAL_SAGEMAKER_WAITER_WAIT_S : longest wait of a waiter's describe call (default 50).
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME : where the runtime stand-in listens (optional).

Persistence: jobs and endpoints live in moto's backends (pickled by ``local.moto_snapshot``);
``after_restore()`` restarts training jobs and finishes endpoint updates that were running
when the stack stopped.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker import models as sm_models
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.responses import SageMakerResponse

from local.sagemaker.errors import HyperparameterError
from local.sagemaker.hyperparameters import validate
from local.sagemaker.jobs import TrainingProcess, wait_until
from local.sagemaker.spec import TrainingSpec, channel_config

logger = logging.getLogger(__name__)

XGBOOST_IMAGE = re.compile(r"(^|/)sagemaker-xgboost(:|@|$)")
TERMINAL_JOB = frozenset({"Completed", "Failed", "Stopped"})
TRANSITIONAL_ENDPOINT = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
ENV_UPDATE_DELAY = "LOCAL_SAGEMAKER_UPDATE_DELAY_S"
ENV_WAITER_WAIT = "LOCAL_SAGEMAKER_WAITER_WAIT_S"
ENV_RUNTIME_URL = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"
GATE_KEY = "local.request_gate"
UNGATED_WAIT_S = 2.0
XGBOOST_METRIC_DEFINITIONS = [
    {
        "Name": f"{channel}:{metric}",
        "Regex": f".*\\[[0-9]+\\].*#011{channel}-{metric}:([-+]?[0-9]*\\.?[0-9]+)",
    }
    for channel in ("train", "validation")
    for metric in ("rmse", "mae", "logloss", "error", "auc", "aucpr", "mlogloss", "merror")
]

_installed = False
_shutting_down = False
_lock = threading.RLock()
_processes: dict[tuple[str, str, str], TrainingProcess] = {}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key(backend: Any, name: str) -> tuple[str, str, str]:
    return (backend.account_id, backend.region_name, name)


# --------------------------------------------------------------------------- training jobs


def _transition(job: Any, status: str, message: str) -> None:
    """Close the open SecondaryStatusTransition and open ``status``."""
    now = _now()
    transitions = job.secondary_status_transitions
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": message}
    if status in TERMINAL_JOB or status in ("MaxRuntimeExceeded", "Stopped"):
        entry["EndTime"] = now
    transitions.append(entry)
    job.secondary_status = status
    job.last_modified_time = now


def _finish(backend: Any, job: Any, result: dict[str, Any]) -> None:
    """Apply a training result (from the child process or a fail-fast check) to the job."""
    now = _now()
    with _lock:
        if _shutting_down:
            return  # the snapshot keeps the job InProgress; after_restore() runs it again
        if result.get("ok"):
            job.training_job_status = "Completed"
            job.final_metric_data_list = [
                {"MetricName": name, "Value": value, "Timestamp": now}
                for name, value in sorted(result.get("metrics", {}).items())
            ]
            job.model_artifacts = {"S3ModelArtifacts": result["artifact_uri"]}
            _transition(job, "Completed", "Training job completed")
        elif result.get("stopped"):
            job.training_job_status = "Stopped"
            secondary = result.get("secondary", "Stopped")
            message = (
                "Training job stopped: MaxRuntimeInSeconds exceeded"
                if secondary == "MaxRuntimeExceeded"
                else "Training job stopped"
            )
            _transition(job, secondary, message)
        else:
            job.training_job_status = "Failed"
            job.failure_reason = result.get("reason", "AlgorithmError: unknown error")
            _transition(job, "Failed", "Training job failed")
        job.training_end_time = now
        seconds = max(1, int((now - job.training_start_time).total_seconds()))
        job.training_time_in_seconds = job.billable_time_in_seconds = seconds
        _processes.pop(_key(backend, job.training_job_name), None)


def _fail_fast(backend: Any, job: Any, reason: str) -> None:
    _finish(backend, job, {"ok": False, "reason": reason})


def _start_job(backend: Any, job: Any, request: dict[str, Any], endpoint_url: str | None) -> None:
    """Validate like the XGBoost container, then train in a child process."""
    now = _now()
    job.training_job_status = "InProgress"
    job.secondary_status = "Starting"
    job.training_start_time = now
    job.training_end_time = None
    job.final_metric_data_list = []
    job.secondary_status_transitions = [
        {
            "Status": "Starting",
            "StartTime": now,
            "StatusMessage": "Preparing the instances for training",
        }
    ]
    image = (request.get("AlgorithmSpecification") or {}).get("TrainingImage") or ""
    job.algorithm_specification["MetricDefinitions"] = XGBOOST_METRIC_DEFINITIONS
    if not XGBOOST_IMAGE.search(image.split("/")[-1] if image else ""):
        _fail_fast(
            backend,
            job,
            f"ClientError: the local stack runs only the built-in XGBoost algorithm image "
            f"(.../sagemaker-xgboost:<version>); {image or 'this algorithm'} is not supported "
            "locally",
        )
        return
    has_validation = channel_config(request.get("InputDataConfig") or [], "validation") is not None
    try:
        validate(request.get("HyperParameters"), has_validation=has_validation)
    except HyperparameterError as exc:
        _fail_fast(backend, job, f"ClientError: {exc}")
        return
    spec = TrainingSpec.from_request(request, endpoint_url)

    def on_status(status: str, message: str) -> None:
        with _lock:
            if job.training_job_status == "InProgress":
                _transition(job, status, message)

    process = TrainingProcess(
        spec, backend.region_name, on_status, lambda result: _finish(backend, job, result)
    )
    _processes[_key(backend, job.training_job_name)] = process
    process.start()


def _create_training_job(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    request = dict(self.params)
    name = request.get("TrainingJobName")
    if name in backend.training_jobs:
        arn = backend.training_jobs[name].arn
        raise ResourceInUseException(
            "Training job names must be unique within an AWS account and region, and a "
            f"training job with this name already exists ({arn})"
        )
    result = _original["create_training_job"](self)
    job = backend.training_jobs[name]
    with _lock:
        _start_job(backend, job, request, _self_url(self))
    return result


def _self_url(response: SageMakerResponse) -> str | None:
    """Where the training process reaches moto: AWS_ENDPOINT_URL, else this request's host."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    host = response.headers.get("Host") or response.headers.get("host")
    return f"http://{host}" if host else None


def _from_waiter(response: SageMakerResponse) -> bool:
    """True when a botocore waiter sent the request (user agent metadata ``m/...B...``)."""
    agent = response.headers.get("User-Agent") or response.headers.get("user-agent") or ""
    return any(t.startswith("m/") and "B" in t[2:].split(",") for t in agent.split())


def _wait_for_waiter(response: SageMakerResponse, done: Any) -> None:
    """Hold a waiter's describe call until ``done()`` (bounded), outside the snapshot gate.

    The moto server puts its request gate in the WSGI environ (``local.request_gate``); we
    leave it while waiting so snapshots and other requests (the training process's S3 calls)
    are not held up. Without a gate the wait is kept short.
    """
    if not _from_waiter(response) or done():
        return
    gate = (getattr(response, "local_environ", None) or {}).get(GATE_KEY)
    limit = float(os.environ.get(ENV_WAITER_WAIT, "50"))
    if gate is None:
        wait_until(done, min(limit, UNGATED_WAIT_S))
        return
    gate.leave(False)
    try:
        wait_until(done, limit)
    finally:
        gate.enter()


def _describe_training_job(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("TrainingJobName")
    job = backend.training_jobs.get(name)
    if job is not None:
        _wait_for_waiter(self, lambda: job.training_job_status in TERMINAL_JOB)
    with _lock:
        return _original["describe_training_job"](self)


def _stop_training_job(self: SageMakerResponse) -> EmptyResult:
    backend = self.sagemaker_backend
    name = self._get_param("TrainingJobName")
    job = backend.training_jobs.get(name)
    if job is None:
        arn = sm_models.FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Requested resource not found: {arn}")
    with _lock:
        if job.training_job_status != "InProgress":
            raise ValidationError(
                message="The request was rejected because the training job is in status "
                f"{job.training_job_status}."
            )
        job.training_job_status = "Stopping"
        _transition(job, "Stopping", "Stopping the training job")
        process = _processes.get(_key(backend, name))
    if process is not None:
        process.stop()
    else:
        _finish(backend, job, {"ok": False, "stopped": True})
    return EmptyResult()


# --------------------------------------------------------------------------- endpoints


def _runtime_call(name: str, action: str, payload: dict[str, Any], timeout_s: float) -> str | None:
    """POST to the runtime stand-in; None on success or when it is not running, else an error."""
    base = os.environ.get(ENV_RUNTIME_URL)
    if not base:
        return None
    request = urllib.request.Request(
        f"{base.rstrip('/')}/_local/endpoints/{name}/{action}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return None
    except urllib.error.HTTPError as exc:
        try:
            return str(json.loads(exc.read()).get("message", exc.reason))
        except (ValueError, AttributeError):
            return str(exc.reason)
    except (urllib.error.URLError, OSError) as exc:
        logger.info("sagemaker runtime not reachable for %s %s: %s", action, name, exc)
        return None


def _forget_async(name: str) -> None:
    threading.Thread(target=_runtime_call, args=(name, "forget", {}, 5.0), daemon=True).start()


def _pending(backend: Any) -> dict[str, dict[str, Any]]:
    """Endpoint updates in progress, kept on the backend so a snapshot keeps them."""
    pending = getattr(backend, "local_pending_updates", None)
    if pending is None:
        pending = backend.local_pending_updates = {}
    return pending


def _pending_summary(backend: Any, endpoint: Any, pending: dict[str, Any]) -> dict[str, Any]:
    config = backend.endpoint_configs.get(pending["EndpointConfigName"])
    variants = []
    for spec in getattr(config, "production_variants", []) or []:
        variant: dict[str, Any] = {
            "VariantName": spec["VariantName"],
            "VariantStatus": [
                {
                    "Status": "Creating",
                    "StatusMessage": "Deploying the new model",
                    "StartTime": pending["StartTime"],
                }
            ],
        }
        if spec.get("InitialVariantWeight") is not None:
            variant["DesiredWeight"] = spec["InitialVariantWeight"]
        if spec.get("InitialInstanceCount") is not None:
            variant["DesiredInstanceCount"] = spec["InitialInstanceCount"]
        if spec.get("InstanceType"):
            variant["InstanceType"] = spec["InstanceType"]
        variants.append(variant)
    return {
        "EndpointConfigName": pending["EndpointConfigName"],
        "ProductionVariants": variants,
        "StartTime": pending["StartTime"],
    }


def _switch(backend: Any, endpoint: Any, config: Any) -> None:
    endpoint.endpoint_config_name = config.endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.endpoint_status = "InService"
    endpoint.failure_reason = None
    endpoint.last_modified_time = _now()


def _finish_update(backend: Any, name: str, config_name: str) -> None:
    """Load the new models in the runtime, then switch (or roll back with a FailureReason)."""
    time.sleep(float(os.environ.get(ENV_UPDATE_DELAY, "0.5")))
    error = None
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        error = f"Could not find endpoint configuration '{config_name}'."
    else:
        missing = [
            v["ModelName"]
            for v in config.production_variants
            if v.get("ModelName") not in backend._models
        ]
        if missing:
            error = f"Could not find model(s) {missing}."
    if error is None:
        error = _runtime_call(name, "deploy", {"EndpointConfigName": config_name}, 60.0)
    with _lock:
        endpoint = backend.endpoints.get(name)
        _pending(backend).pop(name, None)
        if endpoint is None:
            return
        if error is None and config is not None:
            _switch(backend, endpoint, config)
            logger.info("endpoint %s now uses config %s", name, config_name)
        else:
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = f"Failed to update endpoint to {config_name}: {error}"
            endpoint.last_modified_time = _now()
            logger.warning("update of endpoint %s failed: %s", name, error)


def _update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = sm_models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f'Could not find endpoint "{arn}".')
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        arn = sm_models.FakeEndpointConfig.arn_formatter(
            config_name, backend.account_id, backend.region_name
        )
        raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
    with _lock:
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = _now()
        _pending(backend)[name] = {"EndpointConfigName": config_name, "StartTime": _now()}
    threading.Thread(
        target=_finish_update, args=(backend, name, config_name), name=f"update-{name}", daemon=True
    ).start()
    return ActionResult({"EndpointArn": endpoint.arn})


def _data_capture_summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfigSummary from the endpoint config's DataCaptureConfig.

    AWS leaves the member out when the endpoint config has no data capture; moto would send
    the config's own (request-shaped) object, or ``{}``.
    """
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    return {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": str(config.get("DestinationS3Uri", "")),
        "KmsKeyId": str(config.get("KmsKeyId", "")),
    }


def _describe_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    endpoint = backend.endpoints.get(name)
    if endpoint is not None:
        _wait_for_waiter(self, lambda: endpoint.endpoint_status not in TRANSITIONAL_ENDPOINT)
    with _lock:
        described = dict(backend.describe_endpoint(name))
        capture = _data_capture_summary(described.pop("DataCaptureConfig", None))
        if capture is not None:
            described["DataCaptureConfig"] = capture
        pending = _pending(backend).get(name)
        if pending is not None and endpoint is not None:
            described["PendingDeploymentSummary"] = _pending_summary(backend, endpoint, pending)
    return ActionResult(described)


def _create_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    if name in backend.endpoints:
        arn = backend.endpoints[name].arn
        raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
    result = _original["create_endpoint"](self)
    _forget_async(name)
    return result


def _delete_endpoint(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("EndpointName")
    result = _original["delete_endpoint"](self)
    with _lock:
        _pending(self.sagemaker_backend).pop(name, None)
    _forget_async(name)
    return result


# --------------------------------------------------------------------------- model listing

LIST_MODELS_MAX = 100


def _list_models(self: SageMakerResponse) -> ActionResult:
    """ListModels with its filters, order and pages, answering ModelSummary items.

    moto returns every model, unfiltered and unpaged, as full DescribeModel objects.
    """
    name_contains = (self._get_param("NameContains") or "").lower()
    after, before = self._get_param("CreationTimeAfter"), self._get_param("CreationTimeBefore")
    sort_by = self._get_param("SortBy") or "CreationTime"
    order = self._get_param("SortOrder") or "Descending"
    size = self._get_int_param("MaxResults") or LIST_MODELS_MAX
    if sort_by not in ("Name", "CreationTime") or order not in ("Ascending", "Descending"):
        raise ValidationError(message=f"Invalid SortBy {sort_by!r} or SortOrder {order!r}")
    if not 1 <= size <= LIST_MODELS_MAX:
        raise ValidationError(message=f"Value '{size}' at 'maxResults' failed to satisfy "
                              f"constraint: Member must have value less than or equal to "
                              f"{LIST_MODELS_MAX}")
    models = [m for m in self.sagemaker_backend.list_models()
              if name_contains in m.model_name.lower()
              and (after is None or m.creation_time > _timestamp(after))
              and (before is None or m.creation_time < _timestamp(before))]
    key = (lambda m: m.model_name) if sort_by == "Name" else (lambda m: m.creation_time)
    models.sort(key=key, reverse=order == "Descending")
    token = self._get_param("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ValidationError(message="Invalid pagination token") from None
    page = models[start:start + size]
    result: dict[str, Any] = {"Models": [
        {"ModelName": m.model_name, "ModelArn": m.arn, "CreationTime": m.creation_time}
        for m in page]}
    if start + size < len(models):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _timestamp(value: Any) -> Any:
    """A request's time filter (epoch seconds or ISO text) as the models' creation times."""
    if isinstance(value, int | float) or str(value).replace(".", "", 1).isdigit():
        return dt.datetime.fromtimestamp(float(value), dt.UTC).replace(tzinfo=None)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)


# --------------------------------------------------------------------------- registry deletes


def _delete_model_package(self: SageMakerResponse) -> EmptyResult:
    """DeleteModelPackage (moto 5.2 lacks it): by name or ARN; unknown -> ValidationException."""
    backend = self.sagemaker_backend
    name = self._get_param("ModelPackageName")
    arn = backend.model_package_name_mapping.get(name, name)
    if backend.model_packages.pop(arn, None) is None:
        raise ValidationError(message=f"Model package {name} not found")
    for key in [k for k, v in backend.model_package_name_mapping.items() if v == arn]:
        del backend.model_package_name_mapping[key]
    return EmptyResult()


def _delete_model_package_group(self: SageMakerResponse) -> EmptyResult:
    """DeleteModelPackageGroup (moto 5.2 lacks it): only an empty group, as on AWS."""
    backend = self.sagemaker_backend
    name = self._get_param("ModelPackageGroupName").rsplit("/", 1)[-1]
    if name not in backend.model_package_groups:
        raise ValidationError(message=f"ModelPackageGroup {name} does not exist.")
    if any(p.model_package_group_name == name for p in backend.model_packages.values()):
        raise ValidationError(message=f"Model Package Group {name} contains model packages: "
                                      "delete them first.")
    del backend.model_package_groups[name]
    return EmptyResult()


def _backends() -> list[Any]:
    found = []
    for regions in list(sm_models.sagemaker_backends.values()):
        found.extend(list(regions.values()))
    return found


def after_restore() -> None:
    """Resume what was running when the stack stopped (called before moto serves again)."""
    for backend in _backends():
        for job in list(backend.training_jobs.values()):
            status = getattr(job, "training_job_status", None)
            if status == "Stopping":
                _finish(backend, job, {"ok": False, "stopped": True})
            elif status == "InProgress":
                logger.info(
                    "restarting training job %s after a stack restart", job.training_job_name
                )
                request = {
                    "TrainingJobName": job.training_job_name,
                    "HyperParameters": job.hyper_parameters,
                    "AlgorithmSpecification": job.algorithm_specification,
                    "InputDataConfig": job.input_data_config,
                    "OutputDataConfig": job.output_data_config,
                    "StoppingCondition": job.stopping_condition,
                }
                _start_job(backend, job, request, os.environ.get("AWS_ENDPOINT_URL"))
        for name, pending in list(_pending(backend).items()):
            threading.Thread(
                target=_finish_update,
                args=(backend, name, pending["EndpointConfigName"]),
                daemon=True,
            ).start()


def _setup_class(self: SageMakerResponse, request: Any, *args: Any, **kwargs: Any) -> Any:
    """moto keeps no request object: remember the WSGI environ (for the request gate)."""
    self.local_environ = getattr(request, "environ", None)
    return _original["setup_class"](self, request, *args, **kwargs)


_original: dict[str, Any] = {}
_PATCHES = {
    "setup_class": _setup_class,
    "create_training_job": _create_training_job,
    "describe_training_job": _describe_training_job,
    "stop_training_job": _stop_training_job,
    "update_endpoint": _update_endpoint,
    "describe_endpoint": _describe_endpoint,
    "create_endpoint": _create_endpoint,
    "delete_endpoint": _delete_endpoint,
    "delete_model_package": _delete_model_package,
    "delete_model_package_group": _delete_model_package_group,
    "list_models": _list_models,
}


def _stop_children() -> None:
    """At interpreter exit: end the training processes (they restart after the restore)."""
    global _shutting_down
    with _lock:
        _shutting_down = True
        processes = list(_processes.values())
    for process in processes:
        process.stop()


def install() -> None:
    """Patch moto's SageMaker classes in this process (idempotent)."""
    global _installed
    if _installed:
        return
    atexit.register(_stop_children)
    for name, patch in _PATCHES.items():
        original = getattr(SageMakerResponse, name, None)
        if original is not None:
            _original[name] = original
        setattr(SageMakerResponse, name, patch)
    _installed = True
    logger.info("local SageMaker extensions installed (training jobs, UpdateEndpoint)")
