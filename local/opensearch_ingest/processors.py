"""Ingest processors, parsed and validated the way OpenSearch parses a pipeline definition.

Supported: ``set`` (``field``, ``value``, ``override``, ``ignore_empty_value``), ``remove``
(``field`` string or list, ``ignore_missing``), ``rename`` (``field``, ``target_field``,
``ignore_missing``), ``lowercase``/``uppercase``/``trim`` (``field``, ``target_field``,
``ignore_missing``). Every processor takes ``tag``, ``description``, ``ignore_failure`` and
``on_failure``. Not supported, and rejected when the pipeline is stored rather than silently
ignored: other processor types, and ``if`` conditions (they are Painless scripts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.opensearch_ingest import mustache
from local.opensearch_ingest.document import IngestDocument
from local.opensearch_ingest.errors import IngestError, parse_error

COMMON = {"tag", "description", "ignore_failure", "on_failure", "if"}


@dataclass
class Processor:
    """One configured processor; ``apply`` changes the document or raises."""

    kind: str
    options: dict[str, Any]
    apply: Callable[[IngestDocument], None]
    tag: str | None = None
    ignore_failure: bool = False
    on_failure: list[Processor] = field(default_factory=list)

    def run(self, doc: IngestDocument) -> None:
        """Apply, honouring ``ignore_failure`` and ``on_failure`` as OpenSearch does."""
        try:
            self.apply(doc)
        except IngestError:
            if self.ignore_failure:
                return
            if not self.on_failure:
                raise
            for handler in self.on_failure:
                handler.run(doc)


def _failure(kind: str, reason: str) -> IngestError:
    return IngestError(400, "illegal_argument_exception", reason, processor_type=kind)


class _Options:
    """Reads a processor's options, recording which were used to reject unknown ones."""

    def __init__(self, kind: str, raw: dict[str, Any]) -> None:
        self.kind, self.raw, self.used = kind, raw, set(COMMON)

    def string(self, name: str, required: bool = True, default: str | None = None) -> str | None:
        self.used.add(name)
        value = self.raw.get(name, default)
        if value is None:
            if required:
                raise parse_error(self.kind, f"[{name}] required property is missing", name)
            return None
        if not isinstance(value, str):
            raise parse_error(self.kind, f"[{name}] property isn't a string, but of type "
                                         f"[{type(value).__name__}]", name)
        self.template(name, value)
        return value

    def template(self, name: str, value: str) -> None:
        problem = mustache.validate(value)
        if problem:
            raise parse_error(self.kind, f"[{name}] {problem}", name)

    def boolean(self, name: str, default: bool) -> bool:
        self.used.add(name)
        value = self.raw.get(name, default)
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise parse_error(self.kind, f"[{name}] property isn't a boolean", name)
        return value

    def any(self, name: str) -> Any:
        self.used.add(name)
        if name not in self.raw:
            raise parse_error(self.kind, f"[{name}] required property is missing", name)
        return self.raw[name]

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise parse_error(self.kind, f"processor [{self.kind}] doesn't support one or more "
                                         f"provided configuration parameters {unknown}")


def _render(doc: IngestDocument, text: str) -> str:
    return mustache.render(text, doc.get) if mustache.is_template(text) else text


def _render_value(doc: IngestDocument, value: Any) -> Any:
    if isinstance(value, str):
        return _render(doc, value)
    if isinstance(value, list):
        return [_render_value(doc, v) for v in value]
    if isinstance(value, dict):
        return {_render(doc, k): _render_value(doc, v) for k, v in value.items()}
    return value


