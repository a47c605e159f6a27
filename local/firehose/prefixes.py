"""S3 prefix expressions (``!{timestamp:...}``, ``!{firehose:...}``) and object names.

Rules implemented (AWS "Custom prefixes for Amazon S3 objects"):

- ``!{timestamp:PATTERN}``: a Java ``DateTimeFormatter`` pattern, evaluated at the arrival time
  of the oldest record in the object (UTC unless ``CustomTimeZone``); every occurrence in one
  prefix evaluates to the same instant. Text in single quotes is literal.
- ``!{firehose:random-string}``: 11 random characters, a new one per occurrence.
- ``!{firehose:error-output-type}``: the failure kind (e.g. ``AmazonOpenSearchService-failed``);
  only allowed in ``ErrorOutputPrefix``, which must contain it if it has any expression.
- ``!{`` may only open an expression.
- ``ErrorOutputPrefix`` may be omitted only when ``Prefix`` has no expressions; the error prefix is
  then ``<Prefix><error-output-type>/yyyy/MM/dd/HH/``.
- A ``Prefix`` without a timestamp expression gets ``yyyy/MM/dd/HH/`` appended (so the default,
  empty prefix is ``yyyy/MM/dd/HH/``). No slash is inserted: ``logs`` gives ``logs2024/...``.
- Object key = evaluated prefix + ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.ext]``.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from collections.abc import Callable
from datetime import datetime

from local.firehose.errors import InvalidArgumentError

EXPRESSION = re.compile(r"!\{([^}:]*):([^}]*)\}")
DEFAULT_TIME_PATTERN = "yyyy/MM/dd/HH/"
RANDOM_ALPHABET = string.ascii_letters + string.digits
RANDOM_LENGTH = 11
MAX_EVALUATED_LENGTH = 512
NAMESPACES = {"timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda"}
FIREHOSE_VALUES = {"random-string", "error-output-type"}

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _num(value: int, width: int) -> str:
    return str(value).zfill(width)


def _year(moment: datetime, width: int) -> str:
    return _num(moment.year % 100, 2) if width == 2 else _num(moment.year, width)


def _month(moment: datetime, width: int) -> str:
    if width >= 4:
        return _MONTHS[moment.month - 1]
    if width == 3:
        return _MONTHS[moment.month - 1][:3]
    return _num(moment.month, width)


def _weekday(moment: datetime, width: int) -> str:
    name = _DAYS[moment.weekday()]
    return name if width >= 4 else name[:3]


def _hour12(moment: datetime, width: int) -> str:
    return _num(moment.hour % 12 or 12, width)


# Java DateTimeFormatter letters supported here; others are rejected at create time.
_FIELDS: dict[str, Callable[[datetime, int], str]] = {
    "y": _year,
    "u": _year,
    "M": _month,
    "L": _month,
    "d": lambda m, w: _num(m.day, w),
    "D": lambda m, w: _num(m.timetuple().tm_yday, w),
    "H": lambda m, w: _num(m.hour, w),
    "k": lambda m, w: _num(m.hour or 24, w),
    "K": lambda m, w: _num(m.hour % 12, w),
    "h": _hour12,
    "m": lambda m, w: _num(m.minute, w),
    "s": lambda m, w: _num(m.second, w),
    "S": lambda m, w: _num(m.microsecond, 6)[:w],
    "a": lambda m, w: "AM" if m.hour < 12 else "PM",
    "E": _weekday,
    "w": lambda m, w: _num(m.isocalendar().week, w),
    "Y": lambda m, w: _year(datetime(m.isocalendar().year, 1, 1), w),
}
_RESERVED = set("[]{}#")


def format_java_time(pattern: str, moment: datetime) -> str:
    """Format ``moment`` with a Java ``DateTimeFormatter`` pattern (common letters only)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = i + 1
            literal: list[str] = []
            while True:
                if end >= len(pattern):
                    raise InvalidArgumentError(f"Unterminated quote in pattern {pattern!r}")
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        literal.append("'")
                        end += 2
                        continue
                    break
                literal.append(pattern[end])
                end += 1
            out.append("'" if end == i + 1 else "".join(literal))
            i = end + 1
        elif char.isascii() and char.isalpha():
            run = i
            while run < len(pattern) and pattern[run] == char:
                run += 1
            field = _FIELDS.get(char)
            if field is None:
                raise InvalidArgumentError(
                    f"Unsupported pattern letter {char!r} in timestamp pattern {pattern!r}"
                )
            out.append(field(moment, run - i))
            i = run
        elif char in _RESERVED:
            raise InvalidArgumentError(f"Unsupported character {char!r} in timestamp pattern")
        else:
            out.append(char)
            i += 1
    return "".join(out)


