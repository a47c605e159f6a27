"""Run the project's SQL files (infra/sql/*.sql) on Athena and wait for them.

The SQL lives in files with ``${name}`` placeholders (``string.Template``) so that the README,
the scripts and the tests run exactly the same statements.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from string import Template
from typing import Any

from taximl.errors import InvalidInputError, PlatformError

logger = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[1] / "infra" / "sql"
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")


def render_sql(name: str, sql_dir: Path = SQL_DIR, **params: object) -> str:
    """The statement in ``<sql_dir>/<name>.sql`` with its placeholders filled in.

    ``--`` comments are removed (Athena's DDL parser rejects some of them); a missing
    placeholder is an error.
    """
    path = sql_dir / f"{name}.sql"
    try:
        text = Template(path.read_text(encoding="utf-8")).substitute(
            {key: str(value) for key, value in params.items()}
        )
    except KeyError as exc:
        raise InvalidInputError(f"{path}: no value for placeholder {exc}") from None
    lines = (strip_comment(line).rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line.strip())


def strip_comment(line: str) -> str:
    """The line without its ``--`` comment (quotes respected)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif line.startswith("--", i):
            return line[:i]
    return line


def run_query(
    athena: Any,
    sql: str,
    *,
    output_location: str,
    database: str | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
) -> str:
    """Start a query, wait until it ends, return its execution id (PlatformError if it fails)."""
    request: dict[str, Any] = {
        "QueryString": sql,
        "ResultConfiguration": {"OutputLocation": output_location},
    }
    if database:
        request["QueryExecutionContext"] = {"Database": database}
    query_id = athena.start_query_execution(**request)["QueryExecutionId"]
    first_line = next((line for line in sql.splitlines() if line.strip()), "")
    logger.info("athena query %s started: %s", query_id, first_line[:80])
    deadline = time.monotonic() + timeout_s
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        status = execution["Status"]
        state = status["State"]
        if state in TERMINAL_STATES:
            break
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise PlatformError(f"Athena query {query_id} still {state} after {timeout_s:.0f} s")
        time.sleep(poll_s)
    if state != "SUCCEEDED":
        reason = status.get("StateChangeReason", "no reason given")
        raise PlatformError(f"Athena query {query_id} {state}: {reason}\n--- SQL ---\n{sql}")
    return query_id


def query_rows(athena: Any, query_id: str) -> list[dict[str, str | None]]:
    """All result rows of a finished SELECT as dicts (the first row of page one is the header)."""
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        for row in page["ResultSet"]["Rows"]:
            rows.append([cell.get("VarCharValue") for cell in row["Data"]])
    if not rows:
        return []
    header = [str(name) for name in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]
