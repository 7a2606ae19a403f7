"""Reading JSON Lines strictly, for corpora and for exports alike.

One place decides what a valid line is: UTF-8 (a BOM allowed on line 1), blank lines
skipped, no NaN/Infinity, no numbers out of float range, no pathological nesting or
integer sizes. Each bad line becomes a located Problem, never an exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

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


def iter_json_lines(path: Path) -> Iterator[tuple[int, int, object | Problem]]:
    """(line number, byte offset after the line, parsed value or a Problem) for every
    non-blank line."""
    spath = str(path)
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
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, offset, Problem(
                    spath, lineno, exc.start + 1,
                    f"invalid UTF-8 at byte offset {start + exc.start}")
                continue
            try:
                value = json.loads(line, parse_constant=_no_constant, parse_float=_finite_float)
            except json.JSONDecodeError as exc:
                yield lineno, offset, Problem(spath, lineno, exc.colno,
                                              f"invalid JSON: {exc.msg}")
            except RecursionError:
                yield lineno, offset, Problem(
                    spath, lineno, 1,
                    f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
            except ValueError as exc:
                yield lineno, offset, Problem(spath, lineno, 1, _value_error(exc))
            else:
                # Counting brackets (quoted ones too) is a cheap upper bound of the depth.
                if (line.count("[") + line.count("{") > MAX_DEPTH
                        and _depth(value) > MAX_DEPTH):
                    yield lineno, offset, Problem(
                        spath, lineno, 1,
                        f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
                    continue
                yield lineno, offset, value
