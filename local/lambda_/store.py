"""Functions and event source mappings of the stand-in, persisted under the state dir.

Records are AWS-shaped dicts (the fields GetFunctionConfiguration / GetEventSourceMapping
return); private fields start with ``_``. Every deployed zip is kept by its SHA-256 and unpacked
once into its own directory, so the code that runs is exactly the code that was deployed.
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import os
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Any

from .errors import InvalidParameterError, ResourceNotFoundError
from .fsutil import atomic_write_json, read_json

log = logging.getLogger(__name__)

MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The record without private (``_``) fields, deep-copied."""
    return copy.deepcopy({k: v for k, v in record.items() if not k.startswith("_")})


class CodeStore:
    """Deployed zips: ``code/<function>/<sha256hex>.zip`` unpacked into ``.../<sha256hex>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, function_name: str, zip_bytes: bytes) -> tuple[str, Path]:
        """Store and unpack a zip; returns (sha256 hex, unpacked dir). Bad zip: InvalidParameter."""
        if len(zip_bytes) > MAX_ZIP_BYTES:
            raise InvalidParameterError(
                f"Unzipped size must be smaller than {MAX_ZIP_BYTES} bytes (zip is "
                f"{len(zip_bytes)} bytes)")
        digest = hashlib.sha256(zip_bytes).hexdigest()
        target = self.root / function_name / digest
        if target.is_dir():
            return digest, target
        try:
            archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
            total = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile as exc:
            raise InvalidParameterError(
                "Could not unzip uploaded file. Please check your file, then try to upload "
                "again.") from exc
        if total > MAX_UNZIPPED_BYTES:
            raise InvalidParameterError(
                f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
        tmp = target.with_name(f".{digest}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive.extractall(tmp)  # zipfile strips absolute paths and ".." components
        (self.root / function_name / f"{digest}.zip").write_bytes(zip_bytes)
        tmp.rename(target)
        return digest, target

    def code_dir(self, function_name: str, digest: str) -> Path:
        return self.root / function_name / digest

    def zip_path(self, function_name: str, digest: str) -> Path:
        return self.root / function_name / f"{digest}.zip"

    def delete(self, function_name: str) -> None:
        shutil.rmtree(self.root / function_name, ignore_errors=True)


class Store:
    """Thread-safe function and mapping records, saved to ``store.json`` after each change."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "store.json"
        self.code = CodeStore(state_dir / "code")
        self._lock = threading.RLock()
        data = read_json(self.path, default={}) or {}
        self._functions: dict[str, dict[str, Any]] = data.get("functions", {})
        self._mappings: dict[str, dict[str, Any]] = data.get("mappings", {})

    def _save(self) -> None:
        atomic_write_json(self.path, {"functions": self._functions, "mappings": self._mappings})

    # functions
    def function(self, name: str) -> dict[str, Any]:
        """A copy of the function record (ResourceNotFound if absent)."""
        with self._lock:
            record = self._functions.get(name)
            if record is None:
                raise ResourceNotFoundError(f"Function not found: {function_arn(name)}")
            return copy.deepcopy(record)

    def has_function(self, name: str) -> bool:
        with self._lock:
            return name in self._functions

    def functions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self._functions[k]) for k in sorted(self._functions)]

    def put_function(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._functions[record["FunctionName"]] = copy.deepcopy(record)
            self._save()

    def delete_function(self, name: str) -> None:
        with self._lock:
            self._functions.pop(name, None)
            self._save()

    # mappings
    def mapping(self, uuid: str) -> dict[str, Any]:
        with self._lock:
            record = self._mappings.get(uuid)
            if record is None:
                raise ResourceNotFoundError(
                    f"The resource you requested does not exist. (Service: Lambda, Status Code: "
                    f"404, Request ID: {uuid})")
            return copy.deepcopy(record)

    def mappings(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(m) for m in self._mappings.values()]

    def put_mapping(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._mappings[record["UUID"]] = copy.deepcopy(record)
            self._save()

    def patch_mapping(self, uuid: str, **changes: Any) -> dict[str, Any] | None:
        """Update some fields of a mapping if it still exists; returns the new record."""
        with self._lock:
            record = self._mappings.get(uuid)
            if record is None:
                return None
            record.update(changes)
            self._save()
            return copy.deepcopy(record)

    def delete_mapping(self, uuid: str) -> None:
        with self._lock:
            self._mappings.pop(uuid, None)
            self._save()


ACCOUNT_ID = os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def function_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
