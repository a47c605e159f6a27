"""Step 2 (and 8): train the fare model, register it, deploy it, roll it back.

Commands (the same against AWS and against the local stack: only the endpoint environment
differs; resource names come from ``python -m taximl.config``):

    python sagemaker/train_register_deploy.py train   # CTAS, training job, report, registry
    python sagemaker/train_register_deploy.py run        # train, then deploy if approved
    python sagemaker/train_register_deploy.py approve --version 3
    python sagemaker/train_register_deploy.py deploy [--version 3] [--serverless]
    python sagemaker/train_register_deploy.py rollback
    python sagemaker/train_register_deploy.py status

The course template's form works as written (no command = ``run``: train, register, deploy)::

    python sagemaker/train_register_deploy.py --region $AWS_REGION \
        --role $SAGEMAKER_EXECUTION_ROLE --train_s3 s3://$PROCESSED_BUCKET/train/ \
        --models_s3 s3://$MODELS_BUCKET/ --endpoint_name taxi-fare-xgb-endpoint

Its options go before the command (``--region eu-west-1 deploy``): ``--region``; ``--role`` (the
execution role's ARN; default ``$SAGEMAKER_ROLE_ARN``, then the template's
``$SAGEMAKER_EXECUTION_ROLE``, else ``<prefix>-sagemaker-execution`` is created);
``--train_s3`` (the training set's folder: reused when it already holds the project's training
set, filled by the project's CTAS when it is empty); ``--models_s3`` (the bucket that receives
the models, ``s3://bucket/``); ``--endpoint_name``. A version is deployed only if the approval
gate approved it (the template deploys whatever it trained).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deployment
import evaluation
import registry
import release
import trainset
from aws_clients import make_clients
from batch_s3 import (
    NOT_DATA_SUFFIXES,  # the CTAS side files
    bucket_exists,
    list_keys,
    parse_s3_uri,
)
from cli_logging import configure_cli_logging
from taximl.config import Settings
from taximl.errors import InvalidInputError, TaxiMLError
from taximl.thresholds import (
    DEFAULT_MATERIALITY_ABS,
    DEFAULT_MATERIALITY_REL,
    DEFAULT_TARGET_FPR,
    MODE_CALIBRATED,
    MODE_FIXED,
)
from training_flow import TrainOptions, TrainResult, train_and_register

#: The course template's variable for the execution role (the project's is SAGEMAKER_ROLE_ARN).
ENV_TEMPLATE_ROLE = "SAGEMAKER_EXECUTION_ROLE"
ENV_ROLE = "SAGEMAKER_ROLE_ARN"
#: What runs when no command is given (the course template's call): train, register, deploy.
DEFAULT_COMMAND = "run"
#: A training set must carry pickup times: the project splits train/validation/test by time.
PICKUP_COLUMNS = ("pickup_datetime", "tpep_pickup_datetime", "lpep_pickup_datetime")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role-arn", "--role", dest="role_arn",
                        help=f"SageMaker execution role ARN (default: ${ENV_ROLE}, then "
                        f"${ENV_TEMPLATE_ROLE}, else <prefix>-sagemaker-execution is created)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, else us-east-1)")
    parser.add_argument("--train_s3", "--train-s3", dest="train_s3", metavar="S3_URI",
                        help="training set folder: reused if it holds the project's training "
                        "set, filled by the project's CTAS if empty (train and run only)")
    parser.add_argument("--models_s3", "--models-s3", dest="models_s3", metavar="S3_URI",
                        help="bucket for the models, s3://bucket/ (default: MODELS_BUCKET)")
    parser.add_argument("--endpoint_name", "--endpoint-name", dest="endpoint_name",
                        help="SageMaker endpoint (default: ENDPOINT_NAME or SAGEMAKER_ENDPOINT, "
                        "else taxi-fare-xgb-endpoint)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", metavar="command",
                                help=f"what to do (default {DEFAULT_COMMAND}: train, register, "
                                "deploy the new version if approved)")

    def add_train(p: argparse.ArgumentParser) -> None:
        p.add_argument("--from-month", default="000001", help="first month, YYYYMM")
        p.add_argument("--to-month", default="999912", help="last month, YYYYMM")
        p.add_argument("--sample-fraction", type=float, default=1.0,
                       help="random share of the cleaned trips to use (0-1]")
        p.add_argument("--trips-uri", help="reuse an existing training-set folder (skip the CTAS)")
        p.add_argument("--instance-type", default="ml.m5.xlarge", help="training instance")
        p.add_argument("--margin", type=float, default=registry.DEFAULT_MARGIN,
                       help="relative RMSE improvement needed for automatic approval")
        p.add_argument("--target-fpr", type=float, default=DEFAULT_TARGET_FPR,
                       help="share of trips the thresholds flag, calibrated on the calibration "
                            "split (default %(default)s)")
        p.add_argument("--materiality-abs", type=float, default=DEFAULT_MATERIALITY_ABS,
                       help="never flag a deviation of this many dollars or less "
                            "(default %(default)s)")
        p.add_argument("--materiality-rel", type=float, default=DEFAULT_MATERIALITY_REL,
                       help="never flag a deviation of this share of the predicted fare or less "
                            "(default %(default)s)")

    def add_serving(p: argparse.ArgumentParser) -> None:
        p.add_argument("--instance-type", default=deployment.DEFAULT_INSTANCE_TYPE)
        p.add_argument("--instance-count", type=int, default=1)
        p.add_argument("--serverless", action="store_true",
                       help="serverless inference (no idle cost; cold starts)")
        p.add_argument("--memory-mb", type=int, default=2048, help="serverless memory")
        p.add_argument("--max-concurrency", type=int, default=5, help="serverless concurrency")
        p.add_argument("--threshold-mode", choices=(MODE_CALIBRATED, MODE_FIXED),
                       default=MODE_CALIBRATED,
                       help="calibrated per-segment thresholds or the course's fixed $ threshold")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, allow_abbrev=False)

    add_train(command("train", "training set, training job, report, registry"))
    run = command("run", "train, then deploy the new version if it was approved")
    add_train(run)
    run.add_argument("--serverless", action="store_true")
    run.add_argument("--memory-mb", type=int, default=2048)
    run.add_argument("--threshold-mode", choices=(MODE_CALIBRATED, MODE_FIXED),
                     default=MODE_CALIBRATED)
    approve = command("approve", "approve a version by hand")
    approve.add_argument("--version", type=int, required=True)
    approve.add_argument("--reason", default="approved by hand")
    deploy = command("deploy", "serve the latest (or a given) approved version")
    deploy.add_argument("--version", type=int)
    add_serving(deploy)
    rollback = command("rollback", "serve the previous approved version")
    add_serving(rollback)
    command("status", "which version serves, and the registry's versions")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; without a command it is ``run`` (the course template's call)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, DEFAULT_COMMAND])
    if args.train_s3 and args.command not in ("train", "run"):
        parser.error(f"--train_s3 applies to train and run, not to {args.command}")
    for name in ("train_s3", "models_s3"):
        value = getattr(args, name)
        if value is not None and not (value.startswith("s3://") and len(value) > 5
                                      and value[5] != "/"):
            parser.error(f"--{name} {value}: expected an s3:// URI")
    if args.models_s3 is not None:
        bucket, key = args.models_s3[len("s3://"):].partition("/")[::2]
        if not bucket or key.strip("/"):
            parser.error(f"--models_s3 {args.models_s3}: give the bucket only (s3://bucket/); "
                         "models go to s3://bucket/training-jobs/<job>/")
    if args.train_s3 is not None:
        args.train_s3 = args.train_s3.rstrip("/") + "/"
    return args


def settings_for(args: argparse.Namespace, env: dict[str, str] | None = None) -> Settings:
    """The resource names, with the template's options taking precedence over the environment."""
    models_bucket = parse_s3_uri(args.models_s3)[0] if args.models_s3 else None
    return Settings.from_env(env, region=args.region, endpoint_name=args.endpoint_name,
                             models_bucket=models_bucket)


