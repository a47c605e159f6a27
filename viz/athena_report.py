"""Step 7 on the gold layer: the Athena named queries, run, as tables and PNG charts.

Usage::

    python viz/athena_report.py [--out build/athena-report]

1. makes sure the gold table exists (``infra/streaming/gold_table.sql``, as the demo does);
2. creates the named queries of ``viz/athena/*.sql`` in the Glue database (idempotent: an
   unchanged query is kept, a changed one replaced), so they appear in the Athena console's
   "Saved queries" on AWS;
3. runs them (on AWS, or locally through the Athena stand-in) and writes, per query, the table
   as CSV and Markdown and a matplotlib chart (PNG) into ``--out``.

Every trip counts once, even if a retried batch wrote it twice to S3 (``row_number()`` over
``trip_id``). Zone names come from the TLC zone table shipped in ``viz/taxi_zones.csv``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for extra in (REPO, HERE, REPO / "sagemaker"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from athena_sql import query_rows, render_sql, run_query  # noqa: E402
from panels import zones  # noqa: E402

QUERIES_DIR = HERE / "athena"
GOLD_SQL_DIR = REPO / "infra" / "streaming"
DEFAULT_OUT = REPO / "build" / "athena-report"


@dataclass(frozen=True)
class NamedQuery:
    """A query file: its name (file stem), description (first comment line) and SQL."""

    name: str
    description: str
    sql: str


def named_queries(database: str) -> list[NamedQuery]:
    out = []
    for path in sorted(QUERIES_DIR.glob("*.sql")):
        first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("- ").strip()
        out.append(NamedQuery(path.stem, first[:1024], render_sql(
            path.stem, QUERIES_DIR, GOLD_DISTINCT_TRIPS=distinct_trips_sql(database))))
    return out


def distinct_trips_sql(database: str) -> str:
    """``infra/streaming/gold_distinct_trips.sql`` (gold as one row per trip_id) on ``database``."""
    sql = render_sql("gold_distinct_trips", GOLD_SQL_DIR).rstrip().rstrip(";")
    return re.sub(r"\bFROM scored_trips\b", f"FROM {database}.scored_trips", sql)


def ensure_named_queries(athena: Any, database: str, workgroup: str = "primary") -> dict[str, str]:
    """Create (or keep, or replace when the SQL changed) each named query; name -> id."""
    existing: dict[str, dict[str, Any]] = {}
    ids: list[str] = []
    for page in athena.get_paginator("list_named_queries").paginate(WorkGroup=workgroup):
        ids += page.get("NamedQueryIds", [])
    for start in range(0, len(ids), 50):
        found = athena.batch_get_named_query(NamedQueryIds=ids[start:start + 50])
        for query in found.get("NamedQueries", []):
            if query.get("Database") == database:
                existing[query["Name"]] = query
    result = {}
    for query in named_queries(database):
        current = existing.get(query.name)
        if current is not None and current["QueryString"] == query.sql:
            result[query.name] = current["NamedQueryId"]
            continue
        if current is not None:
            athena.delete_named_query(NamedQueryId=current["NamedQueryId"])
        token = hashlib.sha256(f"{database}\n{query.name}\n{query.sql}".encode()).hexdigest()
        result[query.name] = athena.create_named_query(
            Name=query.name, Description=query.description, Database=database,
            QueryString=query.sql, WorkGroup=workgroup, ClientRequestToken=token,
        )["NamedQueryId"]
    return result


def ensure_gold_table(athena: Any, settings: Any, output: str) -> None:
    sql = render_sql("gold_table", GOLD_SQL_DIR, GLUE_DATABASE=settings.glue_database,
                     GOLD_BUCKET=settings.gold_bucket, year="${year}", month="${month}",
                     day="${day}", hour="${hour}")
    run_query(athena, sql.rstrip().rstrip(";"), output_location=output,
              database=settings.glue_database)


def _number(value: str | None) -> float | int | str | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number


def typed(rows: list[dict[str, str | None]]) -> list[dict[str, Any]]:
    return [{k: _number(v) for k, v in row.items()} for row in rows]


def with_zone_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {z["LocationID"]: f"{z['Zone']} ({z['Borough']})" for z in zones()}
    return [{**row, "pickup_zone": names.get(row.get("pu_location_id"), "unknown")}
            for row in rows]


def write_tables(rows: list[dict[str, Any]], out: Path, name: str) -> tuple[Path, Path]:
    columns = list(rows[0]) if rows else []
    csv_path, md_path = out / f"{name}.csv", out / f"{name}.md"
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in columns) + " |"
              for r in rows]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, md_path


def chart_outliers(rows: list[dict[str, Any]], path: Path, top: int = 12) -> None:
    """Heat map: outliers per pickup hour (columns) for the zones with most outliers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    totals: dict[str, int] = {}
    for row in rows:
        totals[row["pickup_zone"]] = totals.get(row["pickup_zone"], 0) + int(row["outliers"])
    zones_shown = sorted(totals, key=lambda z: (-totals[z], z))[:top]
    grid = np.zeros((len(zones_shown), 24))
    for row in rows:
        if row["pickup_zone"] in zones_shown and row["pickup_hour"] is not None:
            grid[zones_shown.index(row["pickup_zone"]), int(row["pickup_hour"])] += row["outliers"]
    fig, ax = plt.subplots(figsize=(12, 0.45 * max(len(zones_shown), 3) + 1.6))
    image = ax.imshow(grid, aspect="auto", cmap="Reds")
    ax.set_xticks(range(24), [str(h) for h in range(24)])
    ax.set_yticks(range(len(zones_shown)), zones_shown)
    ax.set_xlabel("hour of pickup")
    ax.set_title(f"Outliers per hour of pickup, top {len(zones_shown)} pickup zones (gold)")
    fig.colorbar(image, ax=ax, label="outliers")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart_model_error(rows: list[dict[str, Any]], path: Path) -> None:
    """Mean absolute error per day, one bar per model version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = sorted({str(r["day"]) for r in rows})
    versions = sorted({str(r["model_version"]) for r in rows})
    width = 0.8 / max(len(versions), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(days) + 3), 4))
    for i, version in enumerate(versions):
        values = {str(r["day"]): r["mae"] for r in rows if str(r["model_version"]) == version}
        xs = [d + (i - (len(versions) - 1) / 2) * width for d in range(len(days))]
        ax.bar(xs, [values.get(day) or 0 for day in days], width, label=version)
    ax.set_xticks(range(len(days)), days)
    ax.set_ylabel("mean |actual - predicted| ($)")
    ax.set_title("Model error per day and model version (gold)")
    ax.legend(title="model version")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CHARTS = {"outliers_by_hour_and_zone": chart_outliers,
          "model_error_by_day_and_version": chart_model_error}


def report(settings: Any, out: Path, athena: Any = None) -> dict[str, dict[str, Any]]:
    """Create the named queries, run them, write tables and charts; returns what was written."""
    import boto3

    athena = athena or boto3.client("athena", region_name=settings.region)
    output = f"s3://{settings.gold_bucket}/athena-results/"
    out.mkdir(parents=True, exist_ok=True)
    ensure_gold_table(athena, settings, output)
    ids = ensure_named_queries(athena, settings.glue_database)
    written: dict[str, dict[str, Any]] = {}
    for name, query_id in ids.items():
        named = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
        execution = run_query(athena, named["QueryString"], output_location=output,
                              database=named["Database"])
        rows = typed(query_rows(athena, execution))
        if name == "outliers_by_hour_and_zone":
            rows = with_zone_names(rows)
        csv_path, md_path = write_tables(rows, out, name)
        png = out / f"{name}.png"
        if rows:
            CHARTS[name](rows, png)
        written[name] = {"named_query_id": query_id, "rows": rows, "csv": csv_path,
                         "markdown": md_path, "png": png if rows else None}
    return written


def main(argv: list[str] | None = None) -> int:
    from taximl.config import Settings
    from taximl.errors import PlatformError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        written = report(settings, args.out)
    except PlatformError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, result in written.items():
        rows = result["rows"]
        print(f"\n{name} (named query {result['named_query_id']}): {len(rows)} rows")
        for row in rows[:8]:
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
        files = [result["csv"], result["markdown"], result["png"]]
        print("  files: " + ", ".join(str(f) for f in files if f))
        if not rows:
            print("  (no scored trips in gold yet: run the producer, wait for Firehose)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
