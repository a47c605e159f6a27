"""InvokeEndpoint throughput and latency with 500-row text/csv batches through boto3.

Against the running local stack (``source .local-stack/env.sh`` first), or, with
``--own-stack`` (the default when ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` is unset), against a
temporary stack started and stopped by this script. It trains a model like the project's (12
features, 100 rounds, depth 6) unless ``--endpoint`` names an existing one. The naive design
(one request per row, as the course template does per record) is measured on the same endpoint
for comparison (``naive_invoke_rows_per_s``).

    .venv/bin/python benchmarks/bench_sagemaker_invoke.py --requests 2000 --threads 1
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results import result

#: What ``run_all.py --quick`` passes (a busy machine).
QUICK_ARGS = ["--requests", "300"]
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
N_FEATURES = 12


@contextlib.contextmanager
def own_stack(port_base: int) -> Iterator[None]:
    """A temporary local stack, its env in os.environ while it runs."""
    from local.temporary import temporary_stack

    started = time.monotonic()
    with temporary_stack(port_base):
        print(f"stack start to healthy: {time.monotonic() - started:.2f} s")
        yield


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(f"{v:.4f}" for v in row) for row in rows)


def deploy_endpoint(rows: int = 5000) -> str:
    """Train an XGBoost model on synthetic data and put it behind a new endpoint."""
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    tag = uuid.uuid4().hex[:8]
    bucket = f"bench-sagemaker-{tag}"
    s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 50, (rows, N_FEATURES))
    label = 2.5 + 2.5 * features[:, 0] + 0.5 * features[:, 1] + rng.normal(0, 1, rows)
    body = _csv(np.column_stack([label, features]))
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=body.encode())
    job = f"bench-{tag}"
    sm.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"num_round": "100", "max_depth": "6", "eta": "0.1"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig={"Delay": 2, "MaxAttempts": 300}
    )
    artifact = sm.describe_training_job(TrainingJobName=job)["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(
        ModelName=job,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact},
    )
    sm.create_endpoint_config(
        EndpointConfigName=job,
        ProductionVariants=[
            {
                "VariantName": "mv-1",
                "ModelName": job,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName=job, EndpointConfigName=job)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=job, WaiterConfig={"Delay": 2, "MaxAttempts": 300}
    )
    return job


def run(endpoint: str, requests: int, batch: int, threads: int,
        prefix: str = "invoke") -> None:
    """Send ``requests`` batches from ``threads`` clients; print latency and throughput."""
    runtime = boto3.client("sagemaker-runtime", config=Config(max_pool_connections=threads + 2))
    rng = np.random.default_rng(1)
    bodies = [_csv(rng.uniform(0, 50, (batch, N_FEATURES))) for _ in range(8)]

    def one(i: int) -> float:
        started = time.perf_counter()
        response = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=bodies[i % len(bodies)]
        )
        scores = response["Body"].read().split(b",")
        assert len(scores) == batch
        return time.perf_counter() - started

    for i in range(30):  # warm-up: model load, connections
        one(i)
    started = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=threads) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - started
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"endpoint {endpoint}: {requests} requests x {batch} rows, {threads} client thread(s)")
    print(f"  latency p50 {p50:.2f} ms  p99 {p99:.2f} ms")
    rate = requests / elapsed
    print(f"  throughput {rate:.0f} requests/s  {rate * batch:,.0f} rows/s")
    if threads == 1:
        if prefix == "invoke":
            result(f"{prefix}_{batch}_rows_p50_ms", p50)
            result(f"{prefix}_{batch}_rows_p99_ms", p99)
        result(f"{prefix}_rows_per_s", rate * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="existing endpoint (default: train and deploy one)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--own-stack",
        action="store_true",
        help="start a temporary stack (default when no stack env is set)",
    )
    parser.add_argument("--port-base", type=int, default=5066)
    args = parser.parse_args()
    use_own = args.own_stack or not os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
    context = own_stack(args.port_base) if use_own else contextlib.nullcontext()
    with context:
        endpoint = args.endpoint or deploy_endpoint()
        for threads in sorted({1, args.threads}):
            run(endpoint, args.requests, args.batch, threads)
        print("naive design: one request per row")
        run(endpoint, min(args.requests, 500), 1, 1, prefix="naive_invoke")


if __name__ == "__main__":
    main()
