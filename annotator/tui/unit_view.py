"""The paragraph in focus with its spans, between the dimmed previous and next ones.

Drawn with the Line API: `render_line` builds one Strip for one visible row, so a
5 MB paragraph costs a wrap (cached per width) and then only the rows on screen.
Text reaches the terminal only as Segments of plain strings, never as markup, and
made visible (`textclean.visible`) whatever store it came from.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from rich.cells import cell_len, get_character_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from annotator.textclean import visible
from annotator.tui.styles import CachedStyles

# How many span styles the stylesheet defines (unit-view--span-0 .. -5); labels cycle.
SPAN_STYLES = 6
LEFT_GUTTER = 3  # "▶✓ ": focus arrow and annotated mark, so state never rests on colour
RIGHT_GUTTER = 3  # letters of the span labels on the row (e.g. "QS"), "?" for proposals
MAX_CONTEXT_LINES = 4  # rows of the previous / next paragraph shown at most


@lru_cache(maxsize=32)
def _wrap_pattern(width: int) -> re.Pattern[str]:
    # Greedy: the longest run of at most `width` characters that ends before spaces
    # (which stay on the row) or at the end; a word longer than a row is cut.
    # Only ASCII spaces and tabs break rows: a no-break space must not.
    return re.compile(rf"[^\n]{{1,{width}}}(?:[ \t]+|$)|[^\n]{{{width}}}")


def _wrap_cells(text: str, base: int, width: int) -> list[tuple[int, int]]:
    """Slow path for rows that hold wide characters: cut by terminal cells."""
    out: list[tuple[int, int]] = []
    start, cells = 0, 0
    for i, ch in enumerate(text):
        size = get_character_cell_size(ch)
        if cells + size > width and i > start:
            out.append((base + start, base + i))
            start, cells = i, 0
        cells += size
    out.append((base + start, base + len(text)))
    return out


def wrap_offsets(text: str, width: int) -> list[tuple[int, int]]:
    """Rows of `text` wrapped to `width` cells, as [start, end) offsets into `text`.

    Every character belongs to exactly one row except the newlines that end rows.
    Runs in the regex engine, so a 5 MB paragraph wraps in tens of milliseconds.
    """
    width = max(1, width)
    pattern = _wrap_pattern(width)
    ascii_only = text.isascii()
    rows: list[tuple[int, int]] = []
    pos = 0
    for part in text.split("\n"):
        if not part:
            rows.append((pos, pos))
        else:
            for m in pattern.finditer(part):
                s, e = m.start(), m.end()
                if not ascii_only and cell_len(part[s:e].rstrip(" \t")) > width:
                    rows.extend(_wrap_cells(part[s:e], pos + s, width))
                else:
                    rows.append((pos + s, pos + e))
        pos += len(part) + 1
    return rows


# Value types as NamedTuples: a frozen dataclass is generated (exec) at import, and
# these modules are imported before the first frame.
class ViewSpan(NamedTuple):
    """A span (or a proposed quote) as the view draws it."""

    id: str
    start: int
    end: int
    style: int  # index into the span styles of the stylesheet
    mark: str  # one letter shown in the right gutter, so labels differ without colour
    proposal: bool = False


class Row(NamedTuple):
    """One row of the view: a wrapped line of the focused unit, or of a neighbour."""

    role: str  # "prev", "cur", "next" or "gap"
    start: int = 0  # offsets into the unit's text (exact for "cur")
    end: int = 0
    text: str = ""  # the row's text for context rows ("prev"/"next")
    gutter: str = ""


class ProposalIndex:
    """Proposed quotes sorted by start (they never overlap), found per row by bisection:
    a paragraph with thousands of quotes costs only the ones on the visible rows."""

    def __init__(self, items: list[tuple[str, int, int]]) -> None:
        self.items = items  # (id, start, end)
        self.starts = [s for _, s, _ in items]

    def between(self, lo: int, hi: int) -> list[ViewSpan]:
        i = max(0, bisect.bisect_right(self.starts, lo) - 1)
        out = []
        while i < len(self.items) and self.items[i][1] < hi:
            pid, s, e = self.items[i]
            if e > lo:
                out.append(ViewSpan(pid, s, e, 0, "?", proposal=True))
            i += 1
        return out


@dataclass
class Decor:
    """Everything drawn over the focused text; changing it never re-wraps."""

    spans: tuple[ViewSpan, ...] = ()
    selected: str | None = None
    target: str | None = None  # candidate source while linking a quote
    cursor: int | None = None
    anchor: int | None = None  # span mode: selection from anchor to cursor
    done: bool = False  # the focused unit is annotated (its gutter mark)
    proposals: ProposalIndex | None = None
    matches: tuple[tuple[int, int], ...] = ()  # of the last search, highlighted


def _selection(d: Decor) -> tuple[int, int] | None:
    if d.anchor is None or d.cursor is None:
        return None
    return min(d.anchor, d.cursor), max(d.anchor, d.cursor) + 1


def _item_range(d: Decor, item: str | None) -> list[tuple[int, int]]:
    if item is None:
        return []
    out = [(s.start, s.end) for s in d.spans if s.id == item]
    if not out and d.proposals is not None and item.startswith("?"):
        out = [(s, e) for i, s, e in d.proposals.items if i == item]
    return out


def changed_ranges(old: Decor, new: Decor) -> list[tuple[int, int]]:
    """[lo, hi) offsets of the focused text whose look differs between two decors:
    what has to be repainted when the decor changes."""
    out = [(s.start, s.end) for s in set(old.spans) ^ set(new.spans)]
    for attr in ("selected", "target"):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            out += _item_range(old, a) + _item_range(new, b)
    if old.cursor != new.cursor:
        out += [(c, c + 1) for c in (old.cursor, new.cursor) if c is not None]
    a, b = _selection(old), _selection(new)
    if a != b:
        if a is None or b is None:
            out.append(a or b)
        else:  # only the ends moved: repaint between the old and new ends
            out += [(min(a[0], b[0]), max(a[0], b[0]) + 1),
                    (min(a[1], b[1]) - 1, max(a[1], b[1]))]
    if old.matches != new.matches:
        out += list(set(old.matches) ^ set(new.matches))
    if old.proposals is not new.proposals:
        before = old.proposals.items if old.proposals else []
        after = new.proposals.items if new.proposals else []
        if before != after:
            out += [(s, e) for _, s, e in set(before) ^ set(after)]
    return [(lo, max(hi, lo + 1)) for lo, hi in out]


def _gutter(current: bool, done: bool) -> str:
    return ("▶" if current else " ") + ("✓" if done else "·") + " "


class UnitView(ScrollView, CachedStyles, can_focus=False):
    """Previous paragraph (dimmed), the unit in focus, next paragraph (dimmed)."""

    COMPONENT_CLASSES = {
        "unit-view--context",
        "unit-view--current",
        "unit-view--gutter",
        "unit-view--done",
        "unit-view--cursor",
        "unit-view--selection",
        "unit-view--selected",
        "unit-view--target",
        "unit-view--proposal",
        "unit-view--match",
        *(f"unit-view--span-{i}" for i in range(SPAN_STYLES)),
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prev: tuple[str, bool] | None = None
        self._cur: tuple[str, bool] = ("", False)
        self._next: tuple[str, bool] | None = None
        self._key: object = None  # identifies the focused unit, for the wrap cache
        self._rows: list[Row] = []
        self._cur_first = 0  # index in _rows of the focused unit's first row
        self._cur_starts: list[int] = []  # row start offsets of the focused unit
        self._wrap_cache: dict[int, list[tuple[int, int]]] = {}  # focused unit, by width
        self._built_for: Size | None = None
        self.decor = Decor()

    # -- content ----------------------------------------------------------------------
    def show(self, key: object, prev: tuple[str, bool] | None, cur: tuple[str, bool],
             nxt: tuple[str, bool] | None) -> None:
        """Focus a unit: (text, annotated) of it and of its neighbours. The texts are
        made visible again here, one character for one (offsets stay valid): a store
        is a file that someone else may have written ESC or OSC bytes into."""
        prev = (visible(prev[0]), prev[1]) if prev is not None else None
        cur = (visible(cur[0]), cur[1])
        nxt = (visible(nxt[0]), nxt[1]) if nxt is not None else None
        if key != self._key:
            self._wrap_cache.clear()
        self._key = key
        self._prev, self._cur, self._next = prev, cur, nxt
        self.decor = Decor()
        self._build()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def set_decor(self, decor: Decor) -> None:
        """Restyle the focused unit (spans, cursor, selection): no re-wrap, no layout,
        and only the rows whose look changed are repainted (a cursor step sends two
        rows to the terminal, a new span its own rows)."""
        old, self.decor = self.decor, decor
        point = decor.cursor
        if point is None and decor.selected is not None:
            point = next((s.start for s in decor.spans if s.id == decor.selected), None)
        if point is None and decor.selected is not None and decor.proposals is not None:
            point = next((s for i, s, _ in decor.proposals.items if i == decor.selected),
                         None)
        scrolled = self.scroll_offset.y
        if point is not None:
            self._scroll_to_offset(point)
        if self.scroll_offset.y != scrolled or not self._cur_starts:
            self.refresh()  # every visible row moved
            return
        for lo, hi in changed_ranges(old, decor):
            self._refresh_offsets(lo, hi)
        if old.done != decor.done:
            self.refresh_lines(self._cur_first)  # the ✓ in the first row's gutter

    def _refresh_offsets(self, lo: int, hi: int) -> None:
        """Repaint the rows of the focused unit that hold text[lo:hi]."""
        first = max(0, bisect.bisect_right(self._cur_starts, lo) - 1)
        last = max(first, bisect.bisect_right(self._cur_starts, max(lo, hi - 1)) - 1)
        self.refresh_lines(self._cur_first + first, last - first + 1)

    def text_width(self) -> int:
        return max(1, self.scrollable_content_region.width - LEFT_GUTTER - RIGHT_GUTTER)

    def row_bounds(self, offset: int) -> tuple[int, int]:
        """[start, end) of the focused unit's row holding `offset`."""
        if not self._cur_starts:
            return 0, len(self._cur[0])
        i = max(0, bisect.bisect_right(self._cur_starts, offset) - 1)
        row = self._rows[self._cur_first + i]
        return row.start, row.end

    def row_step(self, offset: int, step: int) -> int | None:
        """The offset `step` rows below (above, if negative) `offset` in the focused
        unit, in the same column as far as that row reaches; None past either end."""
        if not self._cur_starts:
            return None
        i = max(0, bisect.bisect_right(self._cur_starts, offset) - 1)
        j = i + step
        if not 0 <= j < len(self._cur_starts):
            return None
        row, target = self._rows[self._cur_first + i], self._rows[self._cur_first + j]
        column = offset - row.start
        text = self._cur[0]
        last = target.start + max(0, len(text[target.start:target.end].rstrip()) - 1)
        return min(target.start + column, last)

    def _wrapped(self, text: str, width: int) -> list[tuple[int, int]]:
        rows = self._wrap_cache.get(width)
        if rows is None:
            rows = self._wrap_cache[width] = wrap_offsets(text, width)
        return rows

    def _build(self) -> None:
        size = self.scrollable_content_region.size
        self._built_for = size
        width = self.text_width()
        text = self._cur[0]
        cur_rows = self._wrapped(text, width)
        # Context gets what the focused unit leaves free, split evenly, 1 row at least.
        spare = max(0, size.height - len(cur_rows) - 2)
        budget = max(1, min(MAX_CONTEXT_LINES, spare // 2))
        rows: list[Row] = []
        if self._prev is not None:
            rows.extend(self._context_rows("prev", *self._prev, width, budget))
            rows.append(Row("gap"))
        self._cur_first = len(rows)
        for i, (s, e) in enumerate(cur_rows):
            rows.append(Row("cur", s, e, gutter="▶" if i == 0 else ""))
        if self._next is not None:
            rows.append(Row("gap"))
            rows.extend(self._context_rows("next", *self._next, width, budget))
        self._rows = rows
        self._cur_starts = [s for s, _ in cur_rows]
        self.virtual_size = Size(size.width, len(rows))

    def _context_rows(self, role: str, text: str, done: bool, width: int, budget: int
                 ) -> list[Row]:
        # Wrap only the part that can show: the tail of the previous paragraph, the
        # head of the next one (a neighbour of 5 MB costs no more than a short one).
        window = budget * width * 2
        if role == "prev":
            part = text[-window:] if len(text) > window else text
            cut = len(part) < len(text)
            wrapped = wrap_offsets(part, width)
            chosen = wrapped[-budget:]
            texts = [part[s:e] for s, e in chosen]
            if cut or len(wrapped) > budget:
                texts[0] = "…" + texts[0][1:]
        else:
            part = text[:window]
            wrapped = wrap_offsets(part, width)
            chosen = wrapped[:budget]
            texts = [part[s:e] for s, e in chosen]
            if len(part) < len(text) or len(wrapped) > budget:
                texts[-1] = texts[-1].rstrip()[:-1] + "…"
        return [Row(role, text=t, gutter=_gutter(False, done) if i == 0 else "")
                for i, t in enumerate(texts)]

    def _scroll_to_offset(self, offset: int) -> None:
        if not self._cur_starts:
            return
        i = max(0, bisect.bisect_right(self._cur_starts, offset) - 1)
        y = self._cur_first + i
        top = self.scroll_offset.y
        if top <= y < top + self.scrollable_content_region.height:
            return  # in view: scroll_to_region would not move it (and costs its geometry)
        self.scroll_to_region(Region(0, y, 1, 1), animate=False, immediate=True)

    def on_resize(self) -> None:
        if self._built_for != self.scrollable_content_region.size:
            self._build()
            self.refresh()

    # -- drawing ------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.style_of(f"unit-view--{name}")

    def render_line(self, y: int) -> Strip:
        # Asked once per line: Textual computes the region anew at each ask (its
        # geometry and styles), which was most of this method's time at the first frame.
        size = self.scrollable_content_region.size
        if self._built_for != size:
            # The size can change without a Resize reaching us first (first layout,
            # a scrollbar appearing): wrap for the size we are drawn at.
            self._build()
        width = size.width
        base = self.base_style()
        index = self.scroll_offset.y + y
        if index >= len(self._rows) or self._rows[index].role == "gap":
            return Strip.blank(width, base)
        row = self._rows[index]
        gutter = row.gutter
        if gutter == "▶":  # the focused unit's mark follows its state, not the build
            gutter = _gutter(True, self.decor.done)
        gutter_style = base + self._style("gutter")
        if "✓" in gutter:
            gutter_style += self._style("done")
        left = Segment(gutter.ljust(LEFT_GUTTER), gutter_style)
        if row.role != "cur":
            style = base + self._style("context")
            segments = [left, Segment(row.text.replace("\t", " "), style)]
            return Strip(segments).crop_pad(width, 0, 0, base)
        body, marks = self._current_segments(row, base + self._style("current"))
        text_width = max(1, width - LEFT_GUTTER - RIGHT_GUTTER)  # as text_width()
        body_strip = Strip(body).crop_pad(text_width, 0, 0, base)
        right = Segment(" " + marks[: RIGHT_GUTTER - 1].ljust(RIGHT_GUTTER - 1),
                        gutter_style)
        return Strip([left, *body_strip, right]).crop_pad(width, 0, 0, base)

    def _current_segments(self, row: Row, base: Style) -> tuple[list[Segment], str]:
        text = self._cur[0]
        d = self.decor
        lo, hi = row.start, row.end
        spans = [s for s in d.spans if s.start < hi and s.end > lo]
        matches = [m for m in d.matches if m[0] < hi and m[1] > lo]
        if d.proposals is not None:
            spans += d.proposals.between(lo, hi)
        cuts = {lo, hi}
        for s in spans:
            cuts.update((s.start, s.end))
        for m in matches:
            cuts.update(m)
        sel: tuple[int, int] | None = None
        if d.anchor is not None and d.cursor is not None:
            sel = (min(d.anchor, d.cursor), max(d.anchor, d.cursor) + 1)
            cuts.update(sel)
        if d.cursor is not None:
            cuts.update((d.cursor, d.cursor + 1))
        points = sorted(c for c in cuts if lo <= c <= hi)
        segments: list[Segment] = []
        for a, b in zip(points, points[1:], strict=False):
            if a == b:
                continue
            style = base
            for s in spans:
                if s.start <= a and s.end >= b:
                    style += self._style("proposal" if s.proposal else f"span-{s.style}")
                    if s.id == d.selected:
                        style += self._style("selected")
                    if s.id == d.target:
                        style += self._style("target")
            if any(m[0] <= a and m[1] >= b for m in matches):
                style += self._style("match")
            if sel is not None and sel[0] <= a and sel[1] >= b:
                style += self._style("selection")
            if d.cursor is not None and a == d.cursor:
                style += self._style("cursor")
            segments.append(Segment(text[a:b].replace("\t", " "), style))
        if lo == hi and d.cursor == lo:
            segments.append(Segment(" ", base + self._style("cursor")))
        marks = "".join(dict.fromkeys(s.mark for s in spans))
        return segments, marks
