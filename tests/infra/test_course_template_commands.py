"""The course template's commands (steps 0-5), run with bash against the local stack.

The commands are read from the template as students receive it
(``../shared/reference/course-template.md``) and run as written, except for the corrections in
``CORRECTIONS`` below, each with its reason (the README's table "Qué corrige este proyecto
respecto de la plantilla del curso" says the same). Its placeholders (``<TU-PREFIJO>``, ...) are
filled in as the template asks. Then the project's cleanup removes what the template made.

What this proves: the template's names are the project's defaults; its producer and training
commands run as written; the Lambda configured only with the template's three variables scores
the trips and sends them through the template's Firehose to ``s3://$PROCESSED_BUCKET/predictions/``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest

from e2e_helpers import read_jsonl_objects, wait_for
from taximl import constants

pytestmark = [pytest.mark.stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data")).parent
TEMPLATE = SHARED / "reference" / "course-template.md"
ACCOUNT, PREFIX = "123456789012", "tplcmd"
MANAGED_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"

#: Placeholders the template tells students to replace ("Reemplázalos con tus nombres").
PLACEHOLDERS = {
    "<TU-PREFIJO>": PREFIX,
    "<ARN-ROLE-SAGEMAKER>": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker",
    "<ARN-ROLE-FIREHOSE>": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-firehose",
    "<TU-CUENTA>": ACCOUNT, "<CUENTA>": ACCOUNT, "<REGION>": "us-east-1",
}
#: (template text, what runs instead, why). Everything else runs as written.
CORRECTIONS: list[tuple[str, str, str]] = [
    ("python -m venv .venv && source .venv/bin/activate", "",
     "the project's environment is already active (make setup installs everything once)"),
    ("pip install -r sagemaker/requirements.txt", "", "installed by make setup"),
    ("pip install -r producer/requirements.txt", "", "installed by make setup"),
    ("cd lambda\n", "", "the package is built from the repository root"),
    ("pip install -r requirements.txt\nzip -r9 ../lambda.zip .\ncd ..\n",
     "python lambda/build_zip.py\n",
     "the template's zip has neither the shared taximl package nor Powertools: the handler "
     "would fail to import; build_zip.py bundles both and checks the Lambda size limits"),
    ("file://infra/trust-lambda.json", "file://infra/iam/lambda-trust.json",
     "the project keeps every IAM document under infra/iam/"),
    ('"Variables={{', '"Variables={', "the AWS CLI rejects the template's doubled braces"),
    ('THRESHOLD=10}}"', 'THRESHOLD=10}"', "the AWS CLI rejects the template's doubled braces"),
]


def template_commands() -> dict[str, str]:
    """The bash blocks of the template's steps 0-5, by step number."""
    text = TEMPLATE.read_text(encoding="utf-8")
    steps = {}
    for number in range(6):
        start = text.index(f"### {number})")
        end = text.find("\n### ", start + 1)
        steps[str(number)] = "\n".join(re.findall(r"```bash\n(.*?)```", text[start:end], re.S))
    return steps


def corrected(script: str, managed_policies: bool) -> str:
    for old, new in PLACEHOLDERS.items():
        script = script.replace(old, new)
    for old, new, _why in CORRECTIONS:
        script = script.replace(old, new)
    if not managed_policies:  # the local IAM has no AWS managed policies (see the report)
        script = "\n".join(line for line in script.splitlines()
                           if "aws iam attach-role-policy" not in line)
    return script


