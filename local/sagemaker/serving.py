"""The built-in XGBoost serving contract without HTTP: parse, load, predict, encode.

Each stage fails with the status the SageMaker XGBoost container answers: 204 empty payload,
415 unsupported content type, 400 unparseable payload or predict error, 406 unsupported
accept, 500 model load. The runtime server wraps non-2xx statuses into AWS ``ModelError``s.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from local.sagemaker.errors import ModelLoadError, ServingError

MODEL_FILE = "xgboost-model"
CSV = "text/csv"
LIBSVM = "text/libsvm"
JSON = "application/json"
JSONLINES = "application/jsonlines"
CONTENT_TYPES = {CSV: CSV, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM}
ACCEPTS = (CSV, JSON, JSONLINES)
DEFAULT_ACCEPT = CSV


@dataclass(frozen=True)
class Prediction:
    """An encoded response body and its content type."""

    body: bytes
    content_type: str


def media_type(header: str | None) -> str:
    """``'text/csv; charset=utf-8'`` -> ``'text/csv'`` (lower case, no parameters)."""
    return (header or "").split(";", 1)[0].strip().lower()


def load_model_archive(archive: bytes) -> xgb.Booster:
    """Booster from ``model.tar.gz`` bytes holding ``xgboost-model`` (any xgboost format)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == MODEL_FILE), None)
            if member is None:
                names = [m.name for m in tar.getmembers()]
                raise ModelLoadError(f"model.tar.gz has no {MODEL_FILE} file (found {names})")
            handle = tar.extractfile(member)
            raw = handle.read() if handle else b""
    except tarfile.TarError as exc:
        raise ModelLoadError(f"model.tar.gz is not a valid archive: {exc}") from None
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as exc:
        raise ModelLoadError(f"Unable to load {MODEL_FILE}: {exc}") from None
    booster.set_param({"nthread": 1})
    return booster


def parse_csv(body: bytes) -> np.ndarray:
    """Rows by newline, no header, no label; an empty field is a missing value."""
    try:
        frame = pd.read_csv(
            io.BytesIO(body), header=None, dtype=np.float32, engine="c", skip_blank_lines=True
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ServingError(
            400,
            f"Loading csv data failed with Exception, please ensure data "
            f"is in csv format: {type(exc).__name__}: {exc}",
        ) from None
    return frame.to_numpy(dtype=np.float32)


def parse_libsvm(body: bytes, *, with_labels: bool = False) -> tuple[np.ndarray, list[float]]:
    """Dense float32 matrix (NaN = missing) from libsvm lines ``[label] index:value ...``.

    A leading token without ``:`` is the label (ignored at inference). Raises ValueError.
    """
    rows: list[tuple[list[int], list[float]]] = []
    labels: list[float] = []
    width = 0
    for line in body.decode("utf-8").splitlines():
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        if ":" not in tokens[0]:
            labels.append(float(tokens[0]))
            tokens = tokens[1:]
        elif with_labels:
            raise ValueError(f"line without a label: {line[:80]!r}")
        cols, vals = [], []
        for token in tokens:
            index, _, value = token.partition(":")
            col = int(index)
            if col < 0:
                raise ValueError(f"negative feature index in {token!r}")
            cols.append(col)
            vals.append(float(value))
            width = max(width, col + 1)
        rows.append((cols, vals))
    if not rows:
        raise ValueError("no rows")
    matrix = np.full((len(rows), width), np.nan, dtype=np.float32)
    for i, (cols, vals) in enumerate(rows):
        matrix[i, cols] = vals
    return matrix, labels


@dataclass(frozen=True)
class Features:
    """A parsed request: dense float32 rows (NaN = missing); libsvm rows may end early."""

    matrix: np.ndarray
    sparse: bool = False


def parse(body: bytes, content_type: str | None) -> Features:
    """Request body -> features, or ServingError 204/415/400."""
    if not body or not body.strip():
        raise ServingError(204, "Empty payload")
    kind = CONTENT_TYPES.get(media_type(content_type) or CSV)
    if kind is None:
        raise ServingError(
            415,
            f"Content type {media_type(content_type)} is not supported by this algorithm "
            f"(use {CSV} or {LIBSVM})",
        )
    if kind == CSV:
        return Features(parse_csv(body))
    try:
        return Features(parse_libsvm(body)[0], sparse=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServingError(400, f"Loading libsvm data failed with Exception: {exc}") from None


def predict(booster: xgb.Booster, features: Features) -> np.ndarray:
    """Scores for each row; a feature-count mismatch is the caller's 400."""
    matrix = features.matrix
    expected = booster.num_features()
    width = matrix.shape[1]
    if features.sparse and width < expected:
        pad = np.full((matrix.shape[0], expected - width), np.nan, dtype=np.float32)
        matrix = np.hstack([matrix, pad])
    elif width != expected:
        raise ServingError(
            400,
            f"Feature size of the payload ({width}) does not match the model's ({expected})",
        )
    try:
        return booster.inplace_predict(matrix, missing=np.nan, validate_features=False)
    except (xgb.core.XGBoostError, ValueError) as exc:
        raise ServingError(400, f"Unable to evaluate payload provided: {exc}") from None


def choose_accept(accept: str | None) -> str:
    """First supported media type of an Accept header; ``*/*`` or none -> text/csv; else 406."""
    if not accept:
        return DEFAULT_ACCEPT
    for part in accept.split(","):
        kind = media_type(part)
        if kind in ("*/*", "text/*", ""):
            return DEFAULT_ACCEPT
        if kind in ACCEPTS:
            return kind
    raise ServingError(406, f"Accept type {accept} is not supported by this algorithm")


def encode(scores: np.ndarray, accept: str) -> Prediction:
    """Scores -> CSV (comma-joined, one line per request), JSON or JSON Lines body."""
    values = scores.tolist()
    if accept == CSV:
        if scores.ndim == 1:
            text = ",".join(map(str, values))
        else:
            text = "\n".join(",".join(map(str, row)) for row in values)
        return Prediction(text.encode(), CSV)
    if accept == JSON:
        body = json.dumps({"predictions": [{"score": v} for v in values]})
        return Prediction(body.encode(), JSON)
    lines = "\n".join(json.dumps({"score": v}) for v in values)
    return Prediction(lines.encode(), JSONLINES)


def invoke(
    booster: xgb.Booster, body: bytes, content_type: str | None, accept: str | None
) -> Prediction:
    """The container's order: 204 empty, 415/400 parse, 400 predict, 406 accept, encode."""
    scores = predict(booster, parse(body, content_type))
    return encode(scores, choose_accept(accept))
