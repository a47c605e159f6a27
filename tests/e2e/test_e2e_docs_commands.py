"""The CLI commands of docs/streaming.md (steps 3-6), run verbatim with bash on the local stack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from e2e_helpers import read_jsonl_objects, wait_for
from taximl.config import Settings

pytestmark = [pytest.mark.stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "streaming.md"
SECTIONS = ("## 0.", "## Paso 3", "## Paso 4", "## Paso 5", "## Paso 6")


def doc_commands() -> str:
    """Every bash block of the sections above (only the first one of step 6), in order."""
    text = DOC.read_text()
    blocks = []
    for title in SECTIONS:
        section = text[text.index(title):]
        section = section[:section.find("\n## ", 1)]
        found = re.findall(r"```bash\n(.*?)```", section, re.S)
        blocks += found[:1] if title == "## Paso 6" else found
    return "\n".join(blocks)


def test_docs_commands_work_verbatim(pipeline, local_stack, tmp_path) -> None:
    # GIVEN the stack's env.sh where the docs expect it, and the e2e model endpoint
    script = doc_commands()
    assert "aws lambda create-event-source-mapping" in script
    assert ("python producer/producer.py "
            "data/real_sample/holdout/yellow_tripdata_2019-12.parquet") in script
    served = pipeline["settings"]
    script = script.replace("source .local-stack/env.sh",
                            f"source {local_stack.state_dir / 'env.sh'}")
    script = script.replace("--rate 200", "--rate 0 --limit 300 --no-progress")
    docs = Settings.namespaced("docs-e2e", endpoint_name=served.endpoint_name,
                               params_table=served.params_table,
                               opensearch_index="docs-e2e-predictions")
    env = {**os.environ, **docs.as_env(), "FIREHOSE_BUFFER_SECONDS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # WHEN they run in bash, stopping at the first failing command
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # THEN the mapping has the documented settings and the produced trips reach gold
    mapping = boto3.client("lambda").list_event_source_mappings(
        FunctionName=docs.function_name)["EventSourceMappings"][0]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 10
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == "arn:aws:s3:::docs-e2e-gold"
    [alarm] = boto3.client("cloudwatch").describe_alarms(
        AlarmNames=[f"{docs.project_prefix}-iterator-age"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == (
        "AWS/Lambda", "IteratorAge", 120_000)
    assert alarm["AlarmActions"] == [
        "arn:aws:sns:us-east-1:123456789012:docs-e2e-streaming-alarms"]
    wait_for(lambda: len({r["trip_id"] for r in read_jsonl_objects("docs-e2e-gold", "scored/")})
             >= 290, 120, "trips of the docs run in gold")
