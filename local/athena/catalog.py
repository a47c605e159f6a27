"""The Glue Data Catalog (moto) seen through boto3: databases, tables and partitions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from local.athena import s3io
from local.athena.errors import QueryError

CATALOG = "awsdatacatalog"

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
LAZY_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPENCSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
HIVE_JSON_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass
class Partition:
    values: list[str]
    location: str


@dataclass
class TableDef:
    """What the engine needs from a Glue table."""

    database: str
    name: str
    columns: list[Column]
    partition_keys: list[Column]
    location: str
    serde: str
    input_format: str
    serde_params: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    table_type: str = "EXTERNAL_TABLE"

    @property
    def qualified(self) -> str:
        return f"{CATALOG}.{self.database}.{self.name}"

    @property
    def data_format(self) -> str:
        """parquet | json | opencsv | text | orc, from SerDe, input format and classification."""
        serde, inp = self.serde.lower(), self.input_format.lower()
        classification = self.params.get("classification", "").lower()
        if "parquet" in serde or "parquet" in inp or classification == "parquet":
            return "parquet"
        if "orc" in serde or "orc" in inp or classification == "orc":
            return "orc"
        if "json" in serde or classification == "json":
            return "json"
        if "opencsv" in serde:
            return "opencsv"
        return "text"

    @property
    def projection_enabled(self) -> bool:
        return self.params.get("projection.enabled", "").lower() == "true"

    @classmethod
    def from_glue(cls, table: dict[str, Any]) -> TableDef:
        sd = table.get("StorageDescriptor", {})
        serde = sd.get("SerdeInfo", {})
        return cls(
            database=table["DatabaseName"],
            name=table["Name"],
            columns=[Column(c["Name"].lower(), c.get("Type", "string"))
                     for c in sd.get("Columns", [])],
            partition_keys=[Column(c["Name"].lower(), c.get("Type", "string"))
                            for c in table.get("PartitionKeys", [])],
            location=sd.get("Location", ""),
            serde=serde.get("SerializationLibrary", ""),
            input_format=sd.get("InputFormat", ""),
            serde_params=dict(serde.get("Parameters", {})),
            params=dict(table.get("Parameters", {})),
            table_type=table.get("TableType", "EXTERNAL_TABLE"),
        )

    def table_input(self) -> dict[str, Any]:
        """Glue ``TableInput`` for create_table."""
        return {
            "Name": self.name,
            "TableType": self.table_type,
            "Parameters": self.params,
            "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in self.partition_keys],
            "StorageDescriptor": self.storage_descriptor(self.location),
        }

    def storage_descriptor(self, location: str) -> dict[str, Any]:
        output = PARQUET_OUTPUT if self.data_format == "parquet" else TEXT_OUTPUT
        return {
            "Columns": [{"Name": c.name, "Type": c.type} for c in self.columns],
            "Location": location,
            "InputFormat": self.input_format,
            "OutputFormat": output,
            "SerdeInfo": {"SerializationLibrary": self.serde, "Parameters": self.serde_params},
        }


def _epoch(value: Any) -> float | None:
    return value.timestamp() if hasattr(value, "timestamp") else value


def _columns(columns: list[dict[str, Any]]) -> list[dict[str, str]]:
    described = []
    for column in columns:
        item = {"Name": column["Name"].lower(), "Type": column.get("Type", "string")}
        if column.get("Comment"):
            item["Comment"] = column["Comment"]
        described.append(item)
    return described


def athena_table_metadata(table: dict[str, Any]) -> dict[str, Any]:
    """What Athena answers for a Glue table: the table's parameters plus its storage
    (``location``, ``inputformat``, ``outputformat``, ``serde.serialization.lib``,
    ``serde.param.<name>``), columns and partition keys."""
    sd = table.get("StorageDescriptor", {})
    serde = sd.get("SerdeInfo", {})
    params = dict(table.get("Parameters", {}))
    storage = {"location": sd.get("Location"), "inputformat": sd.get("InputFormat"),
               "outputformat": sd.get("OutputFormat"),
               "serde.serialization.lib": serde.get("SerializationLibrary")}
    params.update({k: v for k, v in storage.items() if v})
    params.update({f"serde.param.{k}": v for k, v in serde.get("Parameters", {}).items()})
    metadata: dict[str, Any] = {
        "Name": table["Name"], "TableType": table.get("TableType", "EXTERNAL_TABLE"),
        "Columns": _columns(sd.get("Columns", [])),
        "PartitionKeys": _columns(table.get("PartitionKeys", [])),
        "Parameters": params,
    }
    for key in ("CreateTime", "LastAccessTime"):
        if table.get(key) is not None:
            metadata[key] = _epoch(table[key])
    return metadata


class Catalog:
    """Thin wrapper over the Glue API with Athena-shaped failures."""

    def __init__(self, glue=None) -> None:
        self.glue = glue or s3io.client("glue")

    # databases
    def database_exists(self, name: str) -> bool:
        try:
            self.glue.get_database(Name=name)
        except self.glue.exceptions.EntityNotFoundException:
            return False
        return True

    def create_database(self, name: str, description: str = "", location: str = "",
                        params: dict[str, str] | None = None) -> None:
        database: dict[str, Any] = {"Name": name, "Parameters": params or {}}
        if description:
            database["Description"] = description
        if location:
            database["LocationUri"] = location
        self.glue.create_database(DatabaseInput=database)

    def delete_database(self, name: str) -> None:
        self.glue.delete_database(Name=name)

    def databases(self) -> list[str]:
        names: list[str] = []
        for page in self.glue.get_paginator("get_databases").paginate():
            names.extend(d["Name"] for d in page["DatabaseList"])
        return sorted(names)

    # tables
    def get_table(self, database: str, name: str) -> TableDef | None:
        try:
            reply = self.glue.get_table(DatabaseName=database, Name=name)
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return TableDef.from_glue(reply["Table"])

    def require_table(self, database: str, name: str, where: str = "") -> TableDef:
        table = self.get_table(database, name)
        if table is None:
            if not self.database_exists(database):
                raise QueryError("SCHEMA_NOT_FOUND", f"{where}Schema '{database}' does not exist")
            raise QueryError("TABLE_NOT_FOUND",
                             f"{where}Table '{CATALOG}.{database}.{name}' does not exist")
        return table

    def table_metadata(self, database: str, name: str) -> dict[str, Any] | None:
        """Athena's ``TableMetadata`` of a Glue table (GetTableMetadata), or None."""
        try:
            reply = self.glue.get_table(DatabaseName=database, Name=name)
        except self.glue.exceptions.EntityNotFoundException:
            return None
        return athena_table_metadata(reply["Table"])

    def list_table_metadata(self, database: str, expression: str | None = None
                            ) -> list[dict[str, Any]] | None:
        """``TableMetadata`` of the database's tables by name (ListTableMetadata; the
        expression filters names like Glue's GetTables), or None without the database."""
        if not self.database_exists(database):
            return None
        request: dict[str, Any] = {"DatabaseName": database}
        if expression:
            request["Expression"] = expression
        tables: list[dict[str, Any]] = []
        for page in self.glue.get_paginator("get_tables").paginate(**request):
            tables += page["TableList"]
        return [athena_table_metadata(t) for t in sorted(tables, key=lambda t: t["Name"])]

    def table_names(self, database: str) -> list[str]:
        names: list[str] = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=database):
            names.extend(t["Name"] for t in page["TableList"])
        return sorted(names)

    def create_table(self, table: TableDef) -> None:
        self.glue.create_table(DatabaseName=table.database, TableInput=table.table_input())

    def delete_table(self, database: str, name: str) -> None:
        self.glue.delete_table(DatabaseName=database, Name=name)

    # partitions
    def partitions(self, table: TableDef) -> list[Partition]:
        found: list[Partition] = []
        paginator = self.glue.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=table.database, TableName=table.name):
            for item in page["Partitions"]:
                location = item.get("StorageDescriptor", {}).get("Location") or ""
                found.append(Partition(list(item["Values"]), location))
        found.sort(key=lambda p: p.values)
        return found

    def add_partitions(self, table: TableDef, partitions: Iterable[Partition]) -> None:
        inputs = [{"Values": p.values, "StorageDescriptor": table.storage_descriptor(p.location)}
                  for p in partitions]
        for start in range(0, len(inputs), 100):
            reply = self.glue.batch_create_partition(
                DatabaseName=table.database, TableName=table.name,
                PartitionInputList=inputs[start:start + 100])
            errors = [e for e in reply.get("Errors", [])
                      if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"]
            if errors:
                detail = errors[0].get("ErrorDetail", {})
                raise QueryError("HIVE_METASTORE_ERROR", detail.get("ErrorMessage", str(detail)))
