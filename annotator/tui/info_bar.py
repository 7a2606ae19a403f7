"""The bars above and below the paragraph: where you are, and what mode you are in.

Titles and notes are untrusted text: they are appended to `rich.text.Text`, never
parsed as markup.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from annotator.store.base import DocInfo
from annotator.textclean import safe_inline, visible
from annotator.tui.styles import CachedStyles

STRIP_CACHE = 512  # rendered lines kept per widget (see TextLines._strip_for)


class TextLines(CachedStyles, can_focus=False):
    """Lines of `Text` that never wrap, drawn with the Line API and updated by
    difference: `show_text` compares each new line with the one on screen and marks
    only the cells that changed as dirty. A label toggle then sends the few cells of
    a checkbox and a count to the terminal, not the widget (over a slow link the
    bytes are the latency). The size changes only with the number of lines, so only
    then is the screen laid out again.

    Every line is made visible again here (`textclean.visible`, one for one, so the
    styles stay where they were): titles, ids, span texts and notes come from stores
    that someone other than the annotator may have written."""

    DEFAULT_CSS = "TextLines { height: auto; }"
    # Lines longer than the width wrap (between words) instead of ending in "…".
    WRAP = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text: list[Text] = []
        self._strips: list[Strip] | None = None
        self._strips_width = -1
        self._source: Text | None = None
        self._wrapped_at = 0
        self._strip_cache: dict[int, tuple[Text, int, Style, Strip]] = {}
        self._changed_cache: dict[tuple[int, int], tuple[Strip, Strip, tuple | None]] = {}

    _shown_key: object = None  # what the lines shown were made from (same_as_shown)
    _restyles = 0  # style updates so far: lines made before one have the old styles

    def same_as_shown(self, key: object) -> bool:
        """True if `key` (what a caller makes its lines from) is what the lines on screen
        were made from, with the same styles: the caller can skip making them again (a
        keypress then rebuilds only the widgets whose content changed). Else `key` is
        noted as what the caller is about to show."""
        key = (self._restyles, key)
        if key == self._shown_key:
            return True
        self._shown_key = key
        return False

    def show_text(self, text: Text) -> None:
        lines = [clean_line(line) for line in text.split("\n")]
        if self.WRAP:
            self._source = text
            width = self._wrapped_at = self.content_size.width
            if width > 0:
                lines = [part for line in lines for part in _wrap(line, width, self.app)]
        self.show_lines(lines)

    def show_lines(self, lines: list[Text]) -> None:
        """Show `lines` (each one line, already made visible with `clean_line`). A
        line that is the very object shown before is not compared or redrawn: callers
        that keep their unchanged lines (the labels panel) skip their cost."""
        if len(lines) != len(self._text):
            self._text, self._strips = lines, None
            self.refresh(layout=True)
            return
        width = self.content_size.width
        if self._strips is None or width != self._strips_width or not self.is_mounted:
            self._text, self._strips = lines, None
            self.refresh()
            return
        base = self.base_style()
        new = []
        for y, (before, line) in enumerate(zip(self._text, lines, strict=True)):
            old = self._strips[y]
            if before is line or _same(before, line):
                new.append(old)
                continue
            now = self._strip_for(line, width, base)
            new.append(now)
            cols = self._changed(old, now)
            if cols is not None:
                self.refresh(Region(cols[0], y, cols[1] - cols[0], 1))
        self._text, self._strips = lines, new

    def _strip_for(self, line: Text, width: int, base: Style) -> Strip:
        """`_strip`, kept for lines that come back (a label's on and off lines, kept by
        the labels panel): toggling again renders nothing. Keyed by the very object,
        which the cache holds, so an id is never reused while it is there."""
        cache = self._strip_cache
        hit = cache.get(id(line))
        if hit is not None and hit[0] is line and hit[1] == width and hit[2] is base:
            return hit[3]
        strip = self._strip(line, width, base)
        if len(cache) >= STRIP_CACHE:
            cache.clear()
        cache[id(line)] = (line, width, base, strip)
        return strip

    def _changed(self, old: Strip, new: Strip) -> tuple[int, int] | None:
        """`changed_cells`, kept per pair of strips (the same two, toggle after toggle)."""
        cache = self._changed_cache
        key = (id(old), id(new))
        hit = cache.get(key)
        if hit is not None and hit[0] is old and hit[1] is new:
            return hit[2]
        cols = changed_cells(old, new)
        if len(cache) >= STRIP_CACHE:
            cache.clear()
        cache[key] = (old, new, cols)
        return cols

    @property
    def lines(self) -> list[Text]:
        """The lines shown (cleaned), for tests and for callers that measure them."""
        return self._text

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._text)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((line.cell_len for line in self._text), default=0)

    def _strip(self, line: Text, width: int, base: Style) -> Strip:
        line = line.copy()
        line.truncate(width, overflow="ellipsis")
        segments = list(line.render(self.app.console))
        return Strip(segments).apply_style(base).crop_pad(width, 0, 0, base)

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if self._strips is None or width != self._strips_width:
            base = self.base_style()
            self._strips = [self._strip_for(line, width, base) for line in self._text]
            self._strips_width = width
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self.base_style())

    # What the lines were last built from (subclasses that skip an unchanged rebuild);
    # a style change forgets it, as the lines carry the styles.
    _shown: tuple | None = None

    def notify_style_update(self) -> None:
        # A class change (e.g. -alert) or a theme change restyles every line.
        super().notify_style_update()
        self._strips = None
        self._shown = None
        self._restyles += 1
        self._strip_cache.clear()  # (a new base style misses anyway; this frees them)

    def on_resize(self, event: Any) -> None:
        if self.WRAP and self._source is not None and (
                event.size.width != self._wrapped_at):
            # after this layout pass: a new line count asks for another one
            self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        if self._source is not None and self.content_size.width != self._wrapped_at:
            self.show_text(self._source)


def _wrap(line: Text, width: int, app: Any) -> list[Text]:
    if line.cell_len <= width:
        return [line]
    parts = line.wrap(app.console, width, overflow="ellipsis", no_wrap=False)
    for part in parts:
        part.rstrip()
        part.no_wrap = True
    return list(parts)


def _same(a: Text, b: Text) -> bool:
    return a.plain == b.plain and a.spans == b.spans and a.style == b.style


def clean_line(line: Text) -> Text:
    plain = line.plain
    cleaned = visible(plain).replace("\t", " ")
    if cleaned == plain:
        return line
    # One-for-one replacement: the spans (styles) still cover the same characters.
    return Text(cleaned, style=line.style, spans=list(line.spans), end="",
                no_wrap=True, overflow="ellipsis")


def _cells(strip: Strip) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for segment in strip:
        style = segment.style
        for ch in segment.text:
            out.append((ch, style))
            if cell_len(ch) == 2:
                out.append(("", style))
    return out


def changed_cells(old: Strip, new: Strip) -> tuple[int, int] | None:
    """[x0, x1) of the cells where two strips of a line differ, None if none do."""
    if old == new:
        return None
    a, b = _cells(old), _cells(new)
    n = min(len(a), len(b))
    lo = 0
    while lo < n and a[lo] == b[lo]:
        lo += 1
    hi_a, hi_b = len(a), len(b)
    while hi_a > lo and hi_b > lo and a[hi_a - 1] == b[hi_b - 1]:
        hi_a -= 1
        hi_b -= 1
    hi = max(hi_a, hi_b)
    if hi <= lo:
        return None
    # A wide character cut in half would be drawn as garbage: widen by one cell.
    return max(0, lo - 1), hi + 1


class PositionBar(TextLines):
    """Title; document i/N, unit j/M, units annotated; annotated / flag / note marks."""

    COMPONENT_CLASSES = {"position-bar--title", "position-bar--mark"}

    def show(self, doc: DocInfo, doc_count: int, unit: int, state: dict | None,
             done_total: int, unit_total: int, position: int | None = None,
             stale: bool = False) -> None:
        """`position`: the document's place among the annotator's (assigned) documents,
        when that is not its key. `stale`: the unit's text changed since it was
        annotated (a re-import)."""
        state = state or {}
        # What the two lines depend on: unchanged (a label toggle on a unit already
        # annotated), nothing is rebuilt or compared.
        key = (doc, doc_count, unit, state.get("status"), bool(state.get("flag")),
               bool(state.get("note")), done_total, unit_total, position, stale)
        if key == self._shown:
            return
        self._shown = key
        title_style = self.style_of("position-bar--title")
        mark_style = self.style_of("position-bar--mark")
        out = Text(no_wrap=True, overflow="ellipsis")
        doc_id = safe_inline(doc.id)
        out.append(" ".join(safe_inline(doc.title or doc.id).split()) or doc_id, title_style)
        out.append("\n")
        out.append(f"doc {position or doc.key:,}/{doc_count:,} {doc_id}  ")
        where = "title" if unit == 0 and doc.has_title else f"¶{unit}/{doc.n_units - int(doc.has_title)}"
        out.append(f"{where}  ")
        out.append(f"annotated {done_total:,}/{unit_total:,}  ")
        # Marks, not colour: "✓ done" / "○ not yet", "⚑" flag, "✎" note.
        if state.get("status") == "done":
            out.append("✓ done", mark_style)
        elif state.get("status") == "skipped":
            out.append("⊘ not content", mark_style)
        else:
            out.append("○ not yet")
        if state.get("flag"):
            out.append("  ⚑ uncertain", mark_style)
        if state.get("note"):
            out.append("  ✎ note", mark_style)
        if stale:
            out.append("  ⚠ stale: text changed (ctrl+o)", mark_style)
        self.show_text(out)


class StatusLine(TextLines):
    """The mode (span / link), the selected span, and the unit's note; above all, a
    failed save (disk full ...) until saving works again."""

    COMPONENT_CLASSES = {"status-line--mode", "status-line--alert"}
    WRAP = True  # at 80 columns a span's keys take two rows
    _alert: str | None = None
    _last: tuple[str, str, str | None] = ("", "", None)

    def alert(self, message: str | None) -> None:
        self._alert = message
        self.set_class(message is not None, "-alert")
        self.show(*self._last)

    def show(self, mode: str, detail: str, note: str | None) -> None:
        self._last = (mode, detail, note)
        key = (mode, detail, note, self._alert, self.content_size.width)
        if key == self._shown:
            return  # the same lines at the same width
        self._shown = key
        mode_style = self.style_of("status-line--mode")
        out = Text(no_wrap=True, overflow="ellipsis")
        if self._alert is not None:
            alert_style = self.style_of("status-line--alert")
            out.append(" ⚠ NOT SAVED ", alert_style)
            out.append(" " + " ".join(safe_inline(self._alert).split()) + "\n")
        if mode:
            out.append(f" {mode} ", mode_style)
            out.append(" ")
        out.append(safe_inline(detail))
        if note:
            out.append("\n✎ ")
            out.append(" ".join(safe_inline(note).split()))
        self.show_text(out)


class LateFooter(Widget, can_focus=False):
    """The footer's row, with Textual's `Footer` mounted in it after the first frame:
    the Footer is a widget per shown key, each styled and laid out, and on a reopen
    that cost the first paint more than the paragraph did. The row is reserved from
    the start, so nothing moves when the keys appear."""

    DEFAULT_CSS = "LateFooter { dock: bottom; height: 1; }"

    def on_mount(self) -> None:
        self.call_after_refresh(self._fill)

    def _fill(self) -> None:
        from textual.widgets import Footer  # with its CSS, only now

        if self.is_attached:  # not when the app ended in its first frame
            self.mount(Footer(compact=True))
            # the Footer draws its keys when the screen's bindings change next
            self.call_after_refresh(self.screen.refresh_bindings)
