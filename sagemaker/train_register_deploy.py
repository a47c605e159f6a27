"""Step 2 (and 8): train the fare model, register it, deploy it, roll it back.

Commands (the same against AWS and against the local stack: only the endpoint environment
differs; resource names come from ``python -m taximl.config``):

    python sagemaker/train_register_deploy.py train   # CTAS, training job, report, registry
    python sagemaker/train_register_deploy.py run        # train, then deploy if approved
    python sagemaker/train_register_deploy.py approve --version 3
    python sagemaker/train_register_deploy.py deploy [--version 3] [--serverless]
    python sagemaker/train_register_deploy.py rollback
    python sagemaker/train_register_deploy.py status
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import deployment
import evaluation
import registry
import release
from aws_clients import make_clients
from cli_logging import configure_cli_logging
from taximl.config import Settings
from taximl.errors import TaxiMLError
from taximl.thresholds import MODE_CALIBRATED, MODE_FIXED
from training_flow import TrainOptions, TrainResult, train_and_register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role-arn", help="SageMaker execution role (default: "
                        "$SAGEMAKER_ROLE_ARN, else <prefix>-sagemaker-execution is created)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_train(p: argparse.ArgumentParser) -> None:
        p.add_argument("--from-month", default="000001", help="first month, YYYYMM")
        p.add_argument("--to-month", default="999912", help="last month, YYYYMM")
        p.add_argument("--sample-fraction", type=float, default=1.0,
                       help="random share of the cleaned trips to use (0-1]")
        p.add_argument("--trips-uri", help="reuse an existing training-set folder (skip the CTAS)")
        p.add_argument("--instance-type", default="ml.m5.xlarge", help="training instance")
        p.add_argument("--margin", type=float, default=registry.DEFAULT_MARGIN,
                       help="relative RMSE improvement needed for automatic approval")
        p.add_argument("--target-fpr", type=float, default=0.01,
                       help="false-positive rate the thresholds are calibrated for")

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

    add_train(sub.add_parser("train", help="training set, training job, report, registry"))
    run = sub.add_parser("run", help="train, then deploy the new version if it was approved")
    add_train(run)
    run.add_argument("--serverless", action="store_true")
    run.add_argument("--memory-mb", type=int, default=2048)
    run.add_argument("--threshold-mode", choices=(MODE_CALIBRATED, MODE_FIXED),
                     default=MODE_CALIBRATED)
    approve = sub.add_parser("approve", help="approve a version by hand")
    approve.add_argument("--version", type=int, required=True)
    approve.add_argument("--reason", default="approved by hand")
    deploy = sub.add_parser("deploy", help="serve the latest (or a given) approved version")
    deploy.add_argument("--version", type=int)
    add_serving(deploy)
    rollback = sub.add_parser("rollback", help="serve the previous approved version")
    add_serving(rollback)
    sub.add_parser("status", help="which version serves, and the registry's versions")
    return parser


def serving_options(args: argparse.Namespace) -> deployment.ServingOptions:
    return deployment.ServingOptions(
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        serverless_memory_mb=args.memory_mb if args.serverless else None,
        serverless_max_concurrency=args.max_concurrency,
    )


def print_train(result: TrainResult, settings: Settings) -> None:
    report = result.report
    print()
    print(evaluation.format_table(report))
    print()
    print(f"training job    : {result.job_name}")
    print(f"training data   : {result.trips_uri}  splits {report['split_sizes']}")
    print(f"model artifact  : {result.model_uri}")
    print(f"report          : {result.report_uri}")
    print(f"thresholds      : {result.thresholds_uri}  (DynamoDB {settings.params_table} "
          f"id={result.threshold_param}; {report['thresholds']['test_flagged_rate']:.2%} of test "
          "trips flagged)")
    print(f"registry        : {settings.model_package_group} version {result.version} -> "
          f"{result.decision.status}")
    print(f"gate            : {result.decision.reason}")
    print(f"seconds per step: {result.seconds}")
    if result.decision.approve:
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
    args = build_parser().parse_args(argv)
    configure_cli_logging(args.quiet)
    settings = Settings.from_env()
    clients = make_clients(settings.region)
    try:
        if args.command in ("train", "run"):
            options = TrainOptions(
                from_month=args.from_month, to_month=args.to_month,
                sample_fraction=args.sample_fraction, trips_uri=args.trips_uri,
                role_arn=args.role_arn, instance_type=args.instance_type, margin=args.margin,
                target_fpr=args.target_fpr, progress=not args.quiet,
            )
            result = train_and_register(settings, clients, options)
            print_train(result, settings)
            if args.command == "run" and result.decision.approve:
                rel = release.deploy(
                    settings, clients, version=result.version,
                    options=deployment.ServingOptions(
                        serverless_memory_mb=args.memory_mb if args.serverless else None),
                    threshold_mode=args.threshold_mode, role_arn=args.role_arn,
                )
                print_release("deployed", rel)
        elif args.command == "approve":
            package = release.approve(settings, clients, args.version, args.reason)
            print(f"version {args.version}: {package['ModelApprovalStatus']}")
            print("next: python sagemaker/train_register_deploy.py deploy")
        elif args.command == "deploy":
            rel = release.deploy(settings, clients, version=args.version,
                                 options=serving_options(args),
                                 threshold_mode=args.threshold_mode, role_arn=args.role_arn)
            print_release("deployed", rel)
        elif args.command == "rollback":
            rel = release.rollback(settings, clients, options=serving_options(args),
                                   threshold_mode=args.threshold_mode, role_arn=args.role_arn)
            print_release("rolled back", rel)
        elif args.command == "status":
            print_status(settings, clients)
    except TaxiMLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
