"""The SageMaker built-in XGBoost image URI for a region (boto3 only, no SageMaker SDK).

The built-in algorithm images live in one ECR account per region. This is the table the
SageMaker Python SDK ships in ``image_uri_config/xgboost.json`` for the ``sagemaker-xgboost``
repository (versions 1.0-1 and later, same accounts for every version), so that
``image_uri("us-east-1")`` equals the SDK's
``sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.7-1")``.
"""

from __future__ import annotations

DEFAULT_VERSION = "1.7-1"
#: The processing steps of the retraining pipeline run the repository's own code (taximl,
#: sagemaker/) inside this newer image of the same repository: Python 3.10, pandas, pyarrow,
#: boto3 and an xgboost that reads the 1.7-1 model artifacts.
PROCESSING_VERSION = "3.0-5"
REPOSITORY = "sagemaker-xgboost"

ACCOUNTS: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}


def image_uri(region: str, version: str = DEFAULT_VERSION) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<version>``.

    Raises ValueError for a region without the built-in XGBoost image.
    """
    account = ACCOUNTS.get(region)
    if account is None:
        raise ValueError(
            f"no SageMaker built-in XGBoost image known for region {region!r} "
            f"(known: {', '.join(sorted(ACCOUNTS))})"
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{REPOSITORY}:{version}"
