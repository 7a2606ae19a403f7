"""Offsets between the units other tools count in and ours.

Ours: code points into a unit's stored text (NFC, `\\n` newlines, no BOM, controls made
visible one for one; see annotator.textclean). Other tools count UTF-16 code units
(JavaScript: doccano, Label Studio), or code points into the whole article as they read
it (brat, the SemEval files: a BOM there is character 0, and the text may not be NFC).

- `utf16_to_cp` / `cp_to_utf16` / `cp_to_utf8` / `utf8_to_cp`: one text, two units.
- `CleanMap`: a source text, the stored text it becomes, and its offsets mapped
  through the BOM drop, `\\r\\n` -> `\\n` and NFC (which can change lengths).
- `split_units`: the stored text cut into units exactly as the corpus reader cuts it
  (title line, then paragraphs by blank line, or one unit per line), with a map from
  whole-text offsets to (unit, offset in the unit).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

from annotator.textclean import normalize, visible


class OffsetError(ValueError):
    """An offset that does not fall on a character boundary (or past the text)."""


# ----------------------------------------------------------------- UTF-16 and bytes


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _astral(text: str) -> list[int]:
    """Code point indices of the characters outside the BMP (two UTF-16 units each)."""
    if text.isascii():
        return []
    # one C scan (a loop over the characters in Python cost 70 us a paragraph)
    return [m.start() for m in _ASTRAL.finditer(text)]


class Utf16:
    """Conversions for one text, with its astral characters found once."""

    def __init__(self, text: str):
        self.text = text
        self.astral = _astral(text)
        # UTF-16 offset at which each astral character starts
        self.starts = [i + k for k, i in enumerate(self.astral)]
        self.length = len(text) + len(self.astral)

    def to_cp(self, off: int) -> int:
        if not 0 <= off <= self.length:
            raise OffsetError(f"UTF-16 offset {off} is outside the text "
                              f"({self.length} code units)")
        if not self.starts:
            return off
        k = bisect.bisect_left(self.starts, off)  # astral characters starting before off
        if k and self.starts[k - 1] + 1 == off:
            raise OffsetError(f"UTF-16 offset {off} falls inside a surrogate pair "
                              f"({self.text[self.astral[k - 1]]!r})")
        return off - k

    def from_cp(self, off: int) -> int:
        if not 0 <= off <= len(self.text):
            raise OffsetError(f"offset {off} is outside the text ({len(self.text)} characters)")
        return off + bisect.bisect_left(self.astral, off)


def utf16_to_cp(text: str, off: int) -> int:
    return Utf16(text).to_cp(off)


def cp_to_utf16(text: str, off: int) -> int:
    return Utf16(text).from_cp(off)


def cp_to_utf8(text: str, off: int) -> int:
    if not 0 <= off <= len(text):
        raise OffsetError(f"offset {off} is outside the text ({len(text)} characters)")
    return len(text[:off].encode("utf-8"))


def utf8_to_cp(text: str, off: int) -> int:
    data = text.encode("utf-8")
    if not 0 <= off <= len(data):
        raise OffsetError(f"byte offset {off} is outside the text ({len(data)} bytes)")
    try:
        return len(data[:off].decode("utf-8"))
    except UnicodeDecodeError:
        raise OffsetError(f"byte offset {off} falls inside a character") from None


# ----------------------------------------------------------------- cleaning the text


@dataclass
class _Changes:
    """Replaced stretches of one step, sorted: (source start, source end, new length)."""

    items: list[tuple[int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._starts = [a for a, _, _ in self.items]
        shift, self._shifts = 0, []
        for a, b, n in self.items:
            shift += n - (b - a)
            self._shifts.append(shift)

    def map(self, off: int, what: str) -> int:
        k = bisect.bisect_right(self._starts, off) - 1
        if k >= 0:
            a, b, n = self.items[k]
            if off == a:
                return off + (self._shifts[k - 1] if k else 0)
            if off < b:
                if n == 0:  # a deletion (the BOM): the offset moves to where it was
                    return a + (self._shifts[k - 1] if k else 0)
                raise OffsetError(what)
            return off + self._shifts[k]
        return off


def _nfc_changes(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """NFC of `text`, and the stretches whose length changed. Cut before each character
    that NFC cannot join to what precedes it (canonical combining class 0 and the pair
    with the character before is stable), normalized piece by piece; if the pieces do
    not add up to NFC of the whole (some exotic sequence), the whole text is one piece."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text, []
    cuts = [0]
    for i in range(1, len(text)):
        c = text[i]
        if unicodedata.combining(c) == 0 and \
                unicodedata.normalize("NFC", text[i - 1] + c) == \
                unicodedata.normalize("NFC", text[i - 1]) + unicodedata.normalize("NFC", c):
            cuts.append(i)
    cuts.append(len(text))
    out, changes = [], []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = text[a:b]
        norm = unicodedata.normalize("NFC", piece)
        out.append(norm)
        if len(norm) != b - a:
            changes.append((a, b, len(norm)))
    whole = unicodedata.normalize("NFC", text)
    if "".join(out) != whole:
        return whole, [(0, len(text), len(whole))] if len(whole) != len(text) else []
    return whole, changes


