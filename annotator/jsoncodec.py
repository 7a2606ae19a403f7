"""JSON through msgspec, for the paths that handle one value per unit: exports (one
compact line per record), journal events and states written in bulk, and reading
stored states back (3-4x faster than `json.loads`, the same Python values).

msgspec encodes (5x faster than `json.dumps`: at 1,000,000 records the encoding was
most of an export's time), keys in insertion order, UTF-8 kept as is. Characters JSON
may carry raw but a terminal must not get raw (`export | less`): DEL, C1 controls,
line/paragraph separators and bidi controls, are written as \\uXXXX escapes: the same
JSON value, safe bytes. NaN and infinities, which are not JSON, are written as null.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable

_encode: Callable[[object], bytes] | None = None
_encode_lines: Callable[[object], bytes] | None = None
_decode: Callable[[str | bytes], object] | None = None
_sorted: Callable[[object], bytes] | None = None
# Values decoded by the standard library before msgspec is imported: its import costs
# ~17 ms of CPU, more than a screen's reads of a document's few states (the first paint
# of `annotate`); bulk readers (export, agreement) pass this count at once.
FEW = 256
_decoded = 0
# In UTF-8, every character below starts with one of these bytes: a scan for them is
# five times cheaper than the exact pattern (and 30x cheaper than the exact pattern
# written for bytes, an alternation). News text hits it often (curly quotes, dashes),
# so the exact str pattern then searches before anything is replaced.
_MAYBE = re.compile(rb"[\x7f\xc2\xe2]")
UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_unsafe(text: str) -> str:
    """`text` (JSON) with the characters above written as \\uXXXX escapes."""
    return UNSAFE.sub(_escape, text)


def _encoders() -> tuple[Callable[[object], bytes], Callable[[object], bytes]]:
    global _encode, _sorted, _encode_lines
    if _encode is None:
        import msgspec  # on first use: the annotation screen never needs it

        encoder = msgspec.json.Encoder()
        _encode = encoder.encode
        _encode_lines = encoder.encode_lines
        _sorted = msgspec.json.Encoder(order="sorted").encode
    return _encode, _sorted


def dumps(obj: object, sort_keys: bool = False) -> str:
    """`obj` as one line of compact JSON, safe to show in a terminal."""
    encode, encode_sorted = _encoders()
    data = (encode_sorted if sort_keys else encode)(obj)
    text = data.decode()
    if _MAYBE.search(data) is not None and UNSAFE.search(text) is not None:
        text = UNSAFE.sub(_escape, text)
    return text


def dumps_bytes(obj: object, sort_keys: bool = False) -> bytes:
    """`dumps(obj, sort_keys)` as UTF-8, without decoding it (to hash it, say)."""
    encode, encode_sorted = _encoders()
    return _safe(encode_sorted(obj) if sort_keys else encode(obj))


def dumps_lines(objs: list) -> bytes:
    """Each of `objs` as `dumps` writes it, one a line (each ending in a newline), as
    UTF-8: one call for a batch of records (an export writes a document's at once)."""
    _encoders()
    assert _encode_lines is not None
    return _safe(_encode_lines(objs))


def _safe(data: bytes) -> bytes:
    """Encoded JSON with what must not reach a terminal escaped (the byte scan first:
    almost no text holds any of it)."""
    if _MAYBE.search(data) is not None:
        text = data.decode()
        if UNSAFE.search(text) is not None:
            data = UNSAFE.sub(_escape, text).encode()
    return data


def compact(obj: object) -> str:
    """`obj` as compact JSON, nothing escaped beyond what JSON needs: for values stored
    and read back (journal events and states), not shown."""
    return _encoders()[0](obj).decode()


def loads(text: str | bytes) -> object:
    """A JSON value (stored by us: states, metadata), as `json.loads` gives it."""
    global _decode, _decoded
    if _decode is None:
        if _decoded < FEW and "msgspec" not in sys.modules:
            _decoded += 1
            return json.loads(text)
        import msgspec

        _decode = msgspec.json.Decoder().decode
    return _decode(text)
