"""Contract tests: the Athena query API (boto3 only; the same calls work against AWS)."""

from __future__ import annotations

import csv
import io

import boto3
import pytest
from botocore.exceptions import ClientError

from test_athena_support import all_rows, failure, make_bucket, run, start, unique, wait

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def output(local_stack) -> str:
    return f"s3://{make_bucket()}/results/"


def test_select_succeeds_with_header_row_types_and_statistics(output):
    # GIVEN a query without tables  WHEN it runs
    execution = run("SELECT 1 AS one, 'a' AS letter, CAST(2.5 AS double) AS x, "
                    "DATE '2024-01-31' AS d, TIMESTAMP '2024-01-31 10:11:12' AS ts, "
                    "true AS flag, NULL AS nothing, count(*) FROM (VALUES 1)", output)
    # THEN results page 1 starts with the header and values are Athena strings
    rows, columns = all_rows(execution["QueryExecutionId"])
    assert rows == [["one", "letter", "x", "d", "ts", "flag", "nothing", "_col7"],
                    ["1", "a", "2.5", "2024-01-31", "2024-01-31 10:11:12.000", "true", None, "1"]]
    assert [c["Type"] for c in columns] == ["integer", "varchar", "double", "date", "timestamp",
                                            "boolean", "unknown", "bigint"]
    assert execution["StatementType"] == "DML"
    assert execution["Statistics"]["EngineExecutionTimeInMillis"] >= 0
    assert execution["ResultConfiguration"]["OutputLocation"] == \
        f"{output}{execution['QueryExecutionId']}.csv"


def test_results_csv_in_output_location_matches_get_query_results(output):
    execution = run("SELECT x, CASE WHEN x = 2 THEN NULL ELSE 'v\"' || CAST(x AS varchar) END "
                    "AS label FROM UNNEST(ARRAY[1, 2, 3]) AS t(x) ORDER BY x", output)
    bucket, key = execution["ResultConfiguration"]["OutputLocation"][5:].split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    # Athena quotes every value and leaves NULL empty and unquoted
    assert body.splitlines() == ['"x","label"', '"1","v""1"', '"2",', '"3","v""3"']
    rows, _ = all_rows(execution["QueryExecutionId"])
    header = next(csv.reader(io.StringIO(body)))
    assert rows == [header, ["1", 'v"1'], ["2", None], ["3", 'v"3']]


def test_get_query_results_pages_with_next_token(output):
    execution = run("SELECT x FROM UNNEST(sequence(1, 25)) AS t(x) ORDER BY x", output)
    qid = execution["QueryExecutionId"]
    athena = boto3.client("athena")
    first = athena.get_query_results(QueryExecutionId=qid, MaxResults=10)
    assert len(first["ResultSet"]["Rows"]) == 10  # header + 9 rows
    assert first["ResultSet"]["Rows"][0]["Data"][0]["VarCharValue"] == "x"
    rows, _ = all_rows(qid, page_size=7)
    assert rows == [["x"]] + [[str(i)] for i in range(1, 26)]
    with pytest.raises(ClientError) as err:
        athena.get_query_results(QueryExecutionId=qid, MaxResults=1001)
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"


