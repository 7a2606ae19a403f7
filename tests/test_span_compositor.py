"""The adjudication screen's compositor (tui/compositor.py): a keypress's partial
update sends the terminal exactly what Textual's own would, and renders only the
widgets that hold what changed."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from test_tui_adjudicate import _at_first_disagreement
from test_tui_helpers import keys
from textual._compositor import Compositor
from textual.widget import Widget

from annotator.tui.adjudicate import AdjudicateScreen
from annotator.tui.compositor import SpanCompositor
from annotator.tui.gold_spans import GoldSpanScreen

# toggles, another layer, spans selected and accepted, take, undo, redo, moves
KEYS = ["s", "s", "1", "tab", "s", "tab", "w", "w", "a", "x", "t", "1", "u", "ctrl+r",
        "n", "s", "j", "k", "escape",
        # the gold's span editor (the annotation screen): draw a source, then a quote
        "n", "v", "W", "W", "S", "escape", "v", "w", "w", "w", "w", "W", "W", "Q", "t",
        "escape", "escape"]


async def test_partial_updates_send_what_textuals_own_would(tmp_path, monkeypatch):
    checked: list[SpanCompositor] = []
    # one console for both: the same escape sequences for the same segments
    console = Console(color_system="truecolor", force_terminal=True, width=100)
    ours = SpanCompositor.render_partial_update

    def both(self):
        dirty = set(self._dirty_regions)
        mine = ours(self)
        self._dirty_regions.update(dirty)
        theirs = Compositor.render_partial_update(self)
        if mine is None or theirs is None:
            assert mine is theirs
            return mine
        assert mine.render_segments(console) == theirs.render_segments(console)
        checked.append(self)
        return mine

    monkeypatch.setattr(SpanCompositor, "render_partial_update", both)
    async with _at_first_disagreement(tmp_path) as (_store, app, pilot, s):
        assert isinstance(s._compositor, SpanCompositor)
        editors = []
        for key in KEYS:
            await keys(app, pilot, key)
            if isinstance(app.screen, GoldSpanScreen):
                editors.append(app.screen)
        assert editors and all(isinstance(e._compositor, SpanCompositor) for e in editors)
        assert s._compositor in checked and editors[0]._compositor in checked
    assert len(checked) >= len(KEYS) // 2  # most keys changed something on screen


async def test_a_gold_toggle_renders_only_the_panels_it_changed(tmp_path, monkeypatch):
    rendered: Counter[str] = Counter()
    render_lines = Widget.render_lines

    def counted(self, crop):
        rendered[type(self).__name__] += 1
        return render_lines(self, crop)

    async with _at_first_disagreement(tmp_path) as (store, app, pilot, s):
        await keys(app, pilot, "1")  # the unit's first decision: it changes more
        monkeypatch.setattr(Widget, "render_lines", counted)
        await keys(app, pilot, "s")
        assert store.journal("gold").state("doc-a", 2)["labels"]["devices"] == ["sovereignty"]
        # the labels panel's box and the versions panel's marks; not the screen, the
        # containers, the progress and status lines or the footer (Textual's own
        # compositor renders all of them, whole)
        assert set(rendered) == {"LabelsPanel", "VersionsPanel"}, rendered
        rendered.clear()
        await keys(app, pilot, "s")
        assert set(rendered) == {"LabelsPanel", "VersionsPanel"}, rendered


async def test_textuals_compositor_kept_when_its_api_differs(tmp_path, monkeypatch):
    monkeypatch.setattr(SpanCompositor, "usable", staticmethod(lambda: False))
    async with _at_first_disagreement(tmp_path) as (store, app, pilot, s):
        assert type(s._compositor) is Compositor
        await keys(app, pilot, "s")
        assert store.journal("gold").state("doc-a", 2)["labels"]["devices"] == ["sovereignty"]


def test_usable_on_the_installed_textual():
    assert SpanCompositor.usable()
    assert AdjudicateScreen  # the screen module imports it
