"""The Lambda stand-in's operations: functions, invocations and Kinesis event source mappings.

Inputs and outputs are the REST-JSON bodies of the Lambda API (dicts); errors are
:class:`.errors.LambdaApiError`. HTTP routing lives in ``local/services/lambda_service.py``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from . import settings
from .checkpoints import CheckpointStore
from .destinations import Destinations
from .errors import (
    InvalidParameterError,
    InvalidRequestContentError,
    RequestTooLargeError,
    ResourceConflictError,
    ResourceInUseError,
    ResourceNotFoundError,
)
from .esm import MappingRunner, stream_name_of
from .kinesis import KinesisClient, KinesisError
from .metrics import MetricsPublisher
from .runner import FunctionSpec, InvokeResult, Runner, TooManyRequests
from .store import ACCOUNT_ID, REGION, Store, function_arn, public

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
ARN_NAME_RE = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?([a-zA-Z0-9-_]{1,64})"
    r"(?::(\$LATEST|[a-zA-Z0-9-_]+))?$")
PARTIAL_ARN_RE = re.compile(r"^\d{12}:function:([a-zA-Z0-9-_]{1,64})$")
ROLE_RE = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
KINESIS_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[\w.-]{1,128}$")
DEST_RE = re.compile(r"^arn:aws[a-zA-Z-]*:(sqs|sns|s3):")
RESERVED_ENV = {"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
                "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
                "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
                "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}
MAX_INVOKE_PAYLOAD = 6 * 1024 * 1024
TAIL_BYTES = 4096


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _int_param(body: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = body.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidParameterError(
            f"1 validation error detected: Value '{value}' at '{key[0].lower() + key[1:]}' "
            f"failed to satisfy constraint: Member must have value between {lo} and {hi}")
    return value


class LambdaBackend:
    """Functions, their execution environments and event source mappings."""

    def __init__(self, state_dir: Path, logs_dir: Path, base_url: str = "") -> None:
        self.state_dir = state_dir
        self.logs_dir = logs_dir
        self.base_url = base_url
        self.store = Store(state_dir)
        self.runner = Runner()
        self.destinations = Destinations(REGION)
        self._lock = threading.RLock()
        self._mappings: dict[str, MappingRunner] = {}
        self.metrics = MetricsPublisher(self.mapping_status, REGION)

    # lifecycle
    def start(self) -> None:
        """Install every stored function and restart the enabled mappings."""
        for record in self.store.functions():
            self.runner.configure(self._spec(record))
        for mapping in self.store.mappings():
            if mapping["State"] == "Deleting":
                self._finish_delete(mapping["UUID"])
                continue
            self._apply_mapping(mapping["UUID"])
        self.metrics.start()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop pollers (checkpoints saved), then the workers."""
        with self._lock:
            runners = list(self._mappings.values())
            self._mappings.clear()
        for runner in runners:
            runner.stop_event.set()
        for runner in runners:
            runner.stop(timeout)
        self.metrics.stop()
        try:
            self.metrics.publish()
        except Exception as exc:
            log.info("final metrics not published: %s", exc)
        self.runner.shutdown()

    # names
    def resolve_name(self, name_or_arn: str) -> str:
        """Function name from a name, an ARN or a partial ARN (qualifier $LATEST only)."""
        m = PARTIAL_ARN_RE.match(name_or_arn)
        if m:
            return m.group(1)
        m = ARN_NAME_RE.match(name_or_arn or "")
        if not m:
            raise InvalidParameterError(
                f"1 validation error detected: Value '{name_or_arn}' at 'functionName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern")
        if m.group(2) not in (None, "$LATEST"):
            raise ResourceNotFoundError(
                f"Function not found: {function_arn(m.group(1))}:{m.group(2)}")
        return m.group(1)

    def _log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def _spec(self, record: dict[str, Any]) -> FunctionSpec:
        name = record["FunctionName"]
        return FunctionSpec(
            name=name, arn=record["FunctionArn"], handler=record["Handler"],
            code_dir=self.store.code.code_dir(name, record["_CodeDigest"]),
            memory_mb=record["MemorySize"], timeout_s=record["Timeout"],
            env=dict((record.get("Environment") or {}).get("Variables") or {}),
            generation=record["RevisionId"], log_path=self._log_path(name),
            runtime=record["Runtime"])

    # functions
    def _code_bytes(self, code: dict[str, Any]) -> bytes:
        if code.get("ZipFile") is not None:
            try:
                return base64.b64decode(code["ZipFile"], validate=True)
            except (binascii.Error, TypeError) as exc:
                raise InvalidParameterError("ZipFile is not valid base64") from exc
        if code.get("S3Bucket") and code.get("S3Key"):
            s3 = boto3.session.Session().client("s3", region_name=REGION)
            kwargs: dict[str, Any] = {"Bucket": code["S3Bucket"], "Key": code["S3Key"]}
            if code.get("S3ObjectVersion"):
                kwargs["VersionId"] = code["S3ObjectVersion"]
            try:
                return s3.get_object(**kwargs)["Body"].read()
            except Exception as exc:
                raise InvalidParameterError(
                    f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error "
                    f"Message: {exc}") from exc
        if code.get("ImageUri"):
            raise InvalidParameterError("Container images are not supported by the local stack")
        raise InvalidParameterError("Please provide a source for function code.")

    def _check_config(self, body: dict[str, Any], record: dict[str, Any]) -> None:
        if "Runtime" in body:
            runtime = body["Runtime"]
            if not isinstance(runtime, str) or not re.match(r"^python3\.\d+$", runtime):
                raise InvalidParameterError(
                    f"The runtime parameter of {runtime} is not supported by the local stack "
                    "(python3.x only).")
            record["Runtime"] = runtime
        if "Role" in body:
            role = body["Role"]
            if not isinstance(role, str) or not ROLE_RE.match(role):
                raise InvalidParameterError(
                    f"1 validation error detected: Value '{role}' at 'role' failed to satisfy "
                    "constraint: Member must satisfy regular expression pattern: "
                    "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")
            if settings.current().check_role:
                self._check_role_exists(role)
            record["Role"] = role
        if "Handler" in body:
            handler = body["Handler"]
            if not isinstance(handler, str) or not re.match(r"^[^\s]{1,128}$", handler):
                raise InvalidParameterError(f"Invalid handler: {handler!r}")
            record["Handler"] = handler
        if "Timeout" in body:
            record["Timeout"] = _int_param(body, "Timeout", 3, 1, 900)
        if "MemorySize" in body:
            record["MemorySize"] = _int_param(body, "MemorySize", 128, 128, 10240)
        if "Description" in body:
            record["Description"] = str(body["Description"] or "")
        if "Environment" in body:
            variables = (body.get("Environment") or {}).get("Variables") or {}
            reserved = sorted(set(variables) & RESERVED_ENV)
            if reserved:
                raise InvalidParameterError(
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided contains reserved keys that are "
                    "currently not supported for modification. Reserved keys used in this "
                    f"request: {','.join(reserved)}")
            record["Environment"] = {"Variables": {str(k): str(v) for k, v in variables.items()}}

    def _check_role_exists(self, role: str) -> None:
        iam = boto3.session.Session().client("iam", region_name=REGION)
        try:
            iam.get_role(RoleName=role.rsplit("/", 1)[-1])
        except iam.exceptions.NoSuchEntityException as exc:
            raise InvalidParameterError(
                "The role defined for the function cannot be assumed by Lambda.") from exc

    def create_function(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("FunctionName")
        if not isinstance(name, str):
            raise InvalidParameterError("FunctionName is required")
        name = self.resolve_name(name)
        if body.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterError("Only Zip packages are supported by the local stack")
        for key in ("Role", "Handler", "Runtime"):
            if not body.get(key):
                raise InvalidParameterError(f"{key} is required for .zip file archive functions")
        record: dict[str, Any] = {
            "FunctionName": name, "FunctionArn": function_arn(name), "Description": "",
            "Timeout": 3, "MemorySize": 128, "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"}, "PackageType": "Zip",
            "Architectures": body.get("Architectures") or ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}}
        self._check_config(body, record)
        zip_bytes = self._code_bytes(body.get("Code") or {})
        with self._lock:
            if self.store.has_function(name):
                raise ResourceConflictError(f"Function already exist: {name}")
            digest, _ = self.store.code.put(name, zip_bytes)
            self._set_code(record, digest, zip_bytes)
            record.update(State="Active", LastUpdateStatus="Successful",
                          RevisionId=str(uuid.uuid4()), LastModified=_now_iso())
            self.store.put_function(record)
            self.runner.configure(self._spec(record))
        return dict(public(record), State="Pending", StateReason="The function is being created.",
                    StateReasonCode="Creating")

    @staticmethod
    def _set_code(record: dict[str, Any], digest: str, zip_bytes: bytes) -> None:
        record["_CodeDigest"] = digest
        record["CodeSha256"] = base64.b64encode(bytes.fromhex(digest)).decode()
        record["CodeSize"] = len(zip_bytes)

    def get_function_configuration(self, name: str) -> dict[str, Any]:
        return public(self.store.function(self.resolve_name(name)))

    def get_function(self, name: str) -> dict[str, Any]:
        record = self.store.function(self.resolve_name(name))
        location = f"{self.base_url}/_code/{record['FunctionName']}/{record['_CodeDigest']}.zip"
        return {"Configuration": public(record),
                "Code": {"RepositoryType": "S3", "Location": location}}

    def code_zip(self, name: str, digest: str) -> Path:
        path = self.store.code.zip_path(name, digest)
        if not re.match(r"^[0-9a-f]{64}$", digest) or not path.is_file():
            raise ResourceNotFoundError("Code not found")
        return path

    def list_functions(self, marker: str | None, max_items: int | None) -> dict[str, Any]:
        functions = [public(r) for r in self.store.functions()]
        start = int(marker) if marker and marker.isdigit() else 0
        size = max_items or 50
        page = functions[start:start + size]
        out: dict[str, Any] = {"Functions": page}
        if start + size < len(functions):
            out["NextMarker"] = str(start + size)
        return out

    def _update(self, name: str, change: Any) -> dict[str, Any]:
        with self._lock:
            record = self.store.function(self.resolve_name(name))
            change(record)
            record.update(RevisionId=str(uuid.uuid4()), LastModified=_now_iso(),
                          LastUpdateStatus="Successful")
            self.store.put_function(record)
            self.runner.configure(self._spec(record))
        return dict(public(record), LastUpdateStatus="InProgress",
                    LastUpdateStatusReason="The function is being created.",
                    LastUpdateStatusReasonCode="Creating")

    def update_function_code(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("DryRun"):
            return self.get_function_configuration(name)
        zip_bytes = self._code_bytes(body)
        fn = self.resolve_name(name)
        self.store.function(fn)

        def change(record: dict[str, Any]) -> None:
            digest, _ = self.store.code.put(fn, zip_bytes)
            self._set_code(record, digest, zip_bytes)
        return self._update(fn, change)

    def update_function_configuration(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._update(name, lambda record: self._check_config(body, record))

    def delete_function(self, name: str) -> None:
        fn = self.resolve_name(name)
        with self._lock:
            self.store.function(fn)
            self.store.delete_function(fn)
            self.runner.remove(fn)
            self.store.code.delete(fn)

    # invoke
    def invoke(self, name: str, payload: bytes, invocation_type: str = "RequestResponse",
               tail: bool = False) -> tuple[int, InvokeResult | None, str | None]:
        """Returns (HTTP status, result or None for Event/DryRun, base64 log tail or None)."""
        fn = self.resolve_name(name)
        record = self.store.function(fn)
        if len(payload) > MAX_INVOKE_PAYLOAD:
            raise RequestTooLargeError(
                f"{len(payload)} byte payload is too large for the {invocation_type} invocation "
                f"type (limit {MAX_INVOKE_PAYLOAD} bytes)")
        if payload.strip():
            try:
                json.loads(payload)
            except ValueError as exc:
                raise InvalidRequestContentError(
                    f"Could not parse request body into json: {exc}") from exc
        if record.get("State") != "Active":
            raise ResourceConflictError(
                f"The operation cannot be performed at this time. The function is currently "
                f"in the following state: {record.get('State')}")
        if invocation_type == "DryRun":
            return 204, None, None
        if invocation_type == "Event":
            threading.Thread(target=self._invoke_async, args=(fn, payload), daemon=True).start()
            return 202, None, None
        if invocation_type != "RequestResponse":
            raise InvalidParameterError(f"Unsupported InvocationType {invocation_type}")
        try:
            result = self.runner.invoke(fn, payload)
        except TooManyRequests as exc:
            raise ResourceConflictError(str(exc)) from exc
        except KeyError as exc:
            raise ResourceNotFoundError(f"Function not found: {function_arn(fn)}") from exc
        log_tail = self._log_tail(fn, result.request_id) if tail else None
        return 200, result, log_tail

    def _invoke_async(self, fn: str, payload: bytes) -> None:
        for _ in range(3):  # async invocations: two retries on function errors
            try:
                if self.runner.invoke(fn, payload).ok:
                    return
            except (KeyError, TooManyRequests):
                return

    def _log_tail(self, fn: str, request_id: str) -> str:
        try:
            with open(self._log_path(fn), "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 256 * 1024))
                text = fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        start = text.rfind(f"START RequestId: {request_id}")
        end = text.find("\n", text.find(f"REPORT RequestId: {request_id}", max(start, 0)))
        block = text[start:end + 1] if start >= 0 else ""
        return base64.b64encode(block.encode()[-TAIL_BYTES:]).decode()

    # event source mappings
    def _mapping_view(self, record: dict[str, Any]) -> dict[str, Any]:
        view = public(record)
        with self._lock:
            runner = self._mappings.get(record["UUID"])
        if runner is not None:
            results = [s["last_result"] for s in runner.status()["shards"].values()]
            if any(r.startswith("PROBLEM") for r in results):
                view["LastProcessingResult"] = next(r for r in results if r.startswith("PROBLEM"))
            elif "OK" in results:
                view["LastProcessingResult"] = "OK"
        return view

    def _validate_mapping(self, body: dict[str, Any], record: dict[str, Any],
                          creating: bool) -> None:
        if "FunctionName" in body or creating:
            fn = self.resolve_name(str(body.get("FunctionName") or ""))
            self.store.function(fn)
            record["FunctionArn"] = function_arn(fn)
        if creating:
            arn = body.get("EventSourceArn")
            if not isinstance(arn, str) or not arn:
                raise InvalidParameterError("EventSourceArn is required")
            if not KINESIS_ARN_RE.match(arn):
                raise InvalidParameterError(
                    f"Unsupported event source {arn}: the local stack maps Kinesis streams "
                    "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)")
            try:
                KinesisClient(region=arn.split(":")[3]).describe_summary(stream_name_of(arn))
            except KinesisError as exc:
                raise InvalidParameterError(f"Stream not found: {arn}") from exc
            except OSError as exc:
                raise InvalidParameterError(f"Kinesis is unreachable: {exc}") from exc
            record["EventSourceArn"] = arn
            position = body.get("StartingPosition")
            if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
                raise InvalidParameterError(
                    "StartingPosition is required for Kinesis event sources and must be one of "
                    "TRIM_HORIZON, LATEST, AT_TIMESTAMP")
            record["StartingPosition"] = position
            if position == "AT_TIMESTAMP":
                ts = body.get("StartingPositionTimestamp")
                if ts is None:
                    raise InvalidParameterError(
                        "StartingPositionTimestamp is required when StartingPosition is "
                        "AT_TIMESTAMP")
                record["StartingPositionTimestamp"] = _epoch(ts)
        if "BatchSize" in body or creating:
            record["BatchSize"] = _int_param(body, "BatchSize", 100, 1, 10000)
        if "MaximumBatchingWindowInSeconds" in body or creating:
            record["MaximumBatchingWindowInSeconds"] = _int_param(
                body, "MaximumBatchingWindowInSeconds", 0, 0, 300)
        if "ParallelizationFactor" in body or creating:
            record["ParallelizationFactor"] = _int_param(body, "ParallelizationFactor", 1, 1, 10)
        if "MaximumRetryAttempts" in body or creating:
            record["MaximumRetryAttempts"] = _int_param(body, "MaximumRetryAttempts", -1, -1,
                                                        10000)
        if "MaximumRecordAgeInSeconds" in body or creating:
            age = _int_param(body, "MaximumRecordAgeInSeconds", -1, -1, 604800)
            low = settings.current().min_record_age_s
            if age != -1 and age < low:
                raise InvalidParameterError(
                    f"MaximumRecordAgeInSeconds must be -1 or between {low} and 604800")
            record["MaximumRecordAgeInSeconds"] = age
        if "BisectBatchOnFunctionError" in body or creating:
            record["BisectBatchOnFunctionError"] = bool(body.get("BisectBatchOnFunctionError"))
        if "FunctionResponseTypes" in body or creating:
            types = body.get("FunctionResponseTypes") or []
            if any(t != "ReportBatchItemFailures" for t in types):
                raise InvalidParameterError(
                    f"Unsupported FunctionResponseTypes {types}: only ReportBatchItemFailures")
            record["FunctionResponseTypes"] = list(types)
        if "DestinationConfig" in body or creating:
            dest = ((body.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
                "Destination")
            if dest and not DEST_RE.match(dest):
                raise InvalidParameterError(
                    f"Unsupported OnFailure destination {dest}: use an SQS queue, SNS topic or "
                    "S3 bucket ARN")
            record["DestinationConfig"] = {"OnFailure": {"Destination": dest} if dest else {}}
        if body.get("TumblingWindowInSeconds"):
            raise InvalidParameterError("TumblingWindowInSeconds is not supported locally")
        if body.get("FilterCriteria"):
            raise InvalidParameterError("FilterCriteria is not supported by the local stack")
        record.setdefault("TumblingWindowInSeconds", 0)
        if "Enabled" in body or creating:
            record["_Enabled"] = body.get("Enabled", True) is not False

    def create_event_source_mapping(self, body: dict[str, Any]) -> dict[str, Any]:
        mapping_id = str(uuid.uuid4())
        record: dict[str, Any] = {"UUID": mapping_id}
        self._validate_mapping(body, record, creating=True)
        with self._lock:
            for other in self.store.mappings():
                if (other["EventSourceArn"] == record["EventSourceArn"]
                        and other["FunctionArn"] == record["FunctionArn"]):
                    raise ResourceConflictError(
                        f"An event source mapping with Kinesis arn (\" {record['EventSourceArn']}"
                        f" \") and function (\" {record['FunctionArn'].rsplit(':', 1)[-1]} \") "
                        f"already exists. Please update or delete the existing mapping with "
                        f"UUID {other['UUID']}")
            record.update(
                LastModified=time.time(), LastProcessingResult="No records processed",
                State="Creating", StateTransitionReason="User action",
                EventSourceMappingArn=(f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:"
                                       f"event-source-mapping:{mapping_id}"))
            self.store.put_mapping(record)
        self._apply_async(mapping_id)
        return self._mapping_view(record)

    def get_event_source_mapping(self, mapping_id: str) -> dict[str, Any]:
        return self._mapping_view(self.store.mapping(mapping_id))

    def list_event_source_mappings(self, source_arn: str | None, function_name: str | None,
                                   marker: str | None, max_items: int | None) -> dict[str, Any]:
        fn_arn = function_arn(self.resolve_name(function_name)) if function_name else None
        items = [m for m in self.store.mappings()
                 if (not source_arn or m["EventSourceArn"] == source_arn)
                 and (not fn_arn or m["FunctionArn"] == fn_arn)]
        items.sort(key=lambda m: m["LastModified"])
        start = int(marker) if marker and marker.isdigit() else 0
        size = max_items or 100
        out: dict[str, Any] = {"EventSourceMappings": [self._mapping_view(m)
                                                       for m in items[start:start + size]]}
        if start + size < len(items):
            out["NextMarker"] = str(start + size)
        return out

    def update_event_source_mapping(self, mapping_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record = self.store.mapping(mapping_id)
            if record["State"] in ("Creating", "Updating", "Deleting", "Enabling", "Disabling"):
                raise ResourceInUseError(
                    f"Cannot update the event source mapping because it is in use. "
                    f"({record['State']})")
            self._validate_mapping(body, record, creating=False)
            record.update(State="Updating", StateTransitionReason="User action",
                          LastModified=time.time())
            self.store.put_mapping(record)
        self._apply_async(mapping_id)
        return self._mapping_view(record)

    def delete_event_source_mapping(self, mapping_id: str) -> dict[str, Any]:
        with self._lock:
            record = self.store.mapping(mapping_id)
            if record["State"] in ("Creating", "Updating", "Deleting"):
                raise ResourceInUseError(
                    f"Cannot delete the event source mapping because it is in use. "
                    f"({record['State']})")
            record = self.store.patch_mapping(mapping_id, State="Deleting") or record
        threading.Thread(target=self._finish_delete, args=(mapping_id,), daemon=True).start()
        return self._mapping_view(record)

    def _finish_delete(self, mapping_id: str) -> None:
        with self._lock:
            runner = self._mappings.pop(mapping_id, None)
        if runner is not None:
            runner.stop()
        CheckpointStore(self.state_dir / "esm" / mapping_id).drop()
        self.store.delete_mapping(mapping_id)

    def _apply_async(self, mapping_id: str) -> None:
        threading.Thread(target=self._apply_mapping, args=(mapping_id,), daemon=True,
                         name=f"esm-apply-{mapping_id[:8]}").start()

    def _apply_mapping(self, mapping_id: str) -> None:
        """(Re)start or stop the pollers of a mapping to match its record."""
        with self._lock:
            old = self._mappings.pop(mapping_id, None)
        if old is not None:
            old.stop()
        try:
            record = self.store.mapping(mapping_id)
        except ResourceNotFoundError:
            return
        enabled = record.get("_Enabled", True)
        if enabled:
            runner = MappingRunner(record, self.state_dir, self.runner.invoke, self.destinations,
                                   self._role_of)
            with self._lock:
                self._mappings[mapping_id] = runner
            runner.start()
        self.store.patch_mapping(mapping_id, State="Enabled" if enabled else "Disabled",
                                 StateTransitionReason="User action")

    def _role_of(self, fn: str) -> str:
        try:
            return str(self.store.function(fn).get("Role", ""))
        except ResourceNotFoundError:
            return ""

    # status
    def mapping_status(self) -> list[dict[str, Any]]:
        with self._lock:
            runners = list(self._mappings.values())
        return [r.status() for r in runners]

    def status(self) -> dict[str, Any]:
        mappings = {m["uuid"]: m for m in self.mapping_status()}
        out = []
        for record in self.store.mappings():
            entry = mappings.get(record["UUID"], {"shards": {}, "iterator_age_ms": None})
            out.append(dict(entry, uuid=record["UUID"], state=record["State"],
                            function=record["FunctionArn"].rsplit(":", 1)[-1],
                            stream=record["EventSourceArn"]))
        return {"functions": [r["FunctionName"] for r in self.store.functions()],
                "mappings": out, "logs_dir": str(self.logs_dir)}


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise InvalidParameterError(f"Invalid StartingPositionTimestamp {value!r}") from exc
