"""Unit tests of the local SageMaker logic (no stack): hyperparameters, serving stages, cache."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import xgboost as xgb

from local.sagemaker.errors import HyperparameterError, ModelLoadError, ServingError
from local.sagemaker.hyperparameters import validate
from local.sagemaker.serving import (
    choose_accept,
    encode,
    invoke,
    load_model_archive,
    parse,
    parse_libsvm,
)
from local.sagemaker.training import pack_model


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 10, (200, 3))
    label = 2 * features[:, 0] + features[:, 2]
    return xgb.train({"nthread": 1}, xgb.DMatrix(features, label=label), 10)


# ----------------------------------------------------------------------- hyperparameters


def test_hyperparameters_become_xgboost_arguments():
    params = validate(
        {
            "num_round": "50",
            "max_depth": "5",
            "eta": "0.2",
            "eval_metric": "rmse,mae",
            "early_stopping_rounds": "3",
            "gamma": "0.1",
            "lambda": "2",
            "alpha": "0.5",
            "seed": "7",
            "tree_method": "hist",
            "_tuning_objective_metric": "validation:rmse",
        },
        has_validation=True,
    )
    assert params.num_round == 50 and params.early_stopping_rounds == 3
    assert params.params["max_depth"] == 5 and params.params["eta"] == 0.2
    assert params.params["eval_metric"] == ["rmse", "mae"]
    assert params.params["lambda"] == 2.0 and params.params["tree_method"] == "hist"
    assert "_tuning_objective_metric" not in params.params


@pytest.mark.parametrize(
    "bad",
    [
        {"num_round": "0"},
        {"num_round": "1.5"},
        {"num_round": "10", "colsample_bytree": "0"},
        {"num_round": "10", "min_child_weight": "-1"},
        {"num_round": "10", "objective": "multi:softmax"},  # needs num_class
        {"num_round": "10", "early_stopping_rounds": "3"},  # needs a validation channel
        {"num_round": "10", "eval_metric": "rmse,foo"},
        {"num_round": "10", "tree_method": "gpu_hist"},
    ],
)
def test_bad_hyperparameters_fail_fast(bad):
    with pytest.raises(HyperparameterError):
        validate(bad, has_validation=False)


def test_eval_metric_with_threshold_is_accepted():
    assert validate({"num_round": "1", "eval_metric": "error@0.7"}, has_validation=False)


# ----------------------------------------------------------------------- serving stages


def test_csv_rows_with_empty_fields_are_missing_values():
    features = parse(b"1,,3\n4,5,\n", "text/csv; charset=utf-8")
    assert features.matrix.shape == (2, 3)
    assert np.isnan(features.matrix[0, 1]) and np.isnan(features.matrix[1, 2])


def test_libsvm_rows_with_and_without_labels():
    matrix, labels = parse_libsvm(b"1 0:1.5 2:3\n0:2\n")
    assert labels == [1.0]
    assert matrix.shape == (2, 3)
    assert np.isnan(matrix[1, 1])


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "text/csv", 204),
        (b"  \n", "text/csv", 204),
        (b'{"a": 1}', "application/json", 415),
        (b"1,x,3", "text/csv", 400),
        (b"1 a:b", "text/libsvm", 400),
    ],
)
def test_parse_failures_have_the_container_status(body, content_type, status):
    with pytest.raises(ServingError) as caught:
        parse(body, content_type)
    assert caught.value.status == status


def test_accept_negotiation():
    assert choose_accept(None) == "text/csv"
    assert choose_accept("*/*") == "text/csv"
    assert choose_accept("application/json; charset=utf-8") == "application/json"
    assert choose_accept("image/png, application/jsonlines") == "application/jsonlines"
    with pytest.raises(ServingError) as caught:
        choose_accept("image/png")
    assert caught.value.status == 406


def test_encodings():
    scores = np.array([1.5, 2.0], dtype=np.float32)
    assert encode(scores, "text/csv").body == b"1.5,2.0"
    assert json.loads(encode(scores, "application/json").body) == {
        "predictions": [{"score": 1.5}, {"score": 2.0}]
    }
    lines = encode(scores, "application/jsonlines").body.decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"score": 1.5}, {"score": 2.0}]


def test_invoke_matches_xgboost_predict(booster):
    rows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    prediction = invoke(booster, b"1,2,3\n4,5,6\n", "text/csv", "text/csv")
    expected = booster.predict(xgb.DMatrix(rows))
    assert [float(v) for v in prediction.body.decode().split(",")] == pytest.approx(expected)


def test_libsvm_rows_shorter_than_the_model_are_padded(booster):
    prediction = invoke(booster, b"0:1 1:2\n", "text/libsvm", "text/csv")
    assert len(prediction.body.decode().split(",")) == 1


def test_csv_with_wrong_width_is_400(booster):
    with pytest.raises(ServingError) as caught:
        invoke(booster, b"1,2\n", "text/csv", "text/csv")
    assert caught.value.status == 400


# ----------------------------------------------------------------------- model archive


def test_model_archive_round_trip(booster):
    loaded = load_model_archive(pack_model(booster))
    rows = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    assert loaded.inplace_predict(rows) == pytest.approx(booster.inplace_predict(rows))


def test_archive_without_xgboost_model_is_a_load_error():
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("other-file")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ModelLoadError):
        load_model_archive(buffer.getvalue())
    with pytest.raises(ModelLoadError):
        load_model_archive(b"not a tarball")
