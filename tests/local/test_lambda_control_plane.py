"""Contract tests: the local Lambda control plane and Invoke behave like AWS's."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from test_lambda_support import ROLE, make_zip, unique

pytestmark = pytest.mark.stack

APP = '''
import json, os, time
LOADED = time.time()
VERSION = "v1"

def handler(event, context):
    if event.get("fail"):
        raise ValueError("bad input")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("hello from", context.function_name)
    return {"version": VERSION, "loaded": LOADED, "name": context.function_name,
            "memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
            "request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(),
            "env": os.environ.get("COLOR"), "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
            "fn_env": os.environ.get("AWS_LAMBDA_FUNCTION_NAME")}
'''


@pytest.fixture()
def lam(local_stack):
    return boto3.client("lambda")


def create(lam, source: str = APP, **kwargs) -> str:
    name = kwargs.pop("name", None) or unique("fn")
    params = {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE,
              "Handler": "app.handler", "Code": {"ZipFile": make_zip({"app.py": source})},
              "Timeout": 5, "MemorySize": 256, "Environment": {"Variables": {"COLOR": "blue"}}}
    params.update(kwargs)
    lam.create_function(**params)
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    return name


def invoke(lam, name: str, event: dict) -> tuple[dict, dict]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return resp, json.loads(resp["Payload"].read())


def test_create_function_reports_config_and_gives_back_the_deployed_zip(lam):
    # GIVEN a zip deployed with CreateFunction
    zip_bytes = make_zip({"app.py": APP})
    name = unique("fn")
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                                  Handler="app.handler", Code={"ZipFile": zip_bytes},
                                  Timeout=7, MemorySize=512)
    # THEN the function is Pending at first and Active for the waiter
    assert created["State"] == "Pending"
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    fn = lam.get_function(FunctionName=name)
    config = fn["Configuration"]
    assert (config["Handler"], config["Timeout"], config["MemorySize"]) == ("app.handler", 7, 512)
    assert config["State"] == "Active" and config["LastUpdateStatus"] == "Successful"
    assert config["CodeSize"] == len(zip_bytes)
    assert config["FunctionArn"].endswith(f":function:{name}")
    # AND the code location serves exactly the zip that was deployed
    with urllib.request.urlopen(fn["Code"]["Location"], timeout=5) as resp:
        assert resp.read() == zip_bytes
    assert name in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert lam.get_function_configuration(FunctionName=config["FunctionArn"])[
        "FunctionName"] == name


def test_invoke_runs_handler_with_context_and_environment(lam):
    name = create(lam)
    resp, body = invoke(lam, name, {})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert body["name"] == name and body["fn_env"] == name
    assert body["memory"] == 256
    assert body["arn"].endswith(f":function:{name}")
    assert 0 < body["remaining"] <= 5000
    assert body["env"] == "blue"
    assert body["request_id"]


def test_uncaught_exception_is_a_function_error(lam):
    name = create(lam)
    resp, body = invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad input"
    assert any("app.py" in frame for frame in body["stackTrace"])


def test_timeout_kills_the_invocation_and_next_one_starts_fresh(lam):
    name = create(lam, Timeout=1)
    resp, body = invoke(lam, name, {"sleep": 3})
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    resp, body = invoke(lam, name, {})
    assert "FunctionError" not in resp and body["version"] == "v1"


def test_update_code_and_configuration_take_effect_with_a_fresh_import(lam):
    name = create(lam)
    _, first = invoke(lam, name, {})
    # WHEN the code is updated
    updated = lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": APP.replace('"v1"', '"v2"')}))
    assert updated["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    _, second = invoke(lam, name, {})
    # THEN the new code runs, imported again
    assert second["version"] == "v2" and second["loaded"] > first["loaded"]
    # WHEN the configuration is updated
    lam.update_function_configuration(FunctionName=name, MemorySize=1024, Timeout=9,
                                      Environment={"Variables": {"COLOR": "red"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    _, third = invoke(lam, name, {})
    assert (third["memory"], third["env"]) == (1024, "red")
    assert 5000 < third["remaining"] <= 9000
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 9


def test_only_the_zip_contents_are_importable(lam):
    # The project's packages are installed in the venv, but not in this zip: as on AWS the
    # import fails, so a build that forgets to bundle them is caught locally.
    source = "import taximl\n\ndef handler(event, context):\n    return 1\n"
    name = create(lam, source=source)
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "taximl" in body["errorMessage"]


def test_api_errors_are_aws_shaped(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=unique("missing"))
    name = create(lam)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        create(lam, name=name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName=unique("fn"), Runtime="python3.11",
                            Role="not-a-role", Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": APP})})
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName=unique("fn"), Runtime="python3.11", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": b"not a zip"})
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, Payload=b"{not json")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"AWS_REGION": "x"}})
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_every_invocation_is_logged_like_cloudwatch(lam, local_stack):
    name = create(lam)
    _resp, body = invoke(lam, name, {})
    log_file = Path(local_stack.state_dir) / "logs" / "lambda" / f"{name}.log"
    text = log_file.read_text()
    rid = body["request_id"]
    assert f"START RequestId: {rid} Version: $LATEST" in text
    assert f"hello from {name}" in text
    assert f"END RequestId: {rid}" in text
    report = next(line for line in text.splitlines() if line.startswith(f"REPORT RequestId: {rid}"))
    for field in ("Duration:", "Billed Duration:", "Memory Size: 256 MB", "Max Memory Used:"):
        assert field in report
    # LogType=Tail gives the same block back, base64-encoded
    tail = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")["LogResult"]
    assert "REPORT RequestId" in base64.b64decode(tail).decode()


def test_aws_cli_deploys_a_zip_file(local_stack, tmp_path):
    # The course's commands, as a student types them (AWS CLI v1 from the venv).
    aws = [sys.executable, "-m", "awscli"]
    (tmp_path / "app.py").write_text(APP)
    zip_path = tmp_path / "lambda.zip"
    zip_path.write_bytes(make_zip({"app.py": APP}))
    name = unique("cli")
    env = dict(os.environ)

    def run(*args: str) -> dict:
        out = subprocess.run([*aws, "lambda", *args, "--output", "json"], env=env,
                             capture_output=True, text=True, timeout=60, check=True)
        return json.loads(out.stdout) if out.stdout.strip() else {}

    run("create-function", "--function-name", name, "--runtime", "python3.11", "--role", ROLE,
        "--handler", "app.handler", "--zip-file", f"fileb://{zip_path}", "--timeout", "4")
    run("wait", "function-active-v2", "--function-name", name)
    zip_path.write_bytes(make_zip({"app.py": APP.replace('"v1"', '"v3"')}))
    run("update-function-code", "--function-name", name, "--zip-file", f"fileb://{zip_path}")
    run("wait", "function-updated-v2", "--function-name", name)
    out = tmp_path / "out.json"
    run("invoke", "--function-name", name, "--payload", "{}", str(out))
    assert json.loads(out.read_text())["version"] == "v3"
    run("delete-function", "--function-name", name)