class CleanMap:
    """A source text as another tool counts it, the normalized text (NFC, `\\n`, no
    BOM; controls still in place, as `textclean.normalize` gives) and the offset map
    between them. `stored` is what the store keeps (controls made visible, 1:1)."""

    def __init__(self, source: str):
        self.source = source
        steps: list[_Changes] = []
        text = source
        if text.startswith("\ufeff"):
            steps.append(_Changes([(0, 1, 0)]))
            text = text[1:]
        if "\r" in text:
            crlf, i = [], text.find("\r\n")
            while i >= 0:
                crlf.append((i, i + 2, 1))
                i = text.find("\r\n", i + 2)
            if crlf:
                steps.append(_Changes(crlf))
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text, nfc = _nfc_changes(text)
        if nfc:
            steps.append(_Changes(nfc))
        self.normalized = text
        self._steps = steps
        self.identity = not steps
        assert text == normalize(source), "CleanMap disagrees with textclean.normalize"

    @property
    def stored(self) -> str:
        return visible(self.normalized)

    def map(self, off: int) -> int:
        """Source offset -> offset in the normalized text. Raises OffsetError for an
        offset past the text, inside a `\\r\\n` pair or inside characters that NFC
        composes into one."""
        if not 0 <= off <= len(self.source):
            raise OffsetError(f"offset {off} is outside the text ({len(self.source)} "
                              "characters)")
        for step in self._steps:
            off = step.map(off, f"offset {off} falls inside characters that normalisation "
                                "joins (a \\r\\n pair, or a letter and its accent)")
        return off


# ----------------------------------------------------------------- units


@dataclass
class UnitPiece:
    """A stretch of a unit's text taken from the normalized whole text."""

    unit_start: int
    text_start: int
    length: int


@dataclass
class SplitUnit:
    index: int
    text: str  # stored text (controls visible)
    lines: list[int]  # 1-based line numbers of the source lines it holds
    pieces: list[UnitPiece]


class Units:
    """The units of one article and the map from whole-text offsets into them."""

    def __init__(self, units: list[SplitUnit]):
        self.units = units
        self._pieces = sorted(((p.text_start, p.length, p.unit_start, u)
                               for u in units for p in u.pieces), key=lambda t: t[0])
        self._starts = [t[0] for t in self._pieces]

    @property
    def title(self) -> str | None:
        return self.units[0].text if self.units and self.units[0].index == 0 else None

    @property
    def paragraphs(self) -> list[str]:
        return [u.text for u in self.units if u.index > 0]

    def by_index(self, index: int) -> SplitUnit | None:
        for u in self.units:
            if u.index == index:
                return u
        return None

    def locate(self, start: int, end: int) -> tuple[SplitUnit, int, int] | None:
        """Whole-text span [start, end) -> (unit, start, end in the unit), after
        dropping the whitespace the unit does not keep at either edge. None when the
        span holds nothing a unit keeps, or its two ends fall in different units."""
        first = self._piece_at(start, forward=True)
        last = self._piece_at(end - 1, forward=False)
        if first is None or last is None:
            return None
        (u1, s), (u2, e) = first, last
        if u1 is not u2 or s > e:
            return None
        return u1, s, e + 1

    def units_touching(self, start: int, end: int) -> list[SplitUnit]:
        out: list[SplitUnit] = []
        for ts, length, _us, u in self._pieces:
            if ts < end and start < ts + length and u not in out:
                out.append(u)
        return out

    def _piece_at(self, off: int, forward: bool) -> tuple[SplitUnit, int] | None:
        """Unit offset of the character at whole-text `off`; when `off` is in text no
        unit keeps, the nearest kept character after it (forward) or before it."""
        k = bisect.bisect_right(self._starts, off) - 1
        if k >= 0:
            ts, length, us, u = self._pieces[k]
            if off < ts + length:
                return u, us + off - ts
        if forward:
            if k + 1 < len(self._pieces):
                _ts, _length, us, u = self._pieces[k + 1]
                return u, us
            return None
        if k >= 0:
            _ts, length, us, u = self._pieces[k]
            return u, us + length - 1
        return None


