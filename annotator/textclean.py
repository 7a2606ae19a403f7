"""Canonical stored text: NFC, `\\n` newlines, no control characters.

Control characters are replaced one-for-one by visible symbols so that span offsets
computed on the stored text stay valid and no article text can ever reach a terminal
as an escape sequence (Textual passes ESC, NUL and C1 through even in `Content`).
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls except \n -> Unicode "Control Pictures" (U+2400 + code): ESC shows as ␛.
# DEL -> ␡. C1 controls (U+0080-U+009F) -> U+FFFD: C1 has no picture block, and
# 8-bit CSI (U+009B) is what terminals would act on.
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c != 0x0A}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: "\ufffd" for c in range(0x80, 0xA0)})
# Line/paragraph separators and bidi overrides render unpredictably in terminals and
# can hide text (Trojan-source style): make them visible, still one symbol each.
for _c in (0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067,
           0x2068, 0x2069):
    _TABLE[_c] = "\ufffd"

# Lone surrogates (from JSON "\ud800") cannot be encoded: one U+FFFD each.
_TABLE.update({c: "\ufffd" for c in range(0xD800, 0xE000)})

_CONTROL_RE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NEWLINES_RE = re.compile("\r\n?")


def normalize_newlines(text: str) -> str:
    return _NEWLINES_RE.sub("\n", text)


def normalize(text: str) -> str:
    """NFC, `\\n` newlines, a leading BOM dropped; controls still in place (so that a
    line of tabs still reads as blank when paragraphs are split)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = normalize_newlines(text)
    if not text.isascii():
        try:
            if not unicodedata.is_normalized("NFC", text):
                text = unicodedata.normalize("NFC", text)
        except UnicodeError:  # lone surrogates: make them visible first
            text = unicodedata.normalize("NFC", text.translate(_TABLE))
    return text


def visible(text: str) -> str:
    """Controls made visible, one for one; nothing else changed."""
    if _CONTROL_RE.search(text):
        text = text.translate(_TABLE)
    return text


def clean_text(text: str) -> str:
    """NFC, `\\n` newlines, a leading BOM dropped, controls made visible."""
    return visible(normalize(text))


def safe_inline(text: str) -> str:
    """For one-line display of untrusted text (titles, notes): newlines too made visible."""
    return clean_text(text).replace("\n", "\u2424")


MESSAGE_LIMIT = 1000  # characters of one error message (a value quoted in it is cut)


def safe_message(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """For a one-line error message that quotes untrusted input (a YAML key, a label
    id, a file name): controls and newlines made visible, and cut to `limit` characters
    so a 50 MB value quoted in a message does not flood the terminal."""
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return safe_inline(text)


def clean_json(value: object) -> object:
    """A parsed JSON value with every string (keys too) cleaned like stored text: lone
    surrogates (from "\\ud800" escapes) cannot be encoded, and C1 or ESC in a value
    would reach the terminal when the value is printed or shown. Nesting is bounded
    by the readers (annotator.jsonl.MAX_DEPTH, annotator.yamlload.MAX_DEPTH)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    return value
