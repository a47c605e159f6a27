"""SageMaker runtime stand-in: ``InvokeEndpoint`` for endpoints that serve built-in XGBoost.

Run ``python -m local.services.sagemaker_runtime --host 127.0.0.1 --port N --state-dir DIR``
and point boto3 at it with ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``. This module only routes
HTTP and shapes AWS errors; the serving logic is ``local.sagemaker.serving`` and endpoint
resolution ``local.sagemaker.deployments`` (through the control plane at ``AWS_ENDPOINT_URL``).

Routes
------
- ``POST /endpoints/{name}/invocations``: the runtime API (signed boto3 requests).
- ``GET /_health``: 200 once the server is up.
- ``POST /_local/endpoints/{name}/deploy`` (``{"EndpointConfigName": ...}``) and
  ``POST /_local/endpoints/{name}/forget``: called by the control plane (``local.moto_ext``)
  while it updates, creates or deletes an endpoint. Not an AWS API.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.sagemaker.deployments import (
    ArtifactCache,
    Deployments,
    EndpointNotFound,
    VariantNotFound,
)
from local.sagemaker.errors import ServingError
from local.sagemaker.serving import invoke
from local.services.serving import configure_logging, serve_until_signal, service_parser

logger = logging.getLogger("local.sagemaker_runtime")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
DEFAULT_ACCOUNT = "123456789012"
ENV_TTL = "LOCAL_SAGEMAKER_ENDPOINT_TTL_S"


def aws_error(status: int, code: str | None, message: str, **extra: Any) -> Response:
    """A REST-JSON AWS error that boto3 turns into ``ClientError`` with ``code``."""
    body: dict[str, Any] = {"message": message, **extra}
    headers = {}
    if code:
        body["__type"] = code
        headers["x-amzn-ErrorType"] = code
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


class RuntimeApp:
    """WSGI app: routing and AWS error shapes around the serving logic."""

    def __init__(self, deployments: Deployments, region: str, account_id: Any) -> None:
        self.deployments = deployments
        self.region = region
        self._account_id = account_id
        self.url_map = Map(
            [
                Rule("/_health", endpoint="health", methods=["GET"]),
                Rule("/endpoints/<name>/invocations", endpoint="invoke", methods=["POST"]),
                Rule("/_local/endpoints/<name>/deploy", endpoint="deploy", methods=["POST"]),
                Rule("/_local/endpoints/<name>/forget", endpoint="forget", methods=["POST"]),
            ]
        )

    @property
    def account_id(self) -> str:
        """The caller's account (from STS once), for AWS-shaped messages."""
        if callable(self._account_id):
            try:
                self._account_id = self._account_id()
            except (BotoCoreError, ClientError):
                return DEFAULT_ACCOUNT
        return str(self._account_id)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except NotFound:
            response = aws_error(404, "UnknownOperationException", f"No route {request.path}")
        except HTTPException as exc:
            response = aws_error(exc.code or 400, None, exc.description or str(exc))
        except Exception:
            logger.exception("unexpected error on %s", request.path)
            response = aws_error(500, "InternalFailure", "An internal error occurred.")
        return response(environ, start_response)

    def on_health(self, request: Request) -> Response:
        return Response(json.dumps({"status": "ok"}), content_type="application/json")

    def _log_stream(self, name: str) -> str:
        return (
            f"arn:aws:logs:{self.region}:{self.account_id}:log-group:"
            f"/aws/sagemaker/Endpoints/{name}"
        )

    def _model_error(self, name: str, variant: str, status: int, message: str) -> Response:
        kind = "server" if status >= 500 else "client"
        text = (
            f'Received {kind} error ({status}) from primary with message "{message}". '
            f"See {self._log_stream(name)} in account {self.account_id} for more information."
        )
        return aws_error(
            424,
            "ModelError",
            text,
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=self._log_stream(name),
        )

    def on_invoke(self, request: Request, name: str) -> Response:
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return aws_error(413, None, f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes.")
        body = request.get_data(cache=False)
        if len(body) > MAX_PAYLOAD_BYTES:
            return aws_error(413, None, f"HTTP content length exceeded {MAX_PAYLOAD_BYTES} bytes.")
        try:
            deployment = self.deployments.get(name)
            variant = deployment.pick(request.headers.get(TARGET_VARIANT_HEADER))
        except EndpointNotFound:
            return aws_error(
                400, "ValidationError", f"Endpoint {name} of account {self.account_id} not found."
            )
        except VariantNotFound as exc:
            return aws_error(
                400,
                "ValidationError",
                f'The variant(s) "[{exc}]" is/are not valid for endpoint "{name}". '
                "Please check the variant names.",
            )
        except ServingError as exc:  # the model could not be loaded
            return self._model_error(name, "primary", exc.status, exc.message)
        headers = {VARIANT_HEADER: variant.name}
        try:
            prediction = invoke(
                variant.booster,
                body,
                request.headers.get("Content-Type"),
                request.headers.get("Accept"),
            )
        except ServingError as exc:
            if exc.status == 204:
                return Response(b"", status=204, headers=headers)
            return self._model_error(name, variant.name, exc.status, exc.message)
        return Response(prediction.body, headers=headers, content_type=prediction.content_type)

    def on_deploy(self, request: Request, name: str) -> Response:
        config_name = (request.get_json(silent=True) or {}).get("EndpointConfigName")
        if not config_name:
            return aws_error(400, "ValidationError", "EndpointConfigName is required")
        try:
            deployment = self.deployments.deploy(name, config_name)
        except ServingError as exc:
            return aws_error(500, "ModelError", exc.message)
        except ClientError as exc:
            return aws_error(400, "ValidationError", str(exc))
        variants = [v.name for v in deployment.variants]
        return Response(json.dumps({"variants": variants}), content_type="application/json")

    def on_forget(self, request: Request, name: str) -> Response:
        self.deployments.forget(name)
        return Response(json.dumps({"forgotten": name}), content_type="application/json")


def build_app() -> RuntimeApp:
    """App wired to boto3 clients from the environment (AWS_ENDPOINT_URL -> moto)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(max_pool_connections=32, retries={"max_attempts": 2, "mode": "standard"})
    region = session.region_name or "us-east-1"
    sagemaker = session.client("sagemaker", region_name=region, config=config)
    s3 = session.client("s3", region_name=region, config=config)
    sts = session.client("sts", region_name=region, config=config)
    ttl = float(os.environ.get(ENV_TTL, "1.0"))
    deployments = Deployments(sagemaker, ArtifactCache(s3), ttl_s=ttl)
    return RuntimeApp(deployments, region, lambda: sts.get_caller_identity()["Account"])


def serve(host: str, port: int, state_dir: Path) -> None:
    """Serve until SIGTERM/SIGINT (the stand-in keeps no state of its own: models live in S3)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    server = make_server(host, port, build_app(), threaded=True)
    server.daemon_threads = True
    logger.info("sagemaker-runtime listening on http://%s:%s", host, port)
    serve_until_signal("sagemaker-runtime", server)


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    args = service_parser("Local SageMaker runtime (InvokeEndpoint).").parse_args(argv)
    configure_logging(args.log_level)
    serve(args.host, args.port, args.state_dir)


if __name__ == "__main__":
    main()