def random_string() -> str:
    """The value of ``!{firehose:random-string}``: 11 random alphanumerics."""
    return "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(RANDOM_LENGTH))


def expressions(prefix: str) -> list[tuple[str, str]]:
    """The ``(namespace, value)`` pairs of every expression in ``prefix``."""
    return EXPRESSION.findall(prefix)


def _check_expressions(field: str, prefix: str) -> list[tuple[str, str]]:
    found = expressions(prefix)
    if "!{" in EXPRESSION.sub("", prefix):
        raise InvalidArgumentError(
            f"{field} '{prefix}': the sequence !{{ can only appear in "
            "!{{namespace:value}} expressions"
        )
    sample = datetime(2024, 1, 2, 3, 4, 5)
    for namespace, value in found:
        if namespace not in NAMESPACES:
            raise InvalidArgumentError(f"{field} '{prefix}': unknown namespace '{namespace}'")
        if namespace in {"partitionKeyFromQuery", "partitionKeyFromLambda"}:
            raise InvalidArgumentError(
                f"{field} '{prefix}': dynamic partitioning is not enabled for this delivery stream"
            )
        if namespace == "firehose" and value not in FIREHOSE_VALUES:
            raise InvalidArgumentError(
                f"{field} '{prefix}': the firehose namespace takes error-output-type or "
                "random-string"
            )
        if namespace == "timestamp":
            if not value:
                raise InvalidArgumentError(f"{field} '{prefix}': empty timestamp pattern")
            format_java_time(value, sample)
    return found


def validate_prefixes(prefix: str | None, error_prefix: str | None) -> None:
    """Reject prefix combinations AWS rejects (raise ``InvalidArgumentError``)."""
    prefix = prefix or ""
    found = _check_expressions("Prefix", prefix)
    if ("firehose", "error-output-type") in found:
        raise InvalidArgumentError(
            "Prefix cannot contain !{firehose:error-output-type}; use it in ErrorOutputPrefix"
        )
    if found and not error_prefix:
        raise InvalidArgumentError(
            "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"
        )
    if error_prefix:
        error_found = _check_expressions("ErrorOutputPrefix", error_prefix)
        if error_found and ("firehose", "error-output-type") not in error_found:
            raise InvalidArgumentError(
                "ErrorOutputPrefix must contain !{firehose:error-output-type} when it contains "
                "expressions"
            )


def _evaluate(template: str, moment: datetime, error_type: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        namespace, value = match.group(1), match.group(2)
        if namespace == "timestamp":
            return format_java_time(value, moment)
        if value == "random-string":
            return random_string()
        return error_type or ""

    evaluated = EXPRESSION.sub(replace, template)
    if len(evaluated) > MAX_EVALUATED_LENGTH:
        raise InvalidArgumentError(f"Evaluated prefix exceeds {MAX_EVALUATED_LENGTH} characters")
    return evaluated


def render_prefix(prefix: str | None, moment: datetime) -> str:
    """Evaluate the success prefix for an object whose oldest record arrived at ``moment``."""
    template = prefix or ""
    if not any(ns == "timestamp" for ns, _ in expressions(template)):
        template += "!{timestamp:" + DEFAULT_TIME_PATTERN + "}"
    return _evaluate(template, moment, None)


def render_error_prefix(
    prefix: str | None, error_prefix: str | None, moment: datetime, error_type: str
) -> str:
    """Evaluate the prefix of failed records of kind ``error_type`` (e.g. processing-failed)."""
    if error_prefix:
        return _evaluate(error_prefix, moment, error_type)
    template = (prefix or "") + error_type + "/!{timestamp:" + DEFAULT_TIME_PATTERN + "}"
    return _evaluate(template, moment, error_type)


def object_suffix(stream: str, version: str, moment: datetime, extension: str = "") -> str:
    """``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`` as AWS names objects."""
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S")
    return f"{stream}-{version}-{stamp}-{uuid.uuid4()}{extension}"