def test_failures_are_failed_with_athena_reasons(output):
    assert failure("SELECT * FROM nope_db.missing", output).startswith(
        "SCHEMA_NOT_FOUND: line 1:15: Schema 'nope_db' does not exist")
    run("CREATE DATABASE IF NOT EXISTS api_tests", output)
    assert failure("SELECT * FROM missing", output, "api_tests") == (
        "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.api_tests.missing' does not exist")
    assert failure("SELEC 1", output).startswith("SYNTAX_ERROR: line 1:")
    assert failure("SELECT nocol FROM (VALUES 1) AS t(x)", output).startswith(
        "COLUMN_NOT_FOUND: line 1:8: Column 'nocol' cannot be resolved")
    execution = wait(start("SELECT * FROM missing", output, "api_tests"))
    assert execution["Status"]["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(ClientError) as err:
        boto3.client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"


def test_start_without_output_location_is_rejected(local_stack):
    with pytest.raises(ClientError) as err:
        boto3.client("athena").start_query_execution(QueryString="SELECT 1")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "output location" in err.value.response["Error"]["Message"].lower()


def test_unknown_execution_is_invalid_request(local_stack):
    with pytest.raises(ClientError) as err:
        boto3.client("athena").get_query_execution(QueryExecutionId="not-an-id")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"


def test_stop_query_execution_cancels_a_running_query(output):
    qid = start("SELECT count(*) FROM UNNEST(sequence(1, 100000)) AS a(x) "
                "CROSS JOIN UNNEST(sequence(1, 100000)) AS b(y) WHERE x * y % 7 = 3", output)
    boto3.client("athena").stop_query_execution(QueryExecutionId=qid)
    assert wait(qid, timeout=30)["Status"]["State"] == "CANCELLED"


def test_list_and_batch_get_query_executions(output):
    ids = [run(f"SELECT {i}", output)["QueryExecutionId"] for i in range(3)]
    athena = boto3.client("athena")
    listed = athena.list_query_executions(MaxResults=50)["QueryExecutionIds"]
    assert listed[:3] == ids[::-1]  # newest first
    reply = athena.batch_get_query_execution(QueryExecutionIds=[*ids, "missing-id"])
    assert sorted(e["QueryExecutionId"] for e in reply["QueryExecutions"]) == sorted(ids)
    assert reply["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "missing-id"
    page = athena.list_query_executions(MaxResults=2)
    assert len(page["QueryExecutionIds"]) == 2 and page["NextToken"]


def test_named_queries_round_trip(local_stack):
    athena = boto3.client("athena")
    name = unique("nq-")
    qid = athena.create_named_query(Name=name, Database="default", QueryString="SELECT 1",
                                    Description="demo")["NamedQueryId"]
    got = athena.get_named_query(NamedQueryId=qid)["NamedQuery"]
    assert (got["Name"], got["QueryString"], got["WorkGroup"]) == (name, "SELECT 1", "primary")
    assert qid in athena.list_named_queries()["NamedQueryIds"]
    batch = athena.batch_get_named_query(NamedQueryIds=[qid, "nope"])
    assert [q["NamedQueryId"] for q in batch["NamedQueries"]] == [qid]
    assert batch["UnprocessedNamedQueryIds"][0]["NamedQueryId"] == "nope"
    athena.delete_named_query(NamedQueryId=qid)
    with pytest.raises(ClientError):
        athena.get_named_query(NamedQueryId=qid)


def test_primary_workgroup_and_workgroup_output_location(local_stack):
    athena = boto3.client("athena")
    assert athena.get_work_group(WorkGroup="primary")["WorkGroup"]["State"] == "ENABLED"
    assert "primary" in [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    bucket = make_bucket()
    name = unique("wg-")
    athena.create_work_group(Name=name, Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{bucket}/wg/"}})
    qid = athena.start_query_execution(QueryString="SELECT 42", WorkGroup=name)[
        "QueryExecutionId"]
    execution = wait(qid)
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{bucket}/wg/{qid}.csv"
    assert qid in athena.list_query_executions(WorkGroup=name)["QueryExecutionIds"]


def test_executions_and_results_survive_a_stack_restart(local_stack, output):
    execution = run("SELECT 'kept' AS word", output)
    qid = execution["QueryExecutionId"]
    named = boto3.client("athena").create_named_query(
        Name=unique("keep-"), Database="default", QueryString="SELECT 2")["NamedQueryId"]
    local_stack.restart()
    athena = boto3.client("athena")
    assert athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"][
        "State"] == "SUCCEEDED"
    assert all_rows(qid)[0] == [["word"], ["kept"]]
    assert athena.get_named_query(NamedQueryId=named)["NamedQuery"]["QueryString"] == "SELECT 2"