def _kept_line(line: str, offset: int, lstrip: bool) -> tuple[str, int]:
    """The part of a line a unit keeps (rstripped; lstripped too when it starts a
    unit) and the whole-text offset where that part starts."""
    kept = line.rstrip()
    if lstrip:
        stripped = kept.lstrip()
        offset += len(kept) - len(stripped)
        kept = stripped
    return kept, offset


def split_units(normalized: str, mode: str = "blank", title: bool = True) -> Units:
    """Cut a normalized article into units as `corpus.read_text_document` does.

    - title: the first non-empty line is unit 0 (stripped).
    - mode "blank": body paragraphs separated by whitespace-only lines; each line
      right-stripped, the paragraph stripped. "lines": each non-empty line is a unit
      (stripped). "whole": the whole text (stripped) is unit 1.
    A BOM left leading a unit is dropped, as the corpus reader drops it."""
    lines = normalized.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    units: list[SplitUnit] = []
    i = 0
    if title and mode != "whole":
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines):
            return Units([])
        kept, at = _kept_line(lines[i], offsets[i], True)
        units.append(_unit(0, [(kept, at)], [i + 1]))
        i += 1
        if i < len(lines) and lines[i].startswith("\ufeff"):
            # the corpus reader normalizes the body on its own, which drops a BOM
            # leading it
            lines[i] = lines[i][1:]
            offsets[i] += 1
    if mode == "whole":
        body = normalized
        stripped = body.strip()
        if stripped:
            at = len(body) - len(body.lstrip())
            units.append(_unit(1, [(stripped, at)], [normalized.count("\n", 0, at) + 1]))
        return Units(units)
    index = 1
    if mode == "lines":
        # one unit a line: what `_unit` makes of one part, without its joining loops
        # (a 100,000-article import reads a million lines)
        for n in range(i, len(lines)):
            line = lines[n]
            kept = line.strip()
            if not kept:
                continue
            at = offsets[n] + len(line.rstrip()) - len(kept)
            if kept[0] == "\ufeff":
                units.append(_unit(index, [(kept, at)], [n + 1]))
            else:
                units.append(SplitUnit(index, visible(kept), [n + 1],
                                       [UnitPiece(0, at, len(kept))]))
            index += 1
        return Units(units)
    current: list[tuple[str, int]] = []
    numbers: list[int] = []
    for n in range(i, len(lines)):
        line = lines[n]
        if line.strip():
            current.append(_kept_line(line, offsets[n], not current))
            numbers.append(n + 1)
        elif current:
            units.append(_unit(index, current, numbers))
            index += 1
            current, numbers = [], []
    if current:
        units.append(_unit(index, current, numbers))
    return Units(units)


def _unit(index: int, parts: list[tuple[str, int]], lines: list[int]) -> SplitUnit:
    pieces, texts, pos = [], [], 0
    for n, (kept, at) in enumerate(parts):
        if n:
            texts.append("\n")
            pos += 1
        if kept:
            pieces.append(UnitPiece(pos, at, len(kept)))
        texts.append(kept)
        pos += len(kept)
    # the newline joining two lines belongs to the unit too (a span may cross it)
    joined = "".join(texts)
    full: list[UnitPiece] = []
    for n, p in enumerate(pieces):
        full.append(p)
        if n + 1 < len(pieces):
            nxt = pieces[n + 1]
            # the "\n" right after this line's kept part, when nothing was stripped there
            if p.unit_start + p.length + 1 == nxt.unit_start and \
                    nxt.text_start == p.text_start + p.length + 1:
                full[-1] = UnitPiece(p.unit_start, p.text_start, p.length + 1)
    if joined.startswith("\ufeff"):
        joined = joined[1:]
        first = full[0]
        full = [UnitPiece(0, first.text_start + 1, first.length - 1)] + [
            UnitPiece(p.unit_start - 1, p.text_start, p.length) for p in full[1:]]
        full = [p for p in full if p.length > 0]
    return SplitUnit(index, visible(joined), lines, full)
