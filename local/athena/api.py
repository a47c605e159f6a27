"""The Athena JSON 1.1 operations (``X-Amz-Target: AmazonAthena.<Operation>``)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from local.athena.catalog import CATALOG
from local.athena.errors import ApiError
from local.athena.executions import Execution, Store
from local.athena.results import MAX_PAGE, read_page

ENGINE_VERSION = {"SelectedEngineVersion": "AUTO",
                  "EffectiveEngineVersion": "Athena engine version 3"}


def _required(request: dict[str, Any], name: str) -> Any:
    value = request.get(name)
    if value in (None, ""):
        raise ApiError(f"1 validation error detected: Value null at '{name[0].lower()}"
                       f"{name[1:]}' failed to satisfy constraint: Member must not be null")
    return value


def _token(kind: str, value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, value]).encode()).decode()


def _untoken(kind: str, token: str | None, default: Any) -> Any:
    if not token:
        return default
    try:
        found, value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:
        raise ApiError("Invalid NextToken") from exc
    if found != kind:
        raise ApiError("Invalid NextToken")
    return value


def _page(items: list[Any], request: dict[str, Any], kind: str, limit: int
          ) -> tuple[list[Any], str | None]:
    size = int(request.get("MaxResults") or limit)
    if not 0 < size <= limit:
        raise ApiError(f"1 validation error detected: Value '{size}' at 'maxResults' failed to "
                       f"satisfy constraint: Member must have value less than or equal to {limit}")
    start = int(_untoken(kind, request.get("NextToken"), 0))
    chunk = items[start:start + size]
    return chunk, (_token(kind, start + size) if start + size < len(items) else None)


class AthenaApi:
    """Operation name -> handler; handlers take and return JSON-shaped dicts."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise ApiError(f"Operation {operation} is not supported by the local Athena",
                           "UnknownOperationException")
        return handler(request)

    # ------------------------------------------------------------------ helpers
    def _workgroup(self, name: str | None) -> dict[str, Any]:
        workgroup = self.store.workgroups.get(name or "primary")
        if workgroup is None:
            raise ApiError(f"WorkGroup {name} is not found.")
        return workgroup

    def _execution(self, qid: str | None) -> Execution:
        execution = self.store.get(_required({"QueryExecutionId": qid}, "QueryExecutionId"))
        if execution is None:
            raise ApiError(f"QueryExecution {qid} was not found")
        return execution

    def _describe(self, e: Execution) -> dict[str, Any]:
        info = e.result_info
        status: dict[str, Any] = {"State": e.state, "SubmissionDateTime": e.submitted}
        if e.completed:
            status["CompletionDateTime"] = e.completed
        if e.reason:
            status["StateChangeReason"] = e.reason
        if e.state == "FAILED":
            status["AthenaError"] = {"ErrorCategory": e.error_category or 2,
                                     "ErrorType": e.error_type or 1100, "Retryable": False,
                                     "ErrorMessage": e.reason}
        engine_ms = int(((e.completed or time.time()) - (e.started or e.submitted)) * 1000) \
            if e.started else 0
        queue_ms = int(((e.started or time.time()) - e.submitted) * 1000)
        stats: dict[str, Any] = {
            "EngineExecutionTimeInMillis": engine_ms, "DataScannedInBytes": e.scanned_bytes,
            "TotalExecutionTimeInMillis": engine_ms + queue_ms,
            "QueryQueueTimeInMillis": queue_ms, "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0, "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False}}
        if e.manifest:
            stats["DataManifestLocation"] = e.manifest
        result_config: dict[str, Any] = {}
        if info.output_uri:
            result_config["OutputLocation"] = info.output_uri
        elif e.output_folder:
            ext = "csv" if e.statement_type == "DML" else "txt"
            result_config["OutputLocation"] = f"{e.output_folder.rstrip('/')}/{e.id}.{ext}"
        described = {
            "QueryExecutionId": e.id, "Query": e.query, "StatementType": e.statement_type,
            "ResultConfiguration": result_config,
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": e.database, "Catalog": e.catalog},
            "Status": status, "Statistics": stats, "WorkGroup": e.workgroup,
            "EngineVersion": ENGINE_VERSION}
        if e.substatement_type:
            described["SubstatementType"] = e.substatement_type
        return described

    # ------------------------------------------------------------------ query executions
    def op_StartQueryExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        query = _required(request, "QueryString")
        if len(query) > 262_144:
            raise ApiError("1 validation error detected: Value at 'queryString' failed to "
                           "satisfy constraint: Member must have length less than or equal "
                           "to 262144")
        workgroup = self._workgroup(request.get("WorkGroup"))
        if workgroup.get("State") == "DISABLED":
            raise ApiError(f"WorkGroup {workgroup['Name']} is disabled.")
        wg_config = workgroup.get("Configuration", {})
        wg_output = wg_config.get("ResultConfiguration", {}).get("OutputLocation", "")
        req_output = (request.get("ResultConfiguration") or {}).get("OutputLocation", "")
        output = wg_output if wg_config.get("EnforceWorkGroupConfiguration") and wg_output \
            else (req_output or wg_output)
        if not output:
            raise ApiError("No output location provided. An output location is required either "
                           "through the Workgroup result configuration setting or as an API "
                           "input.")
        if not output.startswith("s3://"):
            raise ApiError(f"outputLocation is not a valid S3 path: {output}")
        context = request.get("QueryExecutionContext") or {}
        execution = Execution(
            id=Store.new_id(), query=query,
            database=(context.get("Database") or "default").lower(),
            catalog=context.get("Catalog") or "AwsDataCatalog", workgroup=workgroup["Name"],
            output_folder=output, client_token=request.get("ClientRequestToken") or "")
        execution = self.store.start(execution)
        return {"QueryExecutionId": execution.id}

    def op_GetQueryExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"QueryExecution": self._describe(self._execution(request.get("QueryExecutionId")))}

    def op_BatchGetQueryExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        ids = _required(request, "QueryExecutionIds")
        if len(ids) > 50:
            raise ApiError("1 validation error detected: Value at 'queryExecutionIds' failed to "
                           "satisfy constraint: Member must have length less than or equal to 50")
        found, missing = [], []
        for qid in ids:
            execution = self.store.get(qid)
            if execution is None:
                missing.append({"QueryExecutionId": qid, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"QueryExecution {qid} was not found"})
            else:
                found.append(self._describe(execution))
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def op_ListQueryExecutions(self, request: dict[str, Any]) -> dict[str, Any]:
        workgroup = self._workgroup(request.get("WorkGroup"))
        ids, token = _page(self.store.ids(workgroup["Name"]), request, "executions", 50)
        reply: dict[str, Any] = {"QueryExecutionIds": ids}
        if token:
            reply["NextToken"] = token
        return reply

    def op_StopQueryExecution(self, request: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(request.get("QueryExecutionId"))
        self.store.stop(execution.id)
        return {}

    def op_GetQueryResults(self, request: dict[str, Any]) -> dict[str, Any]:
        execution = self._execution(request.get("QueryExecutionId"))
        if execution.state in ("QUEUED", "RUNNING"):
            raise ApiError(f"Query has not yet finished. Current state: {execution.state}")
        if execution.state != "SUCCEEDED":
            raise ApiError(f"Query did not finish successfully. Final query state: "
                           f"{execution.state}\n{execution.reason}".rstrip())
        size = int(request.get("MaxResults") or MAX_PAGE)
        if not 0 < size <= MAX_PAGE:
            raise ApiError(f"1 validation error detected: Value '{size}' at 'maxResults' failed "
                           f"to satisfy constraint: Member must have value less than or equal "
                           f"to {MAX_PAGE}")
        start = int(_untoken(execution.id, request.get("NextToken"), 0))
        info = execution.result_info
        rows, next_start = read_page(info, start, size)
        reply: dict[str, Any] = {
            "UpdateCount": 0,
            "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": info.columns}}}
        if next_start is not None:
            reply["NextToken"] = _token(execution.id, next_start)
        return reply

    # ------------------------------------------------------------------ named queries
    def op_CreateNamedQuery(self, request: dict[str, Any]) -> dict[str, Any]:
        query = {"Name": _required(request, "Name"), "Database": _required(request, "Database"),
                 "QueryString": _required(request, "QueryString"),
                 "Description": request.get("Description", ""),
                 "WorkGroup": self._workgroup(request.get("WorkGroup"))["Name"]}
        token = request.get("ClientRequestToken")
        with self.store.lock:
            for qid, existing in self.store.named.items():
                if token and existing.get("_token") == token:
                    return {"NamedQueryId": qid}
            qid = str(uuid.uuid4())
            self.store.named[qid] = {**query, "NamedQueryId": qid, "_token": token or ""}
        self.store.save()
        return {"NamedQueryId": qid}

    def _named(self, qid: str) -> dict[str, Any]:
        query = self.store.named.get(qid)
        if query is None:
            raise ApiError(f"NamedQuery {qid} was not found")
        return {k: v for k, v in query.items() if not k.startswith("_")}

    def op_GetNamedQuery(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"NamedQuery": self._named(_required(request, "NamedQueryId"))}

    def op_DeleteNamedQuery(self, request: dict[str, Any]) -> dict[str, Any]:
        qid = _required(request, "NamedQueryId")
        self._named(qid)
        with self.store.lock:
            self.store.named.pop(qid, None)
        self.store.save()
        return {}

    def op_ListNamedQueries(self, request: dict[str, Any]) -> dict[str, Any]:
        workgroup = self._workgroup(request.get("WorkGroup"))["Name"]
        ids = [q for q, v in self.store.named.items() if v["WorkGroup"] == workgroup]
        chunk, token = _page(ids, request, "named", 50)
        reply: dict[str, Any] = {"NamedQueryIds": chunk}
        if token:
            reply["NextToken"] = token
        return reply

    def op_BatchGetNamedQuery(self, request: dict[str, Any]) -> dict[str, Any]:
        found, missing = [], []
        for qid in _required(request, "NamedQueryIds"):
            if qid in self.store.named:
                found.append(self._named(qid))
            else:
                missing.append({"NamedQueryId": qid, "ErrorCode": "INVALID_INPUT",
                                "ErrorMessage": f"NamedQuery {qid} was not found"})
        return {"NamedQueries": found, "UnprocessedNamedQueryIds": missing}

    # ------------------------------------------------------------------ work groups
    def _wg_view(self, workgroup: dict[str, Any]) -> dict[str, Any]:
        config = {"EnforceWorkGroupConfiguration": False,
                  "PublishCloudWatchMetricsEnabled": False, "RequesterPaysEnabled": False,
                  "EngineVersion": ENGINE_VERSION, **workgroup.get("Configuration", {})}
        return {**workgroup, "Configuration": config}

    def op_GetWorkGroup(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"WorkGroup": self._wg_view(self._workgroup(_required(request, "WorkGroup")))}

    def op_ListWorkGroups(self, request: dict[str, Any]) -> dict[str, Any]:
        items = [{"Name": w["Name"], "State": w["State"], "Description": w.get("Description", ""),
                  "CreationTime": w["CreationTime"], "EngineVersion": ENGINE_VERSION}
                 for w in self.store.workgroups.values()]
        chunk, token = _page(items, request, "workgroups", 50)
        reply: dict[str, Any] = {"WorkGroups": chunk}
        if token:
            reply["NextToken"] = token
        return reply

    def op_CreateWorkGroup(self, request: dict[str, Any]) -> dict[str, Any]:
        name = _required(request, "Name")
        with self.store.lock:
            if name in self.store.workgroups:
                raise ApiError(f"WorkGroup {name} already exists")
            self.store.workgroups[name] = {
                "Name": name, "State": "ENABLED", "Description": request.get("Description", ""),
                "CreationTime": time.time(), "Configuration": request.get("Configuration", {})}
        self.store.save()
        return {}

    def op_UpdateWorkGroup(self, request: dict[str, Any]) -> dict[str, Any]:
        workgroup = self._workgroup(_required(request, "WorkGroup"))
        updates = request.get("ConfigurationUpdates") or {}
        config = workgroup.setdefault("Configuration", {})
        result = updates.get("ResultConfigurationUpdates") or {}
        if result.get("OutputLocation"):
            config.setdefault("ResultConfiguration", {})["OutputLocation"] = \
                result["OutputLocation"]
        if result.get("RemoveOutputLocation"):
            config.get("ResultConfiguration", {}).pop("OutputLocation", None)
        if "EnforceWorkGroupConfiguration" in updates:
            config["EnforceWorkGroupConfiguration"] = updates["EnforceWorkGroupConfiguration"]
        if request.get("State"):
            workgroup["State"] = request["State"]
        if "Description" in request:
            workgroup["Description"] = request["Description"]
        self.store.save()
        return {}

    def op_DeleteWorkGroup(self, request: dict[str, Any]) -> dict[str, Any]:
        name = _required(request, "WorkGroup")
        if name == "primary":
            raise ApiError("Cannot delete the primary workgroup")
        self._workgroup(name)
        with self.store.lock:
            self.store.workgroups.pop(name, None)
        self.store.save()
        return {}

    # ------------------------------------------------------------------ catalog reads
    def op_ListDataCatalogs(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"DataCatalogsSummary": [{"CatalogName": "AwsDataCatalog", "Type": "GLUE"}]}

    def op_ListDatabases(self, request: dict[str, Any]) -> dict[str, Any]:
        names = self.store.engine.catalog.databases()
        return {"DatabaseList": [{"Name": n} for n in names]}

    def _catalog_name(self, request: dict[str, Any]) -> None:
        name = _required(request, "CatalogName")
        if name.lower() != CATALOG:
            raise ApiError(f"Catalog {name} not found.", "MetadataException")

    def op_GetTableMetadata(self, request: dict[str, Any]) -> dict[str, Any]:
        self._catalog_name(request)
        db, name = _required(request, "DatabaseName"), _required(request, "TableName")
        metadata = self.store.engine.catalog.table_metadata(db.lower(), name.lower())
        if metadata is None:
            raise ApiError(f"Table {name} not found in database {db}", "MetadataException")
        return {"TableMetadata": metadata}

    def op_ListTableMetadata(self, request: dict[str, Any]) -> dict[str, Any]:
        self._catalog_name(request)
        db = _required(request, "DatabaseName")
        tables = self.store.engine.catalog.list_table_metadata(db.lower(),
                                                               request.get("Expression"))
        if tables is None:
            raise ApiError(f"Database {db} not found.", "MetadataException")
        chunk, token = _page(tables, request, f"tables:{db.lower()}", 50)
        reply: dict[str, Any] = {"TableMetadataList": chunk}
        if token:
            reply["NextToken"] = token
        return reply