def _set(opts: _Options) -> Callable[[IngestDocument], None]:
    target = opts.string("field")
    value = opts.any("value")
    if isinstance(value, str):
        opts.template("value", value)
    override = opts.boolean("override", True)
    ignore_empty = opts.boolean("ignore_empty_value", False)

    def apply(doc: IngestDocument) -> None:
        path = _render(doc, target or "")
        rendered = _render_value(doc, value)
        if ignore_empty and (rendered is None or rendered == ""):
            return
        if not override and doc.get(path) is not None:
            return
        try:
            doc.set(path, rendered)
        except ValueError as exc:
            raise _failure("set", str(exc)) from exc

    return apply


def _remove(opts: _Options) -> Callable[[IngestDocument], None]:
    opts.used.add("field")
    raw = opts.raw.get("field")
    if raw is None:
        raise parse_error("remove", "[field] required property is missing", "field")
    fields = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(f, str) for f in fields):
        raise parse_error("remove", "[field] property isn't a string or a list of strings",
                          "field")
    ignore_missing = opts.boolean("ignore_missing", False)

    def apply(doc: IngestDocument) -> None:
        for name in fields:
            path = _render(doc, name)
            try:
                doc.remove(path)
            except KeyError:
                if not ignore_missing:
                    raise _failure("remove", f"field [{path}] doesn't exist") from None

    return apply


def _rename(opts: _Options) -> Callable[[IngestDocument], None]:
    source = opts.string("field")
    target = opts.string("target_field")
    ignore_missing = opts.boolean("ignore_missing", False)

    def apply(doc: IngestDocument) -> None:
        src, dst = _render(doc, source or ""), _render(doc, target or "")
        if not doc.has(src):
            if ignore_missing:
                return
            raise _failure("rename", f"field [{src}] doesn't exist")
        if doc.has(dst):
            raise _failure("rename", f"field [{dst}] already exists")
        value = doc.get(src)
        doc.remove(src)
        doc.set(dst, value)

    return apply


def _string_op(kind: str, op: Callable[[str], str]
               ) -> Callable[[_Options], Callable[[IngestDocument], None]]:
    def build(opts: _Options) -> Callable[[IngestDocument], None]:
        source = opts.string("field")
        target = opts.string("target_field", required=False)
        ignore_missing = opts.boolean("ignore_missing", False)

        def apply(doc: IngestDocument) -> None:
            value = doc.get(source or "")
            if value is None:
                if ignore_missing:
                    return
                raise _failure(kind, f"field [{source}] is null or missing")
            if not isinstance(value, str):
                raise _failure(kind, f"field [{source}] of type [{type(value).__name__}] "
                                     "cannot be cast to [java.lang.String]")
            doc.set(target or source or "", op(value))

        return apply

    return build


BUILDERS: dict[str, Callable[[_Options], Callable[[IngestDocument], None]]] = {
    "set": _set,
    "remove": _remove,
    "rename": _rename,
    "lowercase": _string_op("lowercase", str.lower),
    "uppercase": _string_op("uppercase", str.upper),
    "trim": _string_op("trim", str.strip),
}


def parse_processor(raw: Any) -> Processor:
    """``{"<type>": {options}}`` -> :class:`Processor`; ``parse_exception`` when invalid."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise parse_error(None, "processor must be an object with exactly one key, its type")
    kind, options = next(iter(raw.items()))
    builder = BUILDERS.get(kind)
    if builder is None:
        raise parse_error(kind, f"No processor type exists with name [{kind}]")
    if not isinstance(options, dict):
        raise parse_error(kind, f"processor [{kind}] options must be an object")
    if "if" in options:
        raise parse_error(kind, "[if] conditions are Painless scripts, which the local ingest "
                                "stand-in does not run", "if")
    opts = _Options(kind, options)
    apply = builder(opts)
    opts.finish()
    handlers = options.get("on_failure") or []
    if not isinstance(handlers, list):
        raise parse_error(kind, "[on_failure] property isn't a list", "on_failure")
    return Processor(
        kind, options, apply, tag=options.get("tag"),
        ignore_failure=bool(options.get("ignore_failure", False)),
        on_failure=[parse_processor(h) for h in handlers],
    )
