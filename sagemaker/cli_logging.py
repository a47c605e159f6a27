"""Logging of the batch CLIs: the project's progress lines, without the SDKs' chatter."""

from __future__ import annotations

import logging

QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "sagemaker")


def configure_cli_logging(quiet: bool) -> None:
    """Plain ``%(message)s`` lines at INFO (WARNING with ``--quiet``); SDK loggers at WARNING."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s")
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
