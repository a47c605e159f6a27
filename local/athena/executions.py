"""Query executions: the state machine, the worker threads and persistence under the state dir.

QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED. Queries run on a small thread pool
(``LOCAL_ATHENA_WORKERS``, default 2); executions, named queries and work groups are saved
to ``<state-dir>/state.json`` and formatted results to ``<state-dir>/results/``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from local.athena.engine import Engine, Request
from local.athena.errors import QueryCancelled, QueryError
from local.athena.results import ResultInfo

log = logging.getLogger(__name__)

ENV_WORKERS = "LOCAL_ATHENA_WORKERS"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class Execution:
    """One query execution as stored."""

    id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output_folder: str
    state: str = "QUEUED"
    reason: str = ""
    error_category: int = 0
    error_type: int = 0
    submitted: float = field(default_factory=time.time)
    started: float = 0.0
    completed: float = 0.0
    statement_type: str = "DML"
    substatement_type: str = ""
    scanned_bytes: int = 0
    manifest: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    client_token: str = ""

    @property
    def result_info(self) -> ResultInfo:
        return ResultInfo(**self.result) if self.result else ResultInfo()


def guess_statement_type(query: str) -> str:
    """Athena's StatementType before the query runs (DDL, DML or UTILITY)."""
    first = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
    if first in ("SELECT", "WITH", "VALUES", "INSERT", "TABLE", "(", "UNLOAD"):
        return "DML"
    if first in ("SHOW", "DESCRIBE", "EXPLAIN", "USE"):
        return "UTILITY"
    return "DDL"


class Store:
    """Executions, named queries and work groups, with a worker pool running queries."""

    def __init__(self, state_dir: str, engine: Engine | None = None,
                 workers: int | None = None) -> None:
        self.state_dir = state_dir
        os.makedirs(os.path.join(state_dir, "results"), exist_ok=True)
        self.engine = engine or Engine(os.path.join(state_dir, "results"))
        self.lock = threading.RLock()
        self.executions: dict[str, Execution] = {}
        self.order: list[str] = []
        self.named: dict[str, dict[str, Any]] = {}
        self.workgroups: dict[str, dict[str, Any]] = {}
        self._cancel: set[str] = set()
        self._load()
        self.workgroups.setdefault("primary", {
            "Name": "primary", "State": "ENABLED", "Description": "",
            "CreationTime": time.time(), "Configuration": {}})
        count = workers or int(os.environ.get(ENV_WORKERS, "2"))
        self.pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="athena-query")

    # ------------------------------------------------------------------ persistence
    @property
    def _state_file(self) -> str:
        return os.path.join(self.state_dir, "state.json")

    def _load(self) -> None:
        try:
            with open(self._state_file, encoding="utf-8") as fh:
                saved = json.load(fh)
        except (OSError, ValueError):
            return
        for item in saved.get("executions", []):
            execution = Execution(**item)
            if execution.state not in TERMINAL:
                execution.state = "FAILED"
                execution.reason = "INTERNAL_ERROR_QUERY_ENGINE: the local Athena stopped " \
                                   "while the query ran"
                execution.completed = execution.completed or time.time()
            self.executions[execution.id] = execution
            self.order.append(execution.id)
        self.named = saved.get("named_queries", {})
        self.workgroups = saved.get("workgroups", {})

    def save(self) -> None:
        with self.lock:
            data = {"executions": [asdict(self.executions[i]) for i in self.order],
                    "named_queries": self.named, "workgroups": self.workgroups}
        tmp = self._state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self._state_file)

    def shutdown(self) -> None:
        """Cancel what is still queued or running, wait for the workers, save."""
        with self.lock:
            pending = [e.id for e in self.executions.values() if e.state not in TERMINAL]
        for qid in pending:
            self.stop(qid)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.save()

    # ------------------------------------------------------------------ executions
    def start(self, execution: Execution) -> Execution:
        with self.lock:
            if execution.client_token:
                for existing in self.executions.values():
                    if existing.client_token == execution.client_token:
                        return existing
            execution.statement_type = guess_statement_type(execution.query)
            self.executions[execution.id] = execution
            self.order.append(execution.id)
        self.pool.submit(self._run, execution.id)
        return execution

    def get(self, qid: str) -> Execution | None:
        with self.lock:
            return self.executions.get(qid)

    def stop(self, qid: str) -> None:
        with self.lock:
            execution = self.executions.get(qid)
            if execution is None or execution.state in TERMINAL:
                return
            self._cancel.add(qid)
            if execution.state == "QUEUED":
                self._finish(execution, "CANCELLED", "Query was cancelled by the user")
                return
        self.engine.interrupt(qid)

    def _finish(self, execution: Execution, state: str, reason: str = "",
                category: int = 0) -> None:
        with self.lock:
            execution.state = state
            execution.reason = reason
            execution.error_category = category
            execution.error_type = {1: 1000, 2: 1100, 3: 1300}.get(category, 0)
            execution.completed = time.time()
            if not execution.started:
                execution.started = execution.completed

    def _run(self, qid: str) -> None:
        with self.lock:
            execution = self.executions[qid]
            if execution.state != "QUEUED":
                return
            execution.state = "RUNNING"
            execution.started = time.time()
        request = Request(qid, execution.query, execution.database, execution.output_folder)
        try:
            outcome = self.engine.run(request, cancelled=lambda: qid in self._cancel)
        except QueryCancelled:
            self._finish(execution, "CANCELLED", "Query was cancelled by the user")
        except QueryError as exc:
            self._finish(execution, "FAILED", exc.reason, exc.category)
        except Exception as exc:  # a bug in the local Athena: report it, keep serving
            log.exception("query %s crashed", qid)
            self._finish(execution, "FAILED", f"GENERIC_INTERNAL_ERROR: {exc}", 1)
        else:
            with self.lock:
                execution.statement_type = outcome.statement_type
                execution.substatement_type = outcome.substatement_type
                execution.scanned_bytes = outcome.scanned_bytes
                execution.manifest = outcome.manifest
                execution.result = asdict(outcome.result)
            if qid in self._cancel:
                self._finish(execution, "CANCELLED", "Query was cancelled by the user")
            else:
                self._finish(execution, "SUCCEEDED")
        finally:
            self._cancel.discard(qid)
        log.info("query %s %s %s", qid, execution.state, execution.reason)
        try:
            self.save()
        except OSError:
            log.exception("could not save the Athena state")

    def ids(self, workgroup: str) -> list[str]:
        """Execution ids of a work group, newest first."""
        with self.lock:
            return [i for i in reversed(self.order) if self.executions[i].workgroup == workgroup]

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())
