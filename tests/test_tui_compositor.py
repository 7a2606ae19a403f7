"""The annotation screen's compositor (annotator/tui/compositor.py) and its bindings.

The compositor renders, for a partial update, only the widgets and rows the update
can show; what reaches the terminal must be what Textual's own compositor sends. The
check here replays every update the app sends onto a grid of cells, as a terminal
would, and compares it after each key with a full render of the screen. The screen's
keys are priority bindings (handled as the App reads them): keys typed fast must
still act in the order typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.segment import ControlType, Segment
from test_tui_helpers import assert_fast_twins, keys, main, make_app, where

from annotator.tui.compositor import SpanCompositor
from annotator.tui.info_bar import PositionBar, StatusLine
from annotator.tui.labels_panel import LabelsPanel
from annotator.tui.unit_view import UnitView

SIZE = (100, 30)
Cell = tuple[str, object]


class Terminal:
    """Cells as a terminal holds them after the updates the app sent."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.width, self.height = size
        self.cells: list[list[Cell | None]] = [[None] * self.width for _ in range(self.height)]
        self.x = self.y = 0

    def feed(self, segments: list[Segment]) -> None:
        for text, style, control in segments:
            if control:
                for code in control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        self.x, self.y = code[1], code[2]
                continue
            for ch in text:
                if ch == "\n":
                    self.x, self.y = 0, self.y + 1
                    continue
                if 0 <= self.y < self.height and 0 <= self.x < self.width:
                    self.cells[self.y][self.x] = (ch, style)
                    for extra in range(1, cell_len(ch)):  # a wide character's second cell
                        if self.x + extra < self.width:
                            self.cells[self.y][self.x + extra] = ("", style)
                self.x += cell_len(ch)


def _full_render(app) -> list[list[Cell | None]]:
    screen = Terminal(app.size)
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        screen.x, screen.y = 0, y
        screen.feed(list(strip))
    return screen.cells


def _record(app) -> Terminal:
    """Feed every update the app displays to a Terminal."""
    terminal = Terminal(app.size)
    display = app._display

    def capture(screen, renderable) -> None:
        if renderable is not None:
            terminal.feed(list(app.console.render(renderable, app.console.options)))
        display(screen, renderable)

    app._display = capture
    return terminal


def _diff(got: list, want: list) -> list[str]:
    out = []
    for y, (a, b) in enumerate(zip(got, want, strict=True)):
        if a != b:
            xs = [x for x, (p, q) in enumerate(zip(a, b, strict=True)) if p != q]
            out.append(f"row {y}: columns {xs[:10]}: "
                       f"{''.join(c[0] if c else '·' for c in a)!r} vs "
                       f"{''.join(c[0] if c else '·' for c in b)!r}")
    return out


def test_textual_has_what_the_compositor_overrides() -> None:
    # If this fails after a Textual upgrade, the screen quietly uses Textual's own
    # compositor (correct, slower): look at SpanCompositor again.
    assert SpanCompositor.usable()


# A bit of everything that repaints part of the screen: labels on and off, a
# single-choice label, moving, span mode and a span, selection, undo / redo, a
# dialog over the screen and back, the next document.
KEYS = ["s", "c", "s", "1", "2", "2", "j", "s", "l", "l", "w", "v", "W", "Q", "tab",
        "tab", "escape", "u", "ctrl+r", "f", "j", "j", "k", "question_mark", "escape",
        "y", "right_square_bracket", "s", "minus", "minus", "pagedown", "pageup", "x",
        "left_square_bracket", "j", "v", "l", "l", "S", "pagedown", "s", "c", "pageup", "tab"]


@pytest.mark.parametrize("size", [SIZE, (80, 24), (60, 16)])
async def test_partial_updates_leave_the_terminal_as_a_full_render(tmp_path: Path,
                                                                   size) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        terminal = _record(app)
        await pilot.pause()
        await pilot.pause(0.1)  # the labels panel and the footer, after the first frame
        assert isinstance(main(app)._compositor, SpanCompositor)
        app.screen.refresh()  # one full frame, so the recorded terminal starts whole
        await pilot.pause()
        assert not _diff(terminal.cells, _full_render(app))
        for key in KEYS:
            await keys(app, pilot, key)
            await pilot.pause()
            problems = _diff(terminal.cells, _full_render(app))
            assert not problems, (key, problems)