def role_of(args: argparse.Namespace, env: dict[str, str] | None = None) -> str | None:
    """``--role``, else ``$SAGEMAKER_ROLE_ARN``, else the template's variable."""
    env = os.environ if env is None else env
    return args.role_arn or env.get(ENV_ROLE) or env.get(ENV_TEMPLATE_ROLE) or None


def training_set(s3: Any, athena: Any, settings: Settings, args: argparse.Namespace) -> str | None:
    """The ``trips_uri`` of this run for ``--train_s3``: reuse the folder or fill it by CTAS.

    None (no ``--train_s3``): the training run writes a new CTAS folder of its own, as always.
    """
    uri = args.train_s3
    if uri is None:
        return None
    bucket, prefix = parse_s3_uri(uri)
    if not bucket_exists(s3, bucket):
        raise InvalidInputError(f"--train_s3 {uri}: bucket {bucket} does not exist (step 1 "
                                "creates it: python infra/datalake/setup_datalake.py)")
    files = [key for key, size in list_keys(s3, bucket, prefix)
             if size > 0 and not key.endswith(NOT_DATA_SUFFIXES)]
    if not files:
        print(f"training set    : {uri} is empty: running the project's CTAS "
              f"({settings.glue_database}.{settings.raw_table} -> {uri})")
        trainset.run_ctas(athena, settings, uri, from_month=args.from_month,
                          to_month=args.to_month, sample_fraction=args.sample_fraction)
        return uri
    columns = _parquet_columns(s3, bucket, files[0])
    if not any(name in columns for name in PICKUP_COLUMNS):
        raise InvalidInputError(
            f"--train_s3 {uri} holds a training set without pickup times (columns "
            f"{', '.join(columns[:8])}): the course template's CTAS drops them, but the project "
            "splits train/validation/test by time and computes duration, hour and speed. Empty "
            f"the folder (aws s3 rm --recursive {uri}) and run again: the project's CTAS "
            "(infra/sql/create_training_set.sql) fills it")
    print(f"training set    : reusing {uri} ({len(files)} files; empty the folder to rebuild)")
    return uri


