"""A long, read-only text (the help) drawn with the Line API: only the rows on screen
are rendered, so a schema of 10,000 labels opens its help at once and the app stays
responsive (to a closed terminal too). Lines are wrapped to the width by the unit
view's regex wrapper; j/k and the arrows, page keys, home/end scroll it."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from annotator.textclean import visible
from annotator.tui.styles import CachedStyles
from annotator.tui.unit_view import wrap_offsets


class TextView(ScrollView, CachedStyles, can_focus=True):
    BINDINGS = [
        Binding("j,down", "scroll_down", "down", show=False, id="text_view.down"),
        Binding("k,up", "scroll_up", "up", show=False, id="text_view.up"),
        Binding("space,pagedown", "page_down", "page down", show=False,
                id="text_view.page_down"),
        Binding("b,pageup", "page_up", "page up", show=False, id="text_view.page_up"),
        Binding("home,g", "scroll_home", "top", show=False, id="text_view.top"),
        Binding("end,G", "scroll_end", "bottom", show=False, id="text_view.bottom"),
    ]

    def __init__(self, lines: list[Text], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines = lines
        self._rows: list[tuple[int, int, int]] = []  # (line, start, end)
        self._width = -1

    @property
    def plain(self) -> str:
        return "\n".join(line.plain for line in self._lines)

    def _wrap(self, width: int) -> None:
        rows: list[tuple[int, int, int]] = []
        for n, line in enumerate(self._lines):
            plain = line.plain
            if len(plain) <= width:  # most lines: no wrapping to do
                rows.append((n, 0, len(plain)))
                continue
            rows.extend((n, s, e) for s, e in wrap_offsets(plain, width))
        self._rows, self._width = rows, width
        self.virtual_size = Size(width, len(rows))

    def on_resize(self) -> None:
        self._wrap(max(1, self.scrollable_content_region.width))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = max(1, self.scrollable_content_region.width)
        if width != self._width:
            self._wrap(width)
        base = self.base_style()
        index = self.scroll_offset.y + y
        if index >= len(self._rows):
            return Strip.blank(width, base)
        n, start, end = self._rows[index]
        part = self._lines[n][start:end]
        part.plain = visible(part.plain)  # one for one: the styles stay put
        segments = list(part.render(self.app.console))
        return Strip(segments).apply_style(base).crop_pad(width, 0, 0, base)
