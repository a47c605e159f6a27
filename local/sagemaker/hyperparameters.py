"""Validate built-in XGBoost hyperparameters before training starts (fail fast).

SageMaker passes hyperparameters as strings. The built-in XGBoost container checks names,
types and ranges before it reads any data; a violation ends the job as ``Failed`` with a
``ClientError: ...`` reason. This module reproduces those rules for the documented
hyperparameters and turns the strings into ``xgboost.train`` arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.sagemaker.errors import HyperparameterError

OBJECTIVES = frozenset(
    {
        "reg:squarederror",
        "reg:linear",
        "reg:squaredlogerror",
        "reg:logistic",
        "reg:pseudohubererror",
        "reg:absoluteerror",
        "reg:quantileerror",
        "reg:gamma",
        "reg:tweedie",
        "binary:logistic",
        "binary:logitraw",
        "binary:hinge",
        "count:poisson",
        "survival:cox",
        "survival:aft",
        "multi:softmax",
        "multi:softprob",
        "rank:pairwise",
        "rank:ndcg",
        "rank:map",
    }
)
EVAL_METRICS = frozenset(
    {
        "rmse",
        "rmsle",
        "mae",
        "mape",
        "mphe",
        "logloss",
        "error",
        "merror",
        "mlogloss",
        "auc",
        "aucpr",
        "ndcg",
        "map",
        "poisson-nloglik",
        "gamma-nloglik",
        "cox-nloglik",
        "gamma-deviance",
        "tweedie-nloglik",
        "aft-nloglik",
        "interval-regression-accuracy",
    }
)
TREE_METHODS = frozenset({"auto", "exact", "approx", "hist", "gpu_hist"})
BOOSTERS = frozenset({"gbtree", "gblinear", "dart"})
GROW_POLICIES = frozenset({"depthwise", "lossguide"})


@dataclass(frozen=True)
class _Rule:
    """How one hyperparameter is parsed and checked."""

    kind: Callable[[str], Any]
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: frozenset[str] | None = None
    xgb_name: str | None = None


def _integer(raw: str) -> int:
    value = float(raw)
    if not value.is_integer():
        raise ValueError(raw)
    return int(value)


def _text(raw: str) -> str:
    return str(raw).strip()


RULES: dict[str, _Rule] = {
    "num_round": _Rule(_integer, 1, None),
    "max_depth": _Rule(_integer, 0, None),
    "eta": _Rule(float, 0, 1),
    "subsample": _Rule(float, 0, 1, low_open=True),
    "colsample_bytree": _Rule(float, 0, 1, low_open=True),
    "colsample_bylevel": _Rule(float, 0, 1, low_open=True),
    "colsample_bynode": _Rule(float, 0, 1, low_open=True),
    "min_child_weight": _Rule(float, 0, None),
    "objective": _Rule(_text, choices=OBJECTIVES),
    "eval_metric": _Rule(_text),
    "early_stopping_rounds": _Rule(_integer, 1, None),
    "gamma": _Rule(float, 0, None),
    "lambda": _Rule(float, 0, None),
    "alpha": _Rule(float, 0, None),
    "seed": _Rule(_integer, None, None),
    "tree_method": _Rule(_text, choices=TREE_METHODS),
    "booster": _Rule(_text, choices=BOOSTERS),
    "max_delta_step": _Rule(float, 0, None),
    "scale_pos_weight": _Rule(float, 0, None, low_open=True),
    "base_score": _Rule(float, None, None),
    "num_class": _Rule(_integer, 2, None),
    "max_bin": _Rule(_integer, 2, None),
    "max_leaves": _Rule(_integer, 0, None),
    "grow_policy": _Rule(_text, choices=GROW_POLICIES),
    "tweedie_variance_power": _Rule(float, 1, 2, low_open=True),
    "num_parallel_tree": _Rule(_integer, 1, None),
    "sketch_eps": _Rule(float, 0, 1, low_open=True),
    "rate_drop": _Rule(float, 0, 1),
    "skip_drop": _Rule(float, 0, 1),
    "one_drop": _Rule(_integer, 0, 1),
    "sample_type": _Rule(_text, choices=frozenset({"uniform", "weighted"})),
    "normalize_type": _Rule(_text, choices=frozenset({"tree", "forest"})),
    "lambda_bias": _Rule(float, 0, None),
    "verbosity": _Rule(_integer, 0, 3),
    "nthread": _Rule(_integer, 1, None),
    "interaction_constraints": _Rule(_text),
    "monotone_constraints": _Rule(_text),
    "huber_slope": _Rule(float, 0, None, low_open=True),
    "quantile_alpha": _Rule(float, 0, 1, low_open=True),
}
# Names the container accepts but that do not reach xgboost.train's params.
_NOT_PARAMS = {"num_round", "early_stopping_rounds"}
_MAX_NUM_ROUND = 100_000


@dataclass(frozen=True)
class TrainingParams:
    """Hyperparameters turned into ``xgboost.train`` arguments."""

    params: dict[str, Any]
    num_round: int
    early_stopping_rounds: int | None
    eval_metrics: list[str] = field(default_factory=list)


def _check_range(name: str, value: float, rule: _Rule) -> None:
    low_ok = rule.low is None or (value > rule.low if rule.low_open else value >= rule.low)
    high_ok = rule.high is None or value <= rule.high
    if not (low_ok and high_ok):
        low = "-inf" if rule.low is None else rule.low
        high = "inf" if rule.high is None else rule.high
        bracket = "(" if rule.low_open else "["
        raise HyperparameterError(
            f"Hyperparameter {name}: value {value} not in range {bracket}{low}, {high}]"
        )


def _check_eval_metric(raw: str) -> list[str]:
    metrics = [m.strip() for m in raw.split(",") if m.strip()]
    if not metrics:
        raise HyperparameterError("Hyperparameter eval_metric: empty value")
    for metric in metrics:
        base = metric.split("@", 1)[0]
        if base not in EVAL_METRICS:
            raise HyperparameterError(
                f"Hyperparameter eval_metric: value {metric} not in {sorted(EVAL_METRICS)}"
            )
    return metrics


def validate(hyperparameters: Mapping[str, str] | None, *, has_validation: bool) -> TrainingParams:
    """Check SageMaker hyperparameter strings and return ``xgboost.train`` arguments.

    Raises
    ------
    HyperparameterError
        With the message the job's ``FailureReason`` carries (after ``ClientError: ``).
    """
    raw = dict(hyperparameters or {})
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if name.startswith(("sagemaker_", "_")):
            continue  # SDK bookkeeping (e.g. _tuning_objective_metric) is ignored by the container
        rule = RULES.get(name)
        if rule is None:
            raise HyperparameterError(f"Extraneous hyperparameter found: {name}")
        try:
            value = rule.kind(text)
        except (TypeError, ValueError):
            kind = "integer" if rule.kind is _integer else "number"
            raise HyperparameterError(
                f"Hyperparameter {name}: value {text!r} is not a valid {kind}"
            ) from None
        if rule.choices is not None and value not in rule.choices:
            raise HyperparameterError(
                f"Hyperparameter {name}: value {value} not in {sorted(rule.choices)}"
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            _check_range(name, float(value), rule)
        values[name] = value

    if "num_round" not in values:
        raise HyperparameterError("Missing required hyperparameter: num_round")
    if values["num_round"] > _MAX_NUM_ROUND:
        raise HyperparameterError(f"Hyperparameter num_round: value above {_MAX_NUM_ROUND}")
    objective = values.get("objective", "reg:squarederror")
    if objective == "reg:linear":
        objective = "reg:squarederror"  # deprecated alias the container still accepts
    if objective.startswith("multi:") and "num_class" not in values:
        raise HyperparameterError(f"Hyperparameter num_class is required for objective {objective}")
    early = values.get("early_stopping_rounds")
    if early is not None and not has_validation:
        raise HyperparameterError(
            "Hyperparameter early_stopping_rounds requires a 'validation' channel"
        )
    if values.get("tree_method") == "gpu_hist":
        raise HyperparameterError(
            "tree_method gpu_hist needs a GPU instance; the local stack has none"
        )

    metrics = _check_eval_metric(values["eval_metric"]) if "eval_metric" in values else []
    params: dict[str, Any] = {"objective": objective}
    for name, value in values.items():
        if name in _NOT_PARAMS or name in ("objective", "eval_metric"):
            continue
        params[RULES[name].xgb_name or name] = value
    params.setdefault("nthread", os.cpu_count() or 1)  # a training instance uses its cores
    params.setdefault("verbosity", 0)
    if metrics:
        params["eval_metric"] = metrics
    return TrainingParams(
        params=params,
        num_round=values["num_round"],
        early_stopping_rounds=early,
        eval_metrics=metrics,
    )
