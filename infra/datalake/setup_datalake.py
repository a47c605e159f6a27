"""Step 1: the datalake. Buckets, Glue database, raw sample under year=/month=, raw table.

    python infra/datalake/setup_datalake.py --sample data/sample_nyc_taxi.csv

Idempotent: run it again to upload more months. What it does, in order:

1. the raw, processed and models buckets with versioning, default encryption (SSE-S3) and
   every public access blocked;
2. the Glue database;
3. the CSV split by pickup month into ``s3://<raw>/trips/year=YYYY/month=MM/<file>.csv``
   (each part keeps the header row; rows whose pickup time cannot be read are skipped);
4. the raw table (``infra/sql/raw_trips_table.sql``) and one partition per uploaded month
   (``infra/sql/add_raw_partition.sql``), through Athena; then a row count per month.

The same code runs against AWS and the local stack (endpoints from the environment).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "sagemaker"))  # shared Athena/S3 helpers of the batch steps

from botocore.exceptions import ClientError  # noqa: E402

from athena_sql import query_rows, render_sql, run_query  # noqa: E402
from aws_clients import make_clients  # noqa: E402
from batch_s3 import bucket_exists, s3_uri  # noqa: E402
from taximl.config import Settings  # noqa: E402
from taximl.errors import InvalidInputError  # noqa: E402
from taximl.schema import canonical_name  # noqa: E402

logger = logging.getLogger("setup_datalake")

RAW_PREFIX = "trips/"


@dataclass(frozen=True)
class Partition:
    year: str
    month: str
    rows: int
    uri: str


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


def split_by_month(sample: Path, out_dir: Path) -> tuple[dict[tuple[str, str], Path], int]:
    """Write one CSV per pickup month (header kept); returns the files and the skipped rows."""
    files: dict[tuple[str, str], Path] = {}
    handles: dict[tuple[str, str], Any] = {}
    skipped = 0
    with sample.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader, None)
        if not header:
            raise InvalidInputError(f"{sample}: empty file")
        pickup = next((i for i, col in enumerate(header)
                       if canonical_name(col) == "pickup_datetime"), None)
        if pickup is None:
            raise InvalidInputError(f"{sample}: no pickup time column in {header[:5]}...")
        try:
            for row in reader:
                text = row[pickup].strip() if len(row) > pickup else ""
                key = (text[0:4], text[5:7])
                if not (len(text) >= 7 and key[0].isdigit() and key[1].isdigit()):
                    skipped += 1
                    continue
                if key not in handles:
                    path = out_dir / f"year={key[0]}" / f"month={key[1]}" / sample.name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    handles[key] = path.open("w", newline="", encoding="utf-8")
                    csv.writer(handles[key], lineterminator="\n").writerow(header)
                    files[key] = path
                csv.writer(handles[key], lineterminator="\n").writerow(row)
        finally:
            for handle in handles.values():
                handle.close()
    return files, skipped


def upload_sample(s3: Any, settings: Settings, sample: Path) -> tuple[list[Partition], int]:
    partitions = []
    with tempfile.TemporaryDirectory() as tmp:
        files, skipped = split_by_month(sample, Path(tmp))
        for (year, month), path in sorted(files.items()):
            key = f"{RAW_PREFIX}year={year}/month={month}/{sample.name}"
            s3.upload_file(str(path), settings.raw_bucket, key)
            rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
            partitions.append(Partition(year, month, rows, s3_uri(settings.raw_bucket, key)))
    return partitions, skipped


def create_raw_table(athena: Any, settings: Settings, partitions: list[Partition]) -> None:
    output = s3_uri(settings.processed_bucket, "athena-results/")
    params = {"database": settings.glue_database, "raw_table": settings.raw_table,
              "raw_bucket": settings.raw_bucket}
    run_query(athena, render_sql("raw_trips_table", **params), output_location=output,
              database=settings.glue_database)
    for part in partitions:
        sql = render_sql("add_raw_partition", **params, year=part.year, month=part.month)
        run_query(athena, sql, output_location=output, database=settings.glue_database)


def count_rows(athena: Any, settings: Settings) -> list[dict[str, str | None]]:
    sql = (f"SELECT year, month, count(*) AS trips FROM {settings.glue_database}."
           f"{settings.raw_table} GROUP BY year, month ORDER BY year, month")
    query_id = run_query(athena, sql, output_location=s3_uri(settings.processed_bucket,
                         "athena-results/"), database=settings.glue_database)
    return query_rows(athena, query_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Step 1: create the datalake and load a sample.")
    parser.add_argument("--sample", type=Path, default=REPO_ROOT / "data" / "sample_nyc_taxi.csv",
                        help="TLC trips CSV to upload (default: the bundled sample)")
    parser.add_argument("--no-upload", action="store_true", help="only buckets, database, table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    settings = Settings.from_env()
    clients = make_clients(settings.region)
    try:
        for bucket in (settings.raw_bucket, settings.processed_bucket, settings.models_bucket):
            created = ensure_bucket(clients.s3, bucket, settings.region)
            print(f"bucket   s3://{bucket} {'created' if created else 'exists'} "
                  "(versioning, SSE-S3, public access blocked)")
        created = ensure_database(clients.glue, settings.glue_database)
        print(f"database {settings.glue_database} {'created' if created else 'exists'}")
        partitions: list[Partition] = []
        if not args.no_upload:
            if not args.sample.is_file():
                raise InvalidInputError(f"{args.sample}: no such file (see data/generate.py)")
            partitions, skipped = upload_sample(clients.s3, settings, args.sample)
            for part in partitions:
                print(f"uploaded {part.rows:>8} trips -> {part.uri}")
            if skipped:
                print(f"skipped  {skipped} rows whose pickup time cannot be read")
        create_raw_table(clients.athena, settings, partitions)
        print(f"table    {settings.glue_database}.{settings.raw_table} "
              f"(+{len(partitions)} partitions)")
        for row in count_rows(clients.athena, settings):
            print(f"athena   year={row['year']} month={row['month']}: {row['trips']} rows")
    except InvalidInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("next: python sagemaker/train_register_deploy.py train")
    return 0


if __name__ == "__main__":
    sys.exit(main())
