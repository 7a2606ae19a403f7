"""A compositor whose partial updates render only what the terminal is sent.

Textual's partial update (`Compositor.render_partial_update`) takes the box around every
dirty region of the frame and renders, whole, each widget whose clip meets that box.
A top-level widget's clip is the screen, so the bars and the footer are rendered on
every keypress: a label toggle on the annotation screen (a few cells of one row of the
labels panel) asked eight widgets for ~130 lines, and one on the adjudication screen (a
cell of the labels panel near the top, two lines of the versions panel near the bottom)
rendered all twelve of its widgets from top to bottom. Only the spans of the dirty
regions are sent to the terminal (`ChopsUpdate`): here each widget renders only the
lines of its own that hold a chop `ChopsUpdate` reads there, and only while a widget in
front of it has not filled that chop. What is sent is the same, cut for cut; a full
update (layout, resize, a new screen) and screenshots render as Textual does.

Used by every screen with keypresses (annotate, adjudicate, the gold's span editor).
Built on Textual's private compositor API (pinned to 8.x in pyproject.toml):
`SpanCompositor.usable()` says whether the methods it relies on are there, and a screen
keeps Textual's own compositor otherwise. tests/test_span_compositor.py checks the bytes
against Textual's on both screens, tests/test_tui_compositor.py replays every update
onto a grid of cells against a full render.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip


class SpanCompositor(Compositor):
    """Textual's compositor with a partial update that renders only the lines sent
    (a screen sets it as its `_compositor` in `__init__`); full updates are Textual's."""

    @staticmethod
    def usable() -> bool:
        """Textual has what this relies on (else: keep Textual's compositor)."""
        return (all(hasattr(Compositor, name) for name in (
            "render_partial_update", "_regions_to_spans", "cuts", "visible_widgets"))
                and hasattr(Strip, "divide")
                and isinstance(getattr(Compositor(), "_dirty_regions", None), set))

    def render_partial_update(self) -> ChopsUpdate | None:
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        crop = Region.from_union(update_regions).intersection(self.size.region)
        spans = list(self._regions_to_spans(update_regions))
        chops = self._span_chops(crop, spans)
        return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in self.cuts])

    def _span_chops(self, crop: Region, spans: Iterable[tuple[int, int, int]]
                    ) -> list[dict[int, Strip | None]]:
        """`_render_chops` for the chops `ChopsUpdate` reads: on a span's line, those
        that start at or before its end and end after its start. Widgets are visited
        front to back and the first strip for a chop wins, as in Textual's; a widget
        fills only the chops inside its own area, so it is rendered for a line only if
        one of the chops read there is inside it and not filled yet (a panel's
        containers and the screen behind it are then not rendered at all)."""
        cuts = self.cuts
        # ChopsUpdate reads only the lines of its spans: the others stay empty (shared,
        # never written)
        unread: dict[int, Strip | None] = {}
        chops: list[dict[int, Strip | None]] = [unread] * len(cuts)
        on_line: dict[int, list[tuple[int, int]]] = {}
        for y, x1, x2 in spans:
            on_line.setdefault(y, []).append((x1, x2))
        read: dict[int, list[int]] = {}  # line: the chops ChopsUpdate reads there
        for y, ranges in on_line.items():
            line_cuts = cuts[y]
            chops[y] = dict.fromkeys(line_cuts[:-1])
            read[y] = [cut for cut, end in zip(line_cuts, line_cuts[1:], strict=False)
                       if any(cut <= x2 and end > x1 for x1, x2 in ranges)]
        crop_overlaps = crop.overlaps
        intersection = Region.intersection
        for widget, (region, clip) in self.visible_widgets.items():
            if not crop_overlaps(clip):
                continue
            area = intersection(region, clip)
            left, top, width, height = area
            if not width or not height:
                continue
            right = left + width
            rows = [y for y in range(max(top, crop.y), min(top + height, crop.bottom))
                    if y in read and any(left <= cut < right and chops[y][cut] is None
                                         for cut in read[y])]
            start = 0
            while start < len(rows):  # runs of consecutive lines: one render each
                end = start + 1
                while end < len(rows) and rows[end] == rows[end - 1] + 1:
                    end += 1
                first = rows[start]
                strips = widget.render_lines(Region(left - region.x, first - region.y,
                                                    width, end - start))
                for y, strip in zip(range(first, first + end - start), strips, strict=False):
                    line = chops[y]
                    final_cuts = [cut for cut in cuts[y] if right >= cut >= left]
                    get = line.get
                    for cut, piece in zip(final_cuts, strip.divide(
                            [cut - left for cut in final_cuts[1:]]), strict=False):
                        if get(cut) is None:
                            line[cut] = piece
                start = end
        return chops