async def test_a_label_toggle_renders_only_the_rows_it_changes(tmp_path: Path,
                                                               monkeypatch) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause(0.1)
        await keys(app, pilot, "c")  # the unit's first label: its status changes too
        await pilot.pause()
        asked: dict[str, int] = {}
        for widget in app.screen.walk_children(with_self=True):
            render_lines = widget.render_lines

            def counted(crop, _widget=widget, _render_lines=render_lines):
                name = type(_widget).__name__
                asked[name] = asked.get(name, 0) + crop.height
                return _render_lines(crop)

            monkeypatch.setattr(widget, "render_lines", counted)
        await keys(app, pilot, "s")
        await pilot.pause()
        assert main(app).state["labels"]["devices"] == ["certain_countries", "sovereignty"]
        # The toggle changed a few cells of one row of the labels panel: the widgets
        # beside it and the bars above and below are not asked for their lines, nor
        # the screen and containers behind the panel; the panel only for that row
        # (Textual's own compositor asks eight widgets for ~130 rows).
        for other in (PositionBar, StatusLine, UnitView):
            assert other.__name__ not in asked, asked
        assert asked == {LabelsPanel.__name__: 1}, asked


async def test_keys_typed_fast_act_in_the_order_typed(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = where(app)
        # all queued before the first is handled: a move, a toggle, a move back, a toggle
        await keys(app, pilot, "j", "s", "k", "c", "j", "j", "1")
        screen = main(app)
        doc, unit = start
        assert screen.states[unit + 1]["labels"]["devices"] == ["sovereignty"]
        assert screen.states[unit]["labels"]["devices"] == ["certain_countries"]
        assert screen.states[unit + 2]["labels"]["stance"] == "positive"
        assert where(app) == (doc, unit + 2)


async def test_every_screen_key_has_a_priority_twin_that_runs_only_when_ready(
        tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = main(app)
        assert_fast_twins(screen)
        await pilot.pause()
        assert screen._fast_ready()


async def test_a_label_toggle_keeps_the_open_proposals(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = main(app)
        screen.go("doc-a", 2)  # the paragraph with a quote proposed
        await pilot.pause()
        before = screen._open_proposals()
        assert len(before) == 1
        await keys(app, pilot, "s")
        assert screen.state["labels"]["devices"] == ["sovereignty"]
        # the same list (and index): nothing recomputed for a label
        assert screen._open_proposals() is before
        assert screen._proposal_index().items is before
        await keys(app, pilot, "tab", "x")  # select the proposal, reject it
        assert screen.state["rejected"] and screen._open_proposals() == []
        await keys(app, pilot, "u")  # undo the rejection: proposed again
        assert len(screen._open_proposals()) == 1
        await keys(app, pilot, "tab", "a")  # accept it: a span now, not proposed
        assert screen.state["spans"] and screen._open_proposals() == []


async def test_ctrl_c_still_names_the_quit_key_and_fast_keys_keep_their_checks(
        tmp_path: Path, monkeypatch) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause(0.1)  # the twins are in after the first frame
        screen = main(app)
        assert screen._fast_ready()
        shown: list[str] = []
        monkeypatch.setattr(app, "notify", lambda message, **kw: shown.append(message))
        await keys(app, pilot, "ctrl+c")  # Textual's hint looks for the "quit" binding
        assert shown and "[b]q[/b]" in shown[0], shown
        # a twin runs only where its action's own check would let the plain binding run
        refused = {"next_unit"}
        real = type(screen).check_action

        def check(self, action, parameters):
            if action in refused:
                return False
            return real(self, action, parameters)

        monkeypatch.setattr(type(screen), "check_action", check)
        assert not screen.check_action("fast", ("next_unit",))
        assert screen.check_action("fast", ("previous_unit",))
