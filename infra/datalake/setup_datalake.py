"""Step 1: the datalake. Buckets, Glue database, raw (bronze) trips by taxi type and month.

    python infra/datalake/setup_datalake.py                                   # bundled real sample
    python infra/datalake/setup_datalake.py --sample data/cache/yellow_tripdata_2024-01.parquet
    python infra/datalake/setup_datalake.py --sample data/cache/               # every cached month
    python infra/datalake/setup_datalake.py --sample a.parquet b.csv green_tripdata_2024-01.parquet

Idempotent: run it again to upload more months (the same file again replaces its objects).
What it does, in order:

1. the raw, processed and models buckets with versioning, default encryption (SSE-S3) and
   every public access blocked; the Glue database;
2. reads every file first (TLC Parquet or CSV, yellow or green, recognised from the columns;
   see ``bronze.py``) and converts it to the raw tables' Parquet layout, one file per pickup
   month: an unreadable or unknown file stops the run with a one-line error *before* anything
   is uploaded;
3. the raw tables ``<raw_table>_yellow`` and ``<raw_table>_green``
   (``infra/sql/raw_yellow_table.sql``, ``raw_green_table.sql``), the upload to
   ``s3://<raw>/trips/<taxi_type>/year=YYYY/month=MM/<file>.parquet`` and one partition per
   uploaded month (``infra/sql/add_raw_partition.sql``), through Athena; if an upload or a
   partition fails, the objects and partitions of this run are removed again;
4. a row count per taxi type and month, through Athena.

The same code runs against AWS and the local stack (endpoints from the environment).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "sagemaker"))  # shared Athena/S3 helpers of the batch steps
sys.path.insert(0, str(Path(__file__).resolve().parent))

from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

import bronze  # noqa: E402
from athena_sql import query_rows, render_sql, run_query  # noqa: E402
from aws_clients import make_clients  # noqa: E402
from batch_s3 import bucket_exists, s3_uri  # noqa: E402
from taximl.config import Settings  # noqa: E402
from taximl.errors import InvalidInputError, PlatformError, TaxiMLError  # noqa: E402

logger = logging.getLogger("setup_datalake")

#: The bundled real sample's history months (data/README.md): step 1's default input.
DEFAULT_SAMPLE = REPO_ROOT / "data" / "real_sample" / "history"


@dataclass(frozen=True)
class Uploaded:
    """One object this run wrote (its version, to remove exactly it again on failure)."""

    bucket: str
    key: str
    version_id: str | None


def ensure_bucket(s3: Any, bucket: str, region: str) -> bool:
    """Create ``bucket`` (if needed) with versioning, SSE-S3 encryption, public access blocked."""
    created = False
    if not bucket_exists(s3, bucket):
        request: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**request)
        created = True
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return created


def ensure_database(glue: Any, name: str) -> bool:
    try:
        glue.get_database(Name=name)
        return False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityNotFoundException":
            raise
    glue.create_database(DatabaseInput={"Name": name, "Description": "NYC taxi trips"})
    return True


def raw_table(settings: Settings, taxi_type: str) -> str:
    """``raw_trips_yellow`` / ``raw_trips_green`` (the raw table name plus the taxi type)."""
    return f"{settings.raw_table}_{taxi_type}"


def convert_all(files: list[Path], out_dir: Path) -> list[bronze.Converted]:
    """Convert every file before anything is uploaded; two inputs may not share an object."""
    converted = [bronze.convert_file(path, out_dir / f"{i:04d}") for i, path in enumerate(files)]
    seen: dict[str, Path] = {}
    for result in converted:
        for month in result.months:
            if month.key in seen and seen[month.key] != result.source:
                raise InvalidInputError(
                    f"{seen[month.key]} and {result.source} would both be uploaded as "
                    f"{month.key}: rename one of them")
            seen[month.key] = result.source
    return converted


class Upload:
    """Objects and partitions of one run, removed again when the run fails half-way."""

    def __init__(self, clients: Any, settings: Settings) -> None:
        self.clients = clients
        self.settings = settings
        self.objects: list[Uploaded] = []
        self.partitions: list[tuple[str, str, str]] = []

    def put(self, month: bronze.MonthFile) -> str:
        bucket = self.settings.raw_bucket
        self.clients.s3.upload_file(str(month.path), bucket, month.key)
        head = self.clients.s3.head_object(Bucket=bucket, Key=month.key)
        self.objects.append(Uploaded(bucket, month.key, head.get("VersionId")))
        return s3_uri(bucket, month.key)

    def add_partition(self, taxi_type: str, year: str, month: str) -> None:
        glue, table = self.clients.glue, raw_table(self.settings, taxi_type)
        try:
            glue.get_partition(DatabaseName=self.settings.glue_database, TableName=table,
                               PartitionValues=[year, month])
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityNotFoundException":
                raise
        _athena(self.clients, self.settings, render_sql(
            "add_raw_partition", **_sql_params(self.settings), taxi_type=taxi_type, year=year,
            month=month))
        self.partitions.append((taxi_type, year, month))

    def roll_back(self) -> list[str]:
        """Remove what this run added; returns what could not be removed."""
        left: list[str] = []
        for obj in reversed(self.objects):
            extra = {"VersionId": obj.version_id} if obj.version_id else {}
            try:
                self.clients.s3.delete_object(Bucket=obj.bucket, Key=obj.key, **extra)
            except (ClientError, BotoCoreError):
                left.append(s3_uri(obj.bucket, obj.key))
        for taxi_type, year, month in reversed(self.partitions):
            try:
                self.clients.glue.delete_partition(
                    DatabaseName=self.settings.glue_database,
                    TableName=raw_table(self.settings, taxi_type), PartitionValues=[year, month])
            except (ClientError, BotoCoreError):
                left.append(f"partition {taxi_type} {year}-{month}")
        return left


def _sql_params(settings: Settings) -> dict[str, str]:
    return {"database": settings.glue_database, "raw_table": settings.raw_table,
            "raw_bucket": settings.raw_bucket}


def _athena(clients: Any, settings: Settings, sql: str) -> str:
    return run_query(clients.athena, sql, database=settings.glue_database,
                     output_location=s3_uri(settings.processed_bucket, "athena-results/"))


def create_raw_tables(clients: Any, settings: Settings) -> None:
    """Both raw tables (``IF NOT EXISTS``: an existing table is kept)."""
    for taxi_type in bronze.TAXI_TYPES:
        _athena(clients, settings, render_sql(f"raw_{taxi_type}_table", **_sql_params(settings)))


def upload(clients: Any, settings: Settings, converted: list[bronze.Converted]) -> int:
    """Upload every month and register its partition; all or nothing. Returns the partitions."""
    run = Upload(clients, settings)
    try:
        for result in converted:
            for month in result.months:
                uri = run.put(month)
                print(f"uploaded {month.rows:>9,} {month.taxi_type} trips -> {uri}")
        for result in converted:
            for month in result.months:
                run.add_partition(month.taxi_type, month.year, month.month)
    except (TaxiMLError, ClientError, BotoCoreError) as exc:
        left = run.roll_back()
        tail = f"; could not remove {', '.join(left)}" if left else ""
        raise PlatformError(
            f"upload failed ({str(exc).splitlines()[0]}): removed the {len(run.objects)} objects "
            f"and {len(run.partitions)} partitions of this run{tail}") from exc
    return len(run.partitions)


def describe(result: bronze.Converted) -> list[str]:
    """What the conversion of one file did, for the student."""
    kind = "Parquet" if result.source.name.lower().endswith((".parquet", ".pq")) else "CSV"
    lines = [f"read     {result.source}: {result.rows_read:,} {result.taxi_type} trips ({kind})"]
    if result.ignored_columns:
        lines.append(f"         columns not in the TLC {result.taxi_type} layout, not uploaded: "
                     f"{', '.join(result.ignored_columns)}")
    if result.nulled:
        parts = ", ".join(f"{name} ({n:,})" for name, n in result.nulled.most_common())
        lines.append(f"         values that do not fit their column type became NULL: {parts}")
    if result.skipped_no_pickup:
        lines.append(f"         skipped {result.skipped_no_pickup:,} rows whose pickup time "
                     "cannot be read")
    return lines


def count_rows(clients: Any, settings: Settings) -> list[dict[str, str | None]]:
    """Trips per taxi type and month in the raw tables, as Athena reads them."""
    db = settings.glue_database
    sql = " UNION ALL ".join(
        f"SELECT '{t}' AS taxi_type, year, month, count(*) AS trips FROM {db}."
        f"{raw_table(settings, t)} GROUP BY year, month" for t in bronze.TAXI_TYPES)
    query_id = _athena(clients, settings, f"SELECT * FROM ({sql}) ORDER BY taxi_type DESC, "
                                          "year, month")
    return query_rows(clients.athena, query_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Step 1: create the datalake and load trips.")
    parser.add_argument("--sample", type=Path, nargs="+", default=[DEFAULT_SAMPLE],
                        metavar="FILE_OR_FOLDER",
                        help="TLC trip files (Parquet or CSV, yellow or green) or folders of "
                             "them, e.g. data/cache/ after data/download.py (default: the "
                             "bundled real sample's history months, data/real_sample/history/)")
    parser.add_argument("--no-upload", action="store_true", help="only buckets, database, tables")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    settings = Settings.from_env()
    try:
        files: list[Path] = []
        if not args.no_upload:
            files, notes = bronze.input_files(args.sample)
            for note in notes:
                print(f"note     {note}")
        with tempfile.TemporaryDirectory(prefix="datalake-") as tmp:
            converted = convert_all(files, Path(tmp))  # every file is read before any upload
            for result in converted:
                for line in describe(result):
                    print(line)
            clients = make_clients(settings.region)
            for bucket in (settings.raw_bucket, settings.processed_bucket,
                           settings.models_bucket):
                created = ensure_bucket(clients.s3, bucket, settings.region)
                print(f"bucket   s3://{bucket} {'created' if created else 'exists'} "
                      "(versioning, SSE-S3, public access blocked)")
            created = ensure_database(clients.glue, settings.glue_database)
            print(f"database {settings.glue_database} {'created' if created else 'exists'}")
            create_raw_tables(clients, settings)
            added = upload(clients, settings, converted)
        tables = ", ".join(f"{settings.glue_database}.{raw_table(settings, t)}"
                           for t in bronze.TAXI_TYPES)
        print(f"tables   {tables} (+{added} new partitions)")
        for row in count_rows(clients, settings):
            print(f"athena   {row['taxi_type']} year={row['year']} month={row['month']}: "
                  f"{row['trips']} rows")
    except TaxiMLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("next: python sagemaker/train_register_deploy.py train")
    return 0


if __name__ == "__main__":
    sys.exit(main())
