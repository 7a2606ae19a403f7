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


def _no_constant(name: str) -> float:
    # NaN and Infinity are not JSON: an export holding them could not be read back.
    raise ValueError(f"{name} is not valid JSON (use null or a string)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


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
            except (ValueError, RecursionError) as exc:
                yield lineno, offset, Problem(spath, lineno, 1, f"invalid JSON: {exc}")
            else:
                yield lineno, offset, value