def _parquet_columns(s3: Any, bucket: str, key: str) -> list[str]:
    import io

    import pyarrow.parquet as pq

    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return [name.lower() for name in pq.read_schema(io.BytesIO(body)).names]
    except Exception as exc:  # pyarrow raises several types for "not Parquet"
        raise InvalidInputError(f"s3://{bucket}/{key} is not a Parquet file ({exc}): "
                                "--train_s3 must hold the Parquet output of a CTAS") from exc


def serving_options(args: argparse.Namespace) -> deployment.ServingOptions:
    return deployment.ServingOptions(
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        serverless_memory_mb=args.memory_mb if args.serverless else None,
        serverless_max_concurrency=args.max_concurrency,
    )


def print_train(result: TrainResult, settings: Settings, deploys_next: bool = False) -> None:
    report = result.report
    print()
    print(evaluation.format_table(report))
    print()
    print(f"training job    : {result.job_name}")
    print(f"training data   : {result.trips_uri}  splits {report['split_sizes']}")
    print(f"model artifact  : {result.model_uri}")
    print(f"report          : {result.report_uri}")
    rates = report["flag_rate"]
    low, high = rates["overall"]["ci95"]
    print(f"thresholds      : {result.thresholds_uri}  (DynamoDB {settings.params_table} "
          f"id={result.threshold_param}; {report['thresholds']['test_flagged_rate']:.2%} of test "
          f"trips flagged, 95% CI {low:.2%}-{high:.2%}, target {rates['target']:.2%})")
    print(f"registry        : {settings.model_package_group} version {result.version} -> "
          f"{result.decision.status}")
    print(f"gate            : {result.decision.reason}")
    print(f"seconds per step: {result.seconds}")
    if result.decision.approve:
        if not deploys_next:
            print("next            : python sagemaker/train_register_deploy.py deploy")
    else:
        print("next            : review the report, then python "
              f"sagemaker/train_register_deploy.py approve --version {result.version}")


