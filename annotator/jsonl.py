"""Reading JSON Lines strictly, for corpora and for exports alike.

One place decides what a valid line is: UTF-8 (a BOM allowed on line 1), blank lines
skipped, no NaN/Infinity, no numbers out of float range, no pathological nesting or
integer sizes. Each bad line becomes a located Problem, never an exception.
"""

from __future__ import annotations

import json
import keyword
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from annotator.errors import Problem

# Deepest nesting of arrays and objects accepted in one line. An export record is 6
# levels deep; `meta` may nest further, but a value nested near Python's recursion
# limit would parse here and then fail wherever it is read back or written deeper in
# a call stack (the TUI, an export), so it is refused up front.
MAX_DEPTH = 100


def _no_constant(name: str) -> float:
    # NaN and Infinity are not JSON: an export holding them could not be read back.
    raise ValueError(f"{name} is not valid JSON (use null or a string)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def _depth(value: object) -> int:
    """Nesting depth of a parsed value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node
                     if isinstance(child, dict | list))
    return deepest


def _value_error(exc: ValueError) -> str:
    text = str(exc)
    if "integer string conversion" in text:  # Python's guard against huge integers
        return "invalid JSON: a number with more than 4300 digits is not supported"
    return f"invalid JSON: {text}"


def iter_raw_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset of the line's start, bytes) of every non-blank line; a
    UTF-8 BOM on line 1 is dropped (the offset then points past it)."""
    with open(path, "rb") as fh:
        offset = 0
        for lineno, raw in enumerate(fh, start=1):
            start = offset
            offset += len(raw)
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
                start += 3
            if not raw.strip():
                continue
            yield lineno, start, raw


def parse_line(raw: bytes, spath: str, lineno: int, start: int = 0) -> object | Problem:
    """One line parsed strictly (the rules at the top of this module), or a Problem."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(spath, lineno, exc.start + 1,
                       f"invalid UTF-8 at byte offset {start + exc.start}")
    try:
        value = json.loads(line, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        return Problem(spath, lineno, exc.colno, f"invalid JSON: {exc.msg}")
    except RecursionError:
        return Problem(spath, lineno, 1, f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
    except ValueError as exc:
        return Problem(spath, lineno, 1, _value_error(exc))
    # Counting brackets (quoted ones too) is a cheap upper bound of the depth.
    if too_deep_maybe(raw) and _depth(value) > MAX_DEPTH:
        return Problem(spath, lineno, 1, f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
    return value


def too_deep_maybe(raw: bytes) -> bool:
    """False when the line certainly nests no deeper than MAX_DEPTH (a bracket count)."""
    return raw.count(b"[") + raw.count(b"{") > MAX_DEPTH


def iter_json_lines(path: Path) -> Iterator[tuple[int, int, object | Problem]]:
    """(line number, byte offset after the line, parsed value or a Problem) for every
    non-blank line."""
    spath = str(path)
    for lineno, start, raw in iter_raw_lines(path):
        end = start + len(raw)
        yield lineno, end, parse_line(raw, spath, lineno, start)


# ---------------------------------------------------------------- compiled record types
#
# A JSON Schema is compiled into msgspec types, so that one C pass parses a line and
# checks its shape. The compiler knows only the keywords our record schemas use and
# refuses any other (Unsupported): a schema that grows a keyword it cannot express is
# then checked by jsonschema alone, never half-checked. What msgspec cannot express
# (`uniqueItems`) is returned as residual checks for the caller to make. The compiled
# type accepts a subset of what the JSON Schema accepts (see `CompiledRecord`); lines
# it refuses go through `parse_line` and jsonschema, which word the message.

_ANNOTATION_ONLY = {"description", "title", "$schema", "$id", "$defs", "$comment", "examples",
                    "default", "format"}  # `format` asserts nothing without a format checker


class Unsupported(ValueError):
    """A JSON Schema keyword the compiler cannot express exactly."""


@dataclass
class CompiledRecord:
    """A msgspec decoder for one record schema, and the checks left to the caller:
    (path, keyword) pairs, a path being property names (as attributes: `from_`) with
    "*" for any item or any property value."""

    decoder: Any
    residual: frozenset[tuple[tuple[str, ...], str]]
    struct: Any
    # Attribute paths ("*": any item) of the containers whose values the types leave
    # open (Any): the only places a decoded record can nest deeper than its types.
    open_paths: frozenset[tuple[str, ...]] = frozenset()


def compile_record_schema(schema: dict) -> CompiledRecord:
    """msgspec types for a JSON Schema (draft 2020-12, the subset our schemas use);
    raises Unsupported for anything else."""
    import msgspec

    defs = schema.get("$defs", {})
    residual: set[tuple[tuple[str, ...], str]] = set()
    open_paths: set[tuple[str, ...]] = set()
    done: dict[str, Any] = {}
    counter = iter(range(1_000_000))

    def meta(**kw: Any) -> Any:
        kw = {k: v for k, v in kw.items() if v is not None}
        return msgspec.Meta(**kw) if kw else None

    def annotated(tp: Any, m: Any) -> Any:
        return Annotated[tp, m] if m is not None else tp

    def one_type(name: str, node: dict, path: tuple[str, ...]) -> Any:
        if name == "null":
            return type(None)
        if name == "boolean":
            return bool
        if name in ("integer", "number"):
            tp = int if name == "integer" else float
            return annotated(tp, meta(ge=node.get("minimum")))
        if name == "string":
            return annotated(str, meta(min_length=node.get("minLength"),
                                       pattern=node.get("pattern")))
        if name == "array":
            if node.get("uniqueItems"):
                residual.add((path, "uniqueItems"))
            items = node.get("items")
            if items is None:
                opened(path)
            tp = list[compile_node(items, (*path, "*"))] if items is not None else list
            return annotated(tp, meta(min_length=node.get("minItems"),
                                      max_length=node.get("maxItems")))
        if name == "object":
            return object_type(node, path)
        raise Unsupported(f"type {name!r}")

    def object_type(node: dict, path: tuple[str, ...]) -> Any:
        props = node.get("properties")
        extra = node.get("additionalProperties", True)
        if not props:
            if extra is True:
                opened(path)
                return dict[str, Any]
            if isinstance(extra, dict):
                return dict[str, compile_node(extra, (*path, "*"))]
            raise Unsupported("an object with no properties and additionalProperties false")
        if extra not in (True, False):
            raise Unsupported("properties with an additionalProperties schema")
        required = set(node.get("required", ()))
        if not required <= set(props):
            raise Unsupported("a required property that is not in properties")
        fields = []
        rename = {}
        for key, sub in props.items():
            attr = key if key.isidentifier() and not keyword.iskeyword(key) else f"{key}_"
            if not attr.isidentifier():
                raise Unsupported(f"property name {key!r}")
            if attr != key:
                rename[attr] = key
            tp = compile_node(sub, (*path, attr))
            fields.append((attr, tp) if key in required else (attr, tp, None))
        # Unknown fields are refused even where the JSON Schema allows them: msgspec
        # would skip them unseen (their nesting depth too), so such a line goes the
        # slow way (parse_line and jsonschema), and the compiled type stays a subset.
        return msgspec.defstruct(
            f"Record{next(counter)}", fields, rename=rename or None, kw_only=True,
            forbid_unknown_fields=True, gc=False)

    def opened(path: tuple[str, ...]) -> None:
        open_paths.add(path)

    def compile_node(node: dict, path: tuple[str, ...]) -> Any:
        if not isinstance(node, dict):
            raise Unsupported("a boolean schema")
        unknown = set(node) - _ANNOTATION_ONLY - {
            "$ref", "type", "properties", "required", "additionalProperties", "items",
            "uniqueItems", "minLength", "pattern", "minimum", "const", "enum", "anyOf",
            "minItems", "maxItems"}
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$ref" in node:
            if set(node) - _ANNOTATION_ONLY != {"$ref"}:
                raise Unsupported("$ref beside other keywords")
            ref = node["$ref"]
            if not ref.startswith("#/$defs/") or ref[8:] not in defs:
                raise Unsupported(f"$ref {ref!r}")
            name = ref[8:]
            if name not in done:
                done[name] = None  # a recursive $ref would come back here
                done[name] = compile_node(defs[name], path)
            elif done[name] is None:
                raise Unsupported(f"recursive $ref {ref!r}")
            return done[name]
        if "const" in node or "enum" in node:
            values = [node["const"]] if "const" in node else list(node["enum"])
            strings = [v for v in values if v is not None]
            if set(node) - _ANNOTATION_ONLY - {"const", "enum", "type"} or not strings or not all(
                    isinstance(v, str) for v in strings):
                raise Unsupported("const / enum other than strings (and null)")
            lit = Literal[tuple(strings)]
            return lit if len(strings) == len(values) else Optional[lit]  # noqa: UP007, UP045
        if "anyOf" in node:
            if set(node) - _ANNOTATION_ONLY != {"anyOf"}:
                raise Unsupported("anyOf beside other keywords")
            return Union[tuple(compile_node(n, path) for n in node["anyOf"])]  # noqa: UP007
        kinds = node.get("type")
        if kinds is None:
            raise Unsupported("a schema without a type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        for k, allowed in (("properties", "object"), ("required", "object"),
                           ("additionalProperties", "object"), ("items", "array"),
                           ("uniqueItems", "array"), ("minItems", "array"), ("maxItems", "array"),
                           ("minLength", "string"),
                           ("pattern", "string")):
            if k in node and allowed not in kinds:
                raise Unsupported(f"{k} on a schema that is not of type {allowed}")
        if "minimum" in node and not {"integer", "number"} & set(kinds):
            raise Unsupported("minimum on a schema that is not a number")
        types = [one_type(k, node, path) for k in kinds]
        return types[0] if len(types) == 1 else Union[tuple(types)]  # noqa: UP007

    struct = compile_node(schema, ())
    try:
        decoder = msgspec.json.Decoder(struct)
    except TypeError as exc:  # e.g. a union msgspec cannot decode unambiguously
        raise Unsupported(str(exc)) from None
    return CompiledRecord(decoder, frozenset(residual), struct, frozenset(open_paths))


def open_depth(recs: list, path: tuple[str, ...]) -> int:
    """The deepest nesting of decoded records through the open container at `path`
    (attribute names, "*" for any item): the containers on the path, plus its values'
    depth. Elsewhere the compiled types bound the depth, so a batch of records whose
    open paths all stay within MAX_DEPTH nests no deeper (no bracket count needed)."""
    objs: Any = recs
    for step in path:
        if step == "*":
            objs = list(chain.from_iterable(o.values() if isinstance(o, dict) else o
                                            for o in objs))
        else:  # absent (None, msgspec.UNSET) and empty containers are falsy: no depth
            objs = list(filter(None, map(operator.attrgetter(step), objs)))
    try:
        values = list(chain.from_iterable(map(dict.values, objs)))
    except TypeError:  # an open array
        values = list(chain.from_iterable(o.values() if isinstance(o, dict) else o
                                          for o in objs))
    if not {dict, list} & set(map(type, values)):
        return len(path) + 1
    return len(path) + 1 + max(_depth(v) for v in values)
