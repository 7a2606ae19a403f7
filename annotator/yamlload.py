"""A safe YAML loader that remembers where every node was written.

Returns plain data (dict, list, str, int, float, bool, None) plus the 1-based
(line, col) of every node, keyed by its path from the root (a tuple of mapping keys
and sequence indices), so validators can report `path:line:col: message`.

Deliberately stricter than `yaml.safe_load`: duplicate keys, anchors and aliases
(alias bombs), and tags outside the JSON-like core are refused, and nothing is ever
constructed from a tag, so loading cannot execute code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from annotator.errors import InputError, Problem

Pointer = tuple[str | int, ...]
Position = tuple[int, int]

_TAG = "tag:yaml.org,2002:"
# Tags whose values are plain JSON-like data. Everything else (python/*, set, omap,
# binary, merge keys, local `!tags`) is refused rather than silently constructed.
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
# Dates stay the string the user wrote: data must round-trip through JSON.
_AS_STRING_TAGS = {_TAG + "timestamp"}
# Deepest nesting of sequences and mappings: a label schema is 8 levels deep. Deeper
# documents are refused where they go too deep, before recursion could overflow.
MAX_DEPTH = 100
_SURROGATES = re.compile("[\ud800-\udfff]")


class _RefusedYaml(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Refusing(Composer):
    """The composer of a safe loader that refuses anchors and aliases while composing,
    before any expansion could happen, and nesting deeper than MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _RefusedYaml(
                event.start_mark,
                f"alias '*{event.anchor}' is not allowed: anchors and aliases are refused "
                "(write the value out in full)",
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _RefusedYaml(
                event.start_mark,
                f"anchor '&{anchor}' is not allowed: anchors and aliases are refused "
                "(write the value out in full)",
            )
        if self.depth >= MAX_DEPTH:
            raise _RefusedYaml(event.start_mark,
                               f"nested more than {MAX_DEPTH} levels deep")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _PyLoader(_Refusing, yaml.SafeLoader):
    """Pure-Python scanner and parser."""


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CLoader(_Refusing, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (ten times faster: `annotator validate` in a CI
        job, a fuzz test), our composer on its events."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _Loader: type = _CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


@dataclass
class YamlDocument:
    """Loaded YAML: `data` and where each node of it was written."""

    path: str
    data: Any
    # path -> (line, col) of the node (for a mapping value: the value itself)
    positions: dict[Pointer, Position] = field(default_factory=dict)
    # path -> (line, col) of the mapping key that introduces the value at that path
    key_positions: dict[Pointer, Position] = field(default_factory=dict)

    def locate(self, pointer: Pointer | list[str | int]) -> Position:
        """Best (line, col) for a path: the key that names it, else the node, else the
        nearest ancestor that exists (a path may name a property that is missing)."""
        p = tuple(pointer)
        while True:
            if p in self.key_positions:
                return self.key_positions[p]
            if p in self.positions:
                return self.positions[p]
            if not p:
                return (1, 1)
            p = p[:-1]

    def locate_node(self, pointer: Pointer | list[str | int]) -> Position:
        """(line, col) of the node itself (for a mapping: its first key)."""
        p = tuple(pointer)
        while p not in self.positions and p:
            p = p[:-1]
        return self.positions.get(p, (1, 1))

    def problem(self, pointer: Pointer | list[str | int], message: str) -> Problem:
        line, col = self.locate(pointer)
        return Problem(self.path, line, col, message)


def _pos(mark: yaml.Mark | None) -> Position:
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


def _build(loader: Any, node: Node, pointer: Pointer, doc: YamlDocument) -> Any:
    doc.positions[pointer] = _pos(node.start_mark)
    if isinstance(node, ScalarNode):
        return _scalar(loader, node)
    if isinstance(node, SequenceNode):
        if node.tag != _TAG + "seq":
            raise _RefusedYaml(node.start_mark, f"tag '{_short_tag(node.tag)}' is not allowed")
        return [_build(loader, item, pointer + (i,), doc) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != _TAG + "map":
            raise _RefusedYaml(node.start_mark, f"tag '{_short_tag(node.tag)}' is not allowed")
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _RefusedYaml(key_node.start_mark, "mapping keys must be plain scalars")
            if key_node.tag == _TAG + "merge":
                raise _RefusedYaml(key_node.start_mark, "merge keys '<<' are not allowed")
            key = _scalar(loader, key_node)
            if key in out:
                first_line = doc.key_positions[pointer + (key,)][0]
                raise _RefusedYaml(
                    key_node.start_mark,
                    f"duplicate key '{key}' (first defined on line {first_line})",
                )
            doc.key_positions[pointer + (key,)] = _pos(key_node.start_mark)
            out[key] = _build(loader, value_node, pointer + (key,), doc)
        return out
    raise _RefusedYaml(node.start_mark, "unsupported YAML node")  # pragma: no cover


def _scalar(loader: Any, node: ScalarNode) -> Any:
    if node.tag in _AS_STRING_TAGS:
        return node.value
    if node.tag not in _SCALAR_TAGS:
        raise _RefusedYaml(node.start_mark, f"tag '{_short_tag(node.tag)}' is not allowed")
    # Only the core constructors run: they turn text into str/int/float/bool/None.
    try:
        value = loader.yaml_constructors[node.tag](loader, node)
    except ValueError as exc:  # e.g. an integer of thousands of digits
        message = ("a number with more than 4300 digits is not supported"
                   if "integer string conversion" in str(exc) else f"invalid value: {exc}")
        raise _RefusedYaml(node.start_mark, message) from None
    if isinstance(value, str) and not value.isascii() and _SURROGATES.search(value):
        # "\ud800" in a double-quoted string: a lone surrogate cannot be encoded
        # (nor written to the parse cache); one U+FFFD each, as in corpus text.
        value = _SURROGATES.sub("\ufffd", value)
    return value


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _line_col_of_offset(text: str, offset: int) -> Position:
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def load_yaml_text(text: str, path: str | Path = "<string>",
                   loader_class: type | None = None) -> YamlDocument:
    """Parse YAML text; raises InputError with one located Problem."""
    spath = str(path)
    doc = YamlDocument(spath, None)
    loader = None
    cls = loader_class or _Loader
    try:
        loader = cls(text)  # the reader already refuses control characters here
        root = loader.get_single_node()
        if root is not None:
            doc.data = _build(loader, root, (), doc)
    except _RefusedYaml as exc:
        line, col = _pos(exc.mark)
        raise InputError(Problem(spath, line, col, exc.message)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark and mark and mark.index >= len(text.rstrip()):
            # Unexpected end of file: the useful place is what was left open.
            mark = exc.context_mark
        line, col = _pos(mark)
        parts = [p for p in (exc.context, exc.problem) if p]
        raise InputError(
            Problem(spath, line, col, "YAML syntax error: " + ", ".join(parts))
        ) from None
    except yaml.reader.ReaderError as exc:
        offset = exc.position
        if not issubclass(cls, yaml.SafeLoader) and not text.isascii():
            # libyaml reports a byte offset into the UTF-8 text, not a character one
            offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
        line, col = _line_col_of_offset(text, offset)
        raise InputError(
            Problem(spath, line, col, f"character #x{exc.character:04x} is not allowed in YAML")
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - other YAML errors carry no mark
        raise InputError(Problem(spath, 0, 0, f"YAML error: {exc}")) from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH refuses deep nesting first
        raise InputError(Problem(spath, 0, 0, "YAML nesting is too deep")) from None
    except ValueError as exc:  # pragma: no cover - values are checked where they are built
        raise InputError(Problem(spath, 0, 0, f"invalid value: {exc}")) from None
    finally:
        if loader is not None:
            loader.dispose()
    return doc


def load_yaml_bytes(data: bytes, path: str | Path = "<bytes>") -> YamlDocument:
    """Decode UTF-8 (a BOM is allowed) and parse; a bad byte is reported by offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError(
            Problem(
                str(path),
                line,
                col,
                f"not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
            )
        ) from None
    return load_yaml_text(text, path)
