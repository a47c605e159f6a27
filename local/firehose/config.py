"""Validation of ``CreateDeliveryStream`` requests into :class:`StreamConfig`.

Supported: DirectPut streams with one destination among ``S3DestinationConfiguration``,
``ExtendedS3DestinationConfiguration``, ``AmazonopensearchserviceDestinationConfiguration`` and
``ElasticsearchDestinationConfiguration``. Features the stand-in cannot run (Lambda processing,
format conversion, dynamic partitioning, other destinations, Kinesis as source) are rejected with
``InvalidArgumentException`` rather than silently ignored.

Document ids are Firehose's (``DocumentIdOptions``), as on AWS: deduplication by ``trip_id`` is
the index's business (an ingest pipeline set as ``index.default_pipeline``, see
``viz/setup_index.py``), which the local OpenSearch service runs like an OpenSearch node.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local.firehose.errors import InvalidArgumentError
from local.firehose.prefixes import validate_prefixes

ACCOUNT_ID = "123456789012"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
BUCKET_ARN = re.compile(r"^arn:[^:]*:s3:::([\w.\-]{1,255})$")
ROLE_ARN = re.compile(r"^arn:[^:]*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-/]+$")
DOMAIN_ARN = re.compile(r"^arn:[^:]*:(es|aoss):[^:]*:\d{12}:.+$")
SUPPORTED_COMPRESSION = {"UNCOMPRESSED", "GZIP"}
KNOWN_COMPRESSION = SUPPORTED_COMPRESSION | {"ZIP", "Snappy", "HADOOP_SNAPPY"}
ROTATIONS = {"NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"}
MIB = 1024 * 1024

S3_KEYS = ("S3DestinationConfiguration", "ExtendedS3DestinationConfiguration")
SEARCH_KEYS = {
    "AmazonopensearchserviceDestinationConfiguration": "AmazonOpenSearchService-failed",
    "ElasticsearchDestinationConfiguration": "elasticsearch-failed",
}
UNSUPPORTED_KEYS = (
    "RedshiftDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
)


@dataclass(frozen=True)
class Hints:
    """Buffering hints: flush at ``size_bytes`` or ``interval_s`` after the oldest record."""

    size_bytes: int
    interval_s: float


@dataclass(frozen=True)
class S3Target:
    """Where and how a sink writes objects to S3."""

    bucket: str
    prefix: str
    error_prefix: str | None
    compression: str
    extension: str
    timezone: str


@dataclass(frozen=True)
class SearchTarget:
    """How the OpenSearch sink indexes documents."""

    index: str
    rotation: str
    cluster_endpoint: str | None
    domain_arn: str | None
    retry_s: float
    document_id_format: str
    backup_mode: str
    error_type: str


@dataclass(frozen=True)
class SinkSpec:
    """One buffered output of a stream (main S3, OpenSearch, or S3 backup of all records)."""

    name: str
    kind: str  # "s3" or "opensearch"
    hints: Hints
    s3: S3Target
    search: SearchTarget | None = None


@dataclass
class StreamConfig:
    """A delivery stream as created; ``request`` is kept to rebuild the describe shape."""

    name: str
    arn: str
    version_id: str
    created: float
    destination_key: str
    destination: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    stream_type: str = "DirectPut"

    def to_json(self) -> dict[str, Any]:
        """Serialisable form for the state file."""
        return {
            "name": self.name, "arn": self.arn, "version_id": self.version_id,
            "created": self.created, "destination_key": self.destination_key,
            "destination": self.destination, "tags": self.tags, "stream_type": self.stream_type,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamConfig:
        return cls(**data)

    def sinks(self) -> list[SinkSpec]:
        """The buffered outputs this stream feeds."""
        return build_sinks(self.destination_key, self.destination)

    def describe(self) -> dict[str, Any]:
        """``DeliveryStreamDescription`` as DescribeDeliveryStream returns it."""
        return {
            "DeliveryStreamName": self.name,
            "DeliveryStreamARN": self.arn,
            "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamEncryptionConfiguration": {"Status": "DISABLED"},
            "DeliveryStreamType": self.stream_type,
            "VersionId": self.version_id,
            "CreateTimestamp": self.created,
            "Destinations": [_describe_destination(self.destination_key, self.destination)],
            "HasMoreDestinations": False,
        }


def _require(config: dict[str, Any], key: str, where: str) -> Any:
    value = config.get(key)
    if value in (None, ""):
        raise InvalidArgumentError(f"{where}.{key} is required")
    return value


def _hints(raw: dict[str, Any] | None, where: str, max_mb: int) -> dict[str, int]:
    raw = raw or {}
    size = int(raw.get("SizeInMBs", 5))
    interval = int(raw.get("IntervalInSeconds", 300))
    if not 1 <= size <= max_mb:
        raise InvalidArgumentError(
            f"{where}.BufferingHints.SizeInMBs must be between 1 and {max_mb}"
        )
    if not 0 <= interval <= 900:
        raise InvalidArgumentError(f"{where}.BufferingHints.IntervalInSeconds must be 0-900")
    return {"SizeInMBs": size, "IntervalInSeconds": interval}


def _enabled(config: dict[str, Any], key: str) -> bool:
    return bool((config.get(key) or {}).get("Enabled", False))


def _normalise_s3(raw: dict[str, Any], where: str, extended: bool) -> dict[str, Any]:
    conf = copy.deepcopy(raw)
    role = _require(conf, "RoleARN", where)
    if not ROLE_ARN.match(role):
        raise InvalidArgumentError(f"{where}.RoleARN '{role}' is not a valid IAM role ARN")
    bucket_arn = _require(conf, "BucketARN", where)
    if not BUCKET_ARN.match(bucket_arn):
        raise InvalidArgumentError(f"{where}.BucketARN '{bucket_arn}' is not a valid S3 bucket ARN")
    compression = conf.setdefault("CompressionFormat", "UNCOMPRESSED")
    if compression not in KNOWN_COMPRESSION:
        raise InvalidArgumentError(f"{where}.CompressionFormat '{compression}' is not valid")
    if compression not in SUPPORTED_COMPRESSION:
        raise InvalidArgumentError(
            f"{where}.CompressionFormat {compression} is not supported by the local stand-in"
        )
    conf["BufferingHints"] = _hints(conf.get("BufferingHints"), where, 128)
    conf.setdefault("EncryptionConfiguration", {"NoEncryptionConfig": "NoEncryption"})
    conf.setdefault("CloudWatchLoggingOptions", {"Enabled": False})
    validate_prefixes(conf.get("Prefix"), conf.get("ErrorOutputPrefix"))
    timezone = conf.get("CustomTimeZone")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidArgumentError(f"{where}.CustomTimeZone '{timezone}' is not valid") from exc
    if extended:
        for unsupported in ("ProcessingConfiguration", "DataFormatConversionConfiguration",
                            "DynamicPartitioningConfiguration"):
            if _enabled(conf, unsupported):
                raise InvalidArgumentError(
                    f"{where}.{unsupported} is not supported by the local stand-in"
                )
        mode = conf.setdefault("S3BackupMode", "Disabled")
        if mode not in {"Disabled", "Enabled"}:
            raise InvalidArgumentError(f"{where}.S3BackupMode must be Disabled or Enabled")
        if mode == "Enabled":
            conf["S3BackupConfiguration"] = _normalise_s3(
                _require(conf, "S3BackupConfiguration", where), f"{where}.S3BackupConfiguration",
                extended=False,
            )
    return conf


def _normalise_search(raw: dict[str, Any], where: str) -> dict[str, Any]:
    conf = copy.deepcopy(raw)
    _require(conf, "RoleARN", where)
    _require(conf, "IndexName", where)
    domain, cluster = conf.get("DomainARN"), conf.get("ClusterEndpoint")
    if bool(domain) == bool(cluster):
        raise InvalidArgumentError(f"{where}: specify exactly one of DomainARN and ClusterEndpoint")
    if domain and not DOMAIN_ARN.match(domain):
        raise InvalidArgumentError(f"{where}.DomainARN '{domain}' is not a valid domain ARN")
    rotation = conf.setdefault("IndexRotationPeriod", "OneDay")
    if rotation not in ROTATIONS:
        raise InvalidArgumentError(f"{where}.IndexRotationPeriod '{rotation}' is not valid")
    conf["BufferingHints"] = _hints(conf.get("BufferingHints"), where, 100)
    retry = int((conf.get("RetryOptions") or {}).get("DurationInSeconds", 300))
    if not 0 <= retry <= 7200:
        raise InvalidArgumentError(f"{where}.RetryOptions.DurationInSeconds must be 0-7200")
    conf["RetryOptions"] = {"DurationInSeconds": retry}
    mode = conf.setdefault("S3BackupMode", "FailedDocumentsOnly")
    if mode not in {"FailedDocumentsOnly", "AllDocuments"}:
        raise InvalidArgumentError(
            f"{where}.S3BackupMode must be FailedDocumentsOnly or AllDocuments"
        )
    id_options = conf.get("DocumentIdOptions") or {}
    id_format = id_options.get("DefaultDocumentIdFormat", "FIREHOSE_DEFAULT")
    if id_format not in {"FIREHOSE_DEFAULT", "NO_DOCUMENT_ID"}:
        raise InvalidArgumentError(
            f"{where}.DocumentIdOptions.DefaultDocumentIdFormat is not valid"
        )
    conf["DocumentIdOptions"] = {"DefaultDocumentIdFormat": id_format}
    if _enabled(conf, "ProcessingConfiguration"):
        raise InvalidArgumentError(f"{where}.ProcessingConfiguration is not supported locally")
    conf.setdefault("CloudWatchLoggingOptions", {"Enabled": False})
    conf["S3Configuration"] = _normalise_s3(
        _require(conf, "S3Configuration", where), f"{where}.S3Configuration", extended=False
    )
    return conf


def parse_create(request: dict[str, Any], region: str) -> StreamConfig:
    """Validate a CreateDeliveryStream request body into a :class:`StreamConfig`."""
    name = request.get("DeliveryStreamName") or ""
    if not NAME_PATTERN.match(name):
        raise InvalidArgumentError(
            f"DeliveryStreamName '{name}' must be 1-64 characters of [a-zA-Z0-9_.-]"
        )
    stream_type = request.get("DeliveryStreamType", "DirectPut")
    if stream_type != "DirectPut":
        raise InvalidArgumentError(
            f"DeliveryStreamType {stream_type} is not supported by the local stand-in "
            "(DirectPut only)"
        )
    for key in UNSUPPORTED_KEYS:
        if request.get(key):
            raise InvalidArgumentError(f"{key} is not supported by the local stand-in")
    given = [key for key in (*S3_KEYS, *SEARCH_KEYS) if request.get(key)]
    if len(given) != 1:
        raise InvalidArgumentError("Exactly one destination configuration must be specified")
    key = given[0]
    if key in SEARCH_KEYS:
        destination = _normalise_search(request[key], key)
    else:
        destination = _normalise_s3(request[key], key, extended=key.startswith("Extended"))
    tags = {t["Key"]: t.get("Value", "") for t in request.get("Tags") or []}
    if len(tags) > 50:
        raise InvalidArgumentError("A delivery stream can have at most 50 tags")
    return StreamConfig(
        name=name,
        arn=f"arn:aws:firehose:{region}:{ACCOUNT_ID}:deliverystream/{name}",
        version_id="1",
        created=time.time(),
        destination_key=key,
        destination=destination,
        tags=tags,
    )


def _s3_target(conf: dict[str, Any]) -> S3Target:
    compression = conf.get("CompressionFormat", "UNCOMPRESSED")
    extension = conf.get("FileExtension") or (".gz" if compression == "GZIP" else "")
    return S3Target(
        bucket=BUCKET_ARN.match(conf["BucketARN"]).group(1),  # type: ignore[union-attr]
        prefix=conf.get("Prefix") or "",
        error_prefix=conf.get("ErrorOutputPrefix") or None,
        compression=compression,
        extension=extension,
        timezone=conf.get("CustomTimeZone") or "UTC",
    )


def _to_hints(raw: dict[str, int]) -> Hints:
    return Hints(size_bytes=raw["SizeInMBs"] * MIB, interval_s=float(raw["IntervalInSeconds"]))


def build_sinks(key: str, conf: dict[str, Any]) -> list[SinkSpec]:
    """The sinks of a normalised destination configuration."""
    if key in S3_KEYS:
        sinks = [SinkSpec("s3", "s3", _to_hints(conf["BufferingHints"]), _s3_target(conf))]
        if conf.get("S3BackupMode") == "Enabled":
            backup = conf["S3BackupConfiguration"]
            sinks.append(
                SinkSpec("s3backup", "s3", _to_hints(backup["BufferingHints"]), _s3_target(backup))
            )
        return sinks
    s3conf = conf["S3Configuration"]
    search = SearchTarget(
        index=conf["IndexName"],
        rotation=conf["IndexRotationPeriod"],
        cluster_endpoint=conf.get("ClusterEndpoint"),
        domain_arn=conf.get("DomainARN"),
        retry_s=float(conf["RetryOptions"]["DurationInSeconds"]),
        document_id_format=conf["DocumentIdOptions"]["DefaultDocumentIdFormat"],
        backup_mode=conf["S3BackupMode"],
        error_type=SEARCH_KEYS[key],
    )
    sinks = [SinkSpec("opensearch", "opensearch", _to_hints(conf["BufferingHints"]),
                      _s3_target(s3conf), search)]
    if conf["S3BackupMode"] == "AllDocuments":
        sinks.append(SinkSpec("s3backup", "s3", _to_hints(s3conf["BufferingHints"]),
                              _s3_target(s3conf)))
    return sinks


def _describe_destination(key: str, conf: dict[str, Any]) -> dict[str, Any]:
    description = copy.deepcopy(conf)
    if key == "ExtendedS3DestinationConfiguration":
        backup = description.pop("S3BackupConfiguration", None)
        if backup:
            description["S3BackupDescription"] = backup
        out = {"ExtendedS3DestinationDescription": description}
        plain = {k: v for k, v in description.items() if k in _PLAIN_S3_FIELDS}
        out["S3DestinationDescription"] = plain
    elif key == "S3DestinationConfiguration":
        out = {"S3DestinationDescription": description}
    else:
        description["S3DestinationDescription"] = description.pop("S3Configuration")
        name = key.replace("Configuration", "Description")
        out = {name: description}
    return {"DestinationId": "destinationId-000000000001", **out}


_PLAIN_S3_FIELDS = {
    "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat",
    "EncryptionConfiguration", "CloudWatchLoggingOptions",
}
