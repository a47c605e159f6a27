"""The SageMaker built-in XGBoost image URI of a region, from the SageMaker Python SDK.

``image_uri("us-east-1")`` is ``sagemaker.core.image_uris.retrieve("xgboost", "us-east-1",
"1.7-1")``: the SDK ships the ECR account of every region (``image_uri_config/xgboost.json``),
so a new region comes with an SDK upgrade, not with an edit here. The SDK is imported on the
first call only: this module is also imported by code that runs in the processing image.
"""

from __future__ import annotations

DEFAULT_VERSION = "1.7-1"
#: The processing steps of the retraining pipeline run the repository's own code (taximl,
#: sagemaker/) inside this newer image of the same repository: Python 3.10, pandas, pyarrow,
#: boto3 and an xgboost that reads the 1.7-1 model artifacts.
PROCESSING_VERSION = "3.0-5"
FRAMEWORK = "xgboost"


def image_uri(region: str, version: str = DEFAULT_VERSION) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<version>``.

    Raises ValueError for a region or version without the built-in XGBoost image (with the
    SDK's list of the supported ones).
    """
    import sagemaker_sdk

    try:
        return str(sagemaker_sdk.image_uris().retrieve(FRAMEWORK, region, version))
    except ValueError as exc:
        raise ValueError(
            f"no SageMaker built-in XGBoost image {version} for region {region!r}: {exc}"
        ) from exc