def print_release(action: str, rel: release.Release) -> None:
    before = rel.previous.variant if rel.previous else "(no endpoint)"
    s = rel.serving
    print(f"{action}: endpoint {s.endpoint} {before} -> {s.variant} ({s.status})")
    print(f"endpoint config : {s.config}")
    print(f"thresholds      : {rel.threshold_param} (mode {rel.threshold_mode})")
    if rel.rejected_version is not None:
        print(f"registry        : version {rel.rejected_version} marked Rejected")
    print("next            : python sagemaker/train_register_deploy.py status")


def print_status(settings: Settings, clients) -> None:
    serving = deployment.status(clients.sagemaker, settings.endpoint_name)
    if serving is None:
        print(f"endpoint {settings.endpoint_name}: does not exist "
              "(python sagemaker/train_register_deploy.py deploy)")
    else:
        print(f"endpoint {serving.endpoint}: {serving.status}, serving {serving.variant} "
              f"(config {serving.config})")
    print(f"\nregistry {settings.model_package_group}:")
    print(f"{'version':>8}  {'status':<22}{'test rmse':>10}  {'created':<20}  reason")
    for package in registry.versions(clients.sagemaker, settings.model_package_group):
        meta = package.get("CustomerMetadataProperties", {})
        serves = serving is not None and serving.version == package["ModelPackageVersion"]
        mark = " <- serving" if serves else ""
        created = str(package.get("CreationTime", ""))[:19]
        print(f"{package['ModelPackageVersion']:>8}  {package['ModelApprovalStatus']:<22}"
              f"{meta.get('test_rmse', '-'):>10}  {created:<20}  "
              f"{package.get('ApprovalDescription', '')}{mark}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_cli_logging(args.quiet)
    try:
        settings = settings_for(args)
    except ValueError as exc:  # e.g. ENDPOINT_NAME and SAGEMAKER_ENDPOINT disagree
        print(f"error: {exc}", file=sys.stderr)
        return 2
    role_arn = role_of(args)
    clients = make_clients(settings.region)
    try:
        if args.models_s3 and not bucket_exists(clients.s3, settings.models_bucket):
            raise InvalidInputError(f"--models_s3 {args.models_s3}: bucket "
                                    f"{settings.models_bucket} does not exist")
        if args.command in ("train", "run"):
            if args.train_s3 and args.trips_uri:
                raise InvalidInputError("--train_s3 and --trips-uri name the same thing: "
                                        "give one")
            trips_uri = training_set(clients.s3, clients.athena, settings, args)
            options = TrainOptions(
                from_month=args.from_month, to_month=args.to_month,
                sample_fraction=args.sample_fraction, trips_uri=trips_uri or args.trips_uri,
                role_arn=role_arn, instance_type=args.instance_type, margin=args.margin,
                target_fpr=args.target_fpr, materiality_abs=args.materiality_abs,
                materiality_rel=args.materiality_rel, progress=not args.quiet,
            )
            result = train_and_register(settings, clients, options)
            print_train(result, settings, deploys_next=args.command == "run")
            if args.command == "run" and result.decision.approve:
                rel = release.deploy(
                    settings, clients, version=result.version,
                    options=deployment.ServingOptions(
                        serverless_memory_mb=args.memory_mb if args.serverless else None),
                    threshold_mode=args.threshold_mode, role_arn=role_arn,
                )
                print_release("deployed", rel)
            elif args.command == "run":
                print(f"not deployed    : version {result.version} was not approved; endpoint "
                      f"{settings.endpoint_name} keeps serving what it served")
        elif args.command == "approve":
            package = release.approve(settings, clients, args.version, args.reason)
            print(f"version {args.version}: {package['ModelApprovalStatus']}")
            print("next: python sagemaker/train_register_deploy.py deploy")
        elif args.command == "deploy":
            rel = release.deploy(settings, clients, version=args.version,
                                 options=serving_options(args),
                                 threshold_mode=args.threshold_mode, role_arn=role_arn)
            print_release("deployed", rel)
        elif args.command == "rollback":
            rel = release.rollback(settings, clients, options=serving_options(args),
                                   threshold_mode=args.threshold_mode, role_arn=role_arn)
            print_release("rolled back", rel)
        elif args.command == "status":
            print_status(settings, clients)
    except TaxiMLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
