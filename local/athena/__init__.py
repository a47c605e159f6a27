"""Local Athena: Trino SQL over S3 data with table definitions in the Glue catalog (moto).

The HTTP front end is ``local.services.athena``; this package holds the logic:
``catalog`` (Glue via boto3), ``ddl`` (Hive DDL statements), ``tables`` (S3 data -> DuckDB views),
``translate`` (Trino -> DuckDB with sqlglot), ``ctas`` (CREATE TABLE AS SELECT), ``results``
(Athena value formatting, CSV output, paging), ``engine`` (one statement end to end),
``executions`` (query execution store and worker threads) and ``api`` (the JSON operations).
"""

from local.athena.errors import ApiError, QueryError

__all__ = ["ApiError", "QueryError"]
