"""Hyperparameters of the fare model and the local twin of the built-in XGBoost training.

The same hyperparameter strings go to the SageMaker training job (``HyperParameters``) and to
:func:`train_booster`, which trains with the ``xgboost`` package on the same CSV-shaped data
(label first, no header, no feature names): used for the baselines, the real-data sanity test
and the benchmark, where starting a training job would only add waiting.
"""

from __future__ import annotations

import io
import logging
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import xgboost as xgb

logger = logging.getLogger(__name__)

MODEL_FILE = "xgboost-model"

#: Documented hyperparameters of the fare model (strings, as SageMaker passes them).
#: - objective reg:squarederror: the fare in USD, RMSE is the metric we report;
#: - num_round 600 with early_stopping_rounds 30 on the validation channel: stop when the
#:   validation RMSE has not improved for 30 rounds (the test split is never seen);
#: - max_depth 8, min_child_weight 5: deep enough for the rate-code x airport x time
#:   interactions, leaves need some support;
#: - eta 0.1, subsample 0.8, colsample_bytree 0.8: standard shrinkage and bagging;
#: - tree_method hist: histogram training, fast on millions of rows.
HYPERPARAMETERS: dict[str, str] = {
    "objective": "reg:squarederror",
    "eval_metric": "rmse",
    "num_round": "600",
    "early_stopping_rounds": "30",
    "max_depth": "8",
    "eta": "0.1",
    "subsample": "0.8",
    "colsample_bytree": "0.8",
    "min_child_weight": "5",
    "tree_method": "hist",
    "seed": "42",
}

_INT_PARAMS = {"max_depth", "seed", "max_bin", "nthread", "verbosity", "max_leaves"}
_NOT_PARAMS = {"num_round", "early_stopping_rounds"}


@dataclass(frozen=True)
class XGBArgs:
    """``xgboost.train`` arguments from SageMaker hyperparameter strings."""

    params: dict[str, Any]
    num_round: int
    early_stopping_rounds: int | None


def xgb_args(hyperparameters: Mapping[str, str], nthread: int | None = None) -> XGBArgs:
    """Turn hyperparameter strings into ``xgboost.train`` arguments (as the container does)."""
    params: dict[str, Any] = {}
    for name, raw in hyperparameters.items():
        if name in _NOT_PARAMS:
            continue
        text = str(raw)
        if name in _INT_PARAMS:
            params[name] = int(float(text))
        else:
            try:
                params[name] = float(text)
            except ValueError:
                params[name] = text
    if nthread:
        params["nthread"] = nthread
    params.setdefault("verbosity", 0)
    early = hyperparameters.get("early_stopping_rounds")
    return XGBArgs(
        params=params,
        num_round=int(float(hyperparameters["num_round"])),
        early_stopping_rounds=int(float(early)) if early else None,
    )


def train_booster(
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    hyperparameters: Mapping[str, str] = HYPERPARAMETERS,
    nthread: int | None = None,
) -> xgb.Booster:
    """Train like the built-in container: numeric matrix (NaN = missing), label separate."""
    import numpy as np
    import xgboost as xgb

    args = xgb_args(hyperparameters, nthread)
    dtrain = xgb.DMatrix(np.asarray(train[0], dtype="float32"), label=train[1], missing=np.nan)
    evals = [(dtrain, "train")]
    early = None
    if validation is not None:
        dval = xgb.DMatrix(
            np.asarray(validation[0], dtype="float32"), label=validation[1], missing=np.nan
        )
        evals.append((dval, "validation"))
        early = args.early_stopping_rounds
    booster = xgb.train(
        args.params,
        dtrain,
        num_boost_round=args.num_round,
        evals=evals,
        early_stopping_rounds=early,
        verbose_eval=False,
    )
    best = getattr(booster, "best_iteration", None)
    logger.info("local xgboost: trained %d rounds%s", booster.num_boosted_rounds(),
                "" if best is None else f" (best round {best})")
    return booster


def predict(booster: xgb.Booster, features: Any) -> np.ndarray:
    """Predictions for a feature matrix (DataFrame or array), by position like text/csv rows.

    All trees are used, as the serving container does (early stopping keeps the rounds after
    the best one in the saved model).
    """
    import numpy as np

    matrix = np.asarray(features, dtype="float32")
    return booster.inplace_predict(matrix, missing=np.nan, validate_features=False)


def model_archive(booster: xgb.Booster) -> bytes:
    """``model.tar.gz`` bytes holding ``xgboost-model`` (the built-in container's layout)."""
    raw = bytes(booster.save_raw(raw_format="ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(MODEL_FILE)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def load_archive(archive: bytes) -> xgb.Booster:
    """Booster from ``model.tar.gz`` bytes (any format the local xgboost reads)."""
    import xgboost as xgb

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        member = next((m for m in tar.getmembers() if m.name.lstrip("./") == MODEL_FILE), None)
        if member is None:
            raise ValueError(f"model.tar.gz has no {MODEL_FILE}")
        handle = tar.extractfile(member)
        raw = handle.read() if handle else b""
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster
