"""Partition projection: partitions computed from table properties instead of the catalog.

Athena computes the locations from ``projection.*`` properties and reads them. Here the static
prefix of ``storage.location.template`` is listed once and every object is matched against the
template; values outside the configured ranges or enums are dropped, so the rows read are the
ones Athena would read (a location without objects contributes no rows in either case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from local.athena import s3io
from local.athena.catalog import TableDef
from local.athena.errors import QueryError

# Java date pattern letter runs -> (strptime code, regex); "regex" here matches S3 key text
_JAVA_DATE = {
    "yyyy": ("%Y", r"\d{4}"), "yy": ("%y", r"\d{2}"), "MM": ("%m", r"\d{2}"),
    "dd": ("%d", r"\d{2}"), "HH": ("%H", r"\d{2}"), "mm": ("%M", r"\d{2}"),
    "ss": ("%S", r"\d{2}"), "SSS": ("%f", r"\d{3}"),
}
_UNITS = {"YEARS": 365, "MONTHS": 31, "WEEKS": 7, "DAYS": 1, "HOURS": 1 / 24,
          "MINUTES": 1 / 1440, "SECONDS": 1 / 86400}
_NOW = re.compile(r"^NOW\s*(?:([+-])\s*(\d+)\s*([A-Z]+?)S?)?$", re.IGNORECASE)


def java_to_strptime(pattern: str) -> tuple[str, str]:
    """(strptime format, regex) for a Java ``DateTimeFormatter`` pattern such as ``yyyy/MM/dd``."""
    fmt, rx, i = [], [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.index("'", i + 1)
            literal = pattern[i + 1:end]
            fmt.append(literal.replace("%", "%%"))
            rx.append(re.escape(literal))
            i = end + 1
            continue
        for token, (code, token_rx) in _JAVA_DATE.items():
            if pattern.startswith(token, i):
                fmt.append(code)
                rx.append(token_rx)
                i += len(token)
                break
        else:
            fmt.append(pattern[i].replace("%", "%%"))
            rx.append(re.escape(pattern[i]))
            i += 1
    return "".join(fmt), "".join(rx)


def _parse_date_bound(text: str, fmt: str) -> datetime:
    match = _NOW.match(text.strip())
    if match:
        now = datetime.now(UTC).replace(tzinfo=None)
        if match.group(1):
            unit = match.group(3).upper().rstrip("S") + "S"
            delta = timedelta(days=_UNITS.get(unit, 1) * int(match.group(2)))
            now = now + delta if match.group(1) == "+" else now - delta
        return now
    return datetime.strptime(text.strip(), fmt)


@dataclass
class _Projected:
    name: str
    kind: str
    regex: str
    props: dict[str, str]

    def accepts(self, value: str) -> bool:
        kind, props = self.kind, self.props
        if kind == "integer":
            low, high = (int(x) for x in props.get("range", "0,0").split(","))
            return low <= int(value) <= high
        if kind == "enum":
            return value in [v.strip() for v in props.get("values", "").split(",")]
        if kind == "date":
            fmt, _ = java_to_strptime(props.get("format", "yyyy-MM-dd"))
            try:
                when = datetime.strptime(value, fmt)
            except ValueError:
                return False
            low, high = props.get("range", ",").split(",", 1)
            return _parse_date_bound(low, fmt) <= when <= _parse_date_bound(high, fmt)
        return True


def _columns(table: TableDef) -> list[_Projected]:
    found = []
    for col in table.partition_keys:
        prefix = f"projection.{col.name}."
        props = {k[len(prefix):]: v for k, v in table.params.items() if k.startswith(prefix)}
        kind = props.get("type", "").lower()
        if kind == "integer":
            regex = r"-?\d+"
        elif kind == "enum":
            values = [v.strip() for v in props.get("values", "").split(",") if v.strip()]
            regex = "|".join(re.escape(v) for v in values) or "(?!)"
        elif kind == "date":
            regex = java_to_strptime(props.get("format", "yyyy-MM-dd"))[1]
        elif kind == "injected":
            regex = r"[^/]+"
        else:
            raise QueryError("HIVE_METASTORE_ERROR",
                             f"Column {col.name} is missing the "
                             f"projection.{col.name}.type property")
        found.append(_Projected(col.name, kind, regex, props))
    return found


def template_for(table: TableDef) -> str:
    """``storage.location.template`` or Hive-style ``col=${col}`` under the table location."""
    template = table.params.get("storage.location.template")
    if template:
        return template
    base = s3io.dir_prefix(table.location)
    return base + "/".join(f"{c.name}=${{{c.name}}}" for c in table.partition_keys) + "/"


def projected_partitions(table: TableDef) -> list[tuple[list[str], list[s3io.S3Object]]]:
    """(values, objects) of every projected partition that has objects."""
    columns = {c.name: c for c in _columns(table)}
    template = template_for(table)
    static = template.split("${", 1)[0]
    parts, order, pos = [], [], 0
    for match in re.finditer(r"\$\{([^}]+)\}", template):
        parts.append(re.escape(template[pos:match.start()]))
        name = match.group(1).strip().lower()
        if name not in columns:
            raise QueryError("HIVE_METASTORE_ERROR",
                             f"storage.location.template refers to unknown column {name}")
        parts.append(f"(?P<g{len(order)}>{columns[name].regex})")
        order.append(name)
        pos = match.end()
    tail = template[pos:]
    parts.append(re.escape(tail) + (".*" if tail.endswith("/") else "/.*"))
    pattern = re.compile("".join(parts))
    bucket, _ = s3io.split_uri(static)
    scheme = static.split("://", 1)[0]
    listing_root = static if static.endswith("/") else static.rsplit("/", 1)[0] + "/"
    groups: dict[tuple[str, ...], list[s3io.S3Object]] = {}
    for obj in s3io.list_objects(listing_root):
        match = pattern.fullmatch(f"{scheme}://{bucket}/{obj.key}")
        if not match:
            continue
        found = {name: match.group(f"g{i}") for i, name in enumerate(order)}
        if not all(columns[n].accepts(v) for n, v in found.items()):
            continue
        values = tuple(found.get(c.name, "") for c in table.partition_keys)
        groups.setdefault(values, []).append(obj)
    return [(list(values), objs) for values, objs in sorted(groups.items())]