def _lambda_status(endpoint: str) -> dict:
    with urllib.request.urlopen(endpoint + "/_status", timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def course_env(local_stack) -> dict[str, str]:
    if not TEMPLATE.exists():
        pytest.skip(f"the course template is not at {TEMPLATE}")
    names = {v for k, v in vars(constants).items() if k.startswith("ENV_")}
    names -= {constants.ENV_REGION, constants.ENV_DEFAULT_REGION}
    names |= set(constants.TEMPLATE_ALIASES.values()) | {"SAGEMAKER_ROLE_ARN"}
    env = {k: v for k, v in {**os.environ, **local_stack.env}.items() if k not in names}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["AWS_REGION"] = "us-east-1"
    return env


def test_course_template_commands_run_against_the_local_stack(course_env, local_stack):
    steps = template_commands()
    iam = boto3.client("iam")
    try:
        iam.get_policy(PolicyArn=MANAGED_POLICY)
        managed = True
    except iam.exceptions.NoSuchEntityException:
        managed = False
    bash = ["bash", "-euo", "pipefail", "-c"]

    def run(script: str, timeout: int = 600) -> str:
        result = subprocess.run([*bash, script], cwd=REPO, env=course_env, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, f"{script}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result.stdout

    variables = corrected(steps["0"], managed)
    # step 1: buckets with versioning, Glue nyc_db, the sample under nyc_taxi/ (as written);
    # its Athena DDL is wrong (tests/local/test_athena_course_sql.py), so the project's step 1
    # makes the raw table the training step reads
    run(variables + "\n" + corrected(steps["1"], managed)
        + "\npython infra/datalake/setup_datalake.py --sample data/sample_nyc_taxi.csv")
    # step 2: train, register, deploy with the template's options (CTAS into train/)
    out = run(variables + "\n" + corrected(steps["2"], managed))
    assert "training set    : s3://tplcmd-nyc-processed/train/ is empty" in out
    assert "deployed: endpoint taxi-fare-xgb-endpoint" in out
    # steps 3-4: stream, Firehose to S3 predictions/, the role, the function, LATEST mapping
    run(variables + "\n" + corrected(steps["3"], managed) + "\n" + corrected(steps["4"], managed))
    lam = boto3.client("lambda")
    function = lam.get_function_configuration(FunctionName="taxi-kinesis-infer")
    assert function["Environment"]["Variables"] == {
        "SAGEMAKER_ENDPOINT": "taxi-fare-xgb-endpoint",
        "FIREHOSE_STREAM": "taxi-predictions-firehose", "THRESHOLD": "10"}
    [mapping] = lam.list_event_source_mappings(
        FunctionName="taxi-kinesis-infer")["EventSourceMappings"]
    lambda_endpoint = local_stack.endpoint("lambda")
    wait_for(lambda: any(m["uuid"] == mapping["UUID"] and m["shards"] and all(
        s["millis_behind_latest"] is not None for s in m["shards"].values())
        for m in _lambda_status(lambda_endpoint)["mappings"]), 120,
        "the LATEST poller's first read")
    # step 5: the producer command exactly as written, stopped with Ctrl-C after a few seconds
    producer = corrected(steps["5"], managed).strip().replace(
        "python producer/producer.py", "timeout -s INT 6 python producer/producer.py")
    result = subprocess.run([*bash, variables + "\n" + producer + " || test $? -eq 124"],
                            cwd=REPO, env=course_env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    sent = int(re.search(r"sent\s+(\d+) records", result.stdout).group(1))
    assert sent >= 20, result.stdout  # 10 events/s for ~6 s
    assert "-> Kinesis stream taxi-trips-stream" in result.stdout
    # the Lambda scored them: the template's Firehose buffers 300 s; a restart flushes it
    wait_for(lambda: sum(json.loads(line).get("scored", 0) for line in _scorer_log(local_stack)
                         if line.startswith("{") and '"batch scored"' in line) >= sent,
             120, "every sent trip scored")
    local_stack.restart()
    rows = read_jsonl_objects("tplcmd-nyc-processed", "predictions/")
    assert len({r["trip_id"] for r in rows}) == sent
    assert all(r["predicted_fare"] > 0 and r["model_version"] == "mv-1" for r in rows)


def _scorer_log(local_stack) -> list[str]:
    path = local_stack.state_dir / "logs" / "lambda" / "taxi-kinesis-infer.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_cleanup_removes_what_the_template_made(course_env):
    # GIVEN the template's variables only (RAW_BUCKET... as in its step 0)
    env = {**course_env, "RAW_BUCKET": f"{PREFIX}-nyc-raw",
           "PROCESSED_BUCKET": f"{PREFIX}-nyc-processed", "MODELS_BUCKET": f"{PREFIX}-nyc-models",
           "KINESIS_STREAM_NAME": "taxi-trips-stream"}
    result = subprocess.run([sys.executable, "infra/cleanup.py", "--yes"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    out = result.stdout
    for line in ("Kinesis data stream taxi-trips-stream", "Lambda function taxi-kinesis-infer",
                 "Firehose delivery stream taxi-predictions-firehose",
                 "SageMaker endpoint taxi-fare-xgb-endpoint", "IAM role taxi-lambda-role",
                 "Glue database (with its tables) nyc_db",
                 "S3 bucket (every object version) tplcmd-nyc-processed"):
        assert f"deleted  {line}" in out, out
    assert "taxi-trips-stream" not in boto3.client("kinesis").list_streams()["StreamNames"]
    assert not [b for b in boto3.client("s3").list_buckets()["Buckets"]
                if b["Name"].startswith(PREFIX)]
