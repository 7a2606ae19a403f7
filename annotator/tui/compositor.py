"""A compositor that renders, for a partial update, only what the update can show.

Textual's compositor, for a partial update (a label toggle dirties a few cells of
one line), asks every widget whose *clip* meets the dirty area for *all* its
lines: on the annotation screen that is eight widgets (the screen, its rows and
scroll containers, the bars, the footer) and ~130 lines, of which one is sent.
The lines it keeps are only those of the dirty rows, and of those only the
fragments inside the dirty columns (`ChopsUpdate`). So here, for a partial update:
- a widget whose visible part does not meet the area is not asked at all (its
  fragments are outside the area, and are never sent);
- nor is one hidden there by a widget in front of it (the screen and the
  containers behind the labels panel: the first fragment filled is the one sent);
- a widget that meets it is asked for the rows of the area only, at its full
  visible width (so the fragments are cut at the same columns as before).
What reaches the terminal is the same; a full update (layout, resize, a new
screen) and screenshots render everything as before.

This overrides `Compositor._get_renders`, a private method of Textual (pinned to
8.x in pyproject.toml); `compatible()` checks the shape it relies on, and the
screen keeps Textual's own compositor if it has changed. tests/test_tui_compositor.py
compares the two frame by frame.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


def compatible() -> bool:
    """True if Textual's compositor still has what `LineCompositor` overrides and
    reads: `_get_renders(crop)` yielding (region, clip, strips), used by
    `_render_chops`, and `visible_widgets` mapping widget -> (region, clip)."""
    get_renders = getattr(Compositor, "_get_renders", None)
    chops = getattr(Compositor, "_render_chops", None)
    if get_renders is None or chops is None or not hasattr(Compositor, "visible_widgets"):
        return False
    code = getattr(get_renders, "__code__", None)
    chops_code = getattr(chops, "__code__", None)
    if code is None or chops_code is None:
        return False
    # (the code objects, not the source: no file read at start-up)
    params = code.co_varnames[:code.co_argcount]
    return params == ("self", "crop") and "_get_renders" in chops_code.co_names


class LineCompositor(Compositor):
    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if not crop or crop == self.size.region:
            yield from super()._get_renders(crop)
            return
        cx, cy, cw, ch = crop
        cx2, cy2 = cx + cw, cy + ch
        drawn: list[Region] = []  # visible parts of the widgets asked so far (in front)
        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            # the widget's visible part
            visible = region.intersection(clip)
            x, y, w, h = visible
            if not (w and h and x < cx2 and cx < x + w and y < cy2 and cy < y + h):
                continue  # nothing of it in the area: none of its fragments is sent
            top, bottom = max(y, cy), min(y + h, cy2)
            part = Region(max(x, cx), top, min(x + w, cx2) - max(x, cx), bottom - top)
            if any(front.contains_region(part) for front in drawn):
                # Hidden in the area by a widget in front, which fills every fragment
                # there first (fragments are cut at every widget's edges, and the
                # first one filled is the one sent): a container behind the panel.
                continue
            drawn.append(visible)
            # Its rows in the area, at its whole visible width: given as the clip,
            # `_render_chops` lays the strips on these rows and cuts them at the
            # screen's usual column cuts.
            yield (region, Region(x, top, w, bottom - top), widget.render_lines(
                Region(x - region.x, top - region.y, w, bottom - top)))
