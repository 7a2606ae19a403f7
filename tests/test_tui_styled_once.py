"""The screens' first resume keeps the styles they were mounted with (tui/styles.py
StyledOnce): what is drawn is the same as with Textual's restyle, and later resumes
still restyle."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_adjudicate import _app as adjudicator
from test_tui_adjudicate import _ready, _study
from test_tui_helpers import keys, make_app
from textual import events
from textual.screen import Screen

from annotator.tui.adjudicate import AdjudicateScreen
from annotator.tui.screen import AnnotateScreen
from annotator.tui.styles import StyledOnce


def _drawn(app) -> list[list[tuple[str, object]]]:
    """Every cell run of the screen with its style: text alone would miss a restyle."""
    return [[(seg.text, seg.style) for seg in strip]
            for strip in app.screen._compositor.render_strips()]


def _annotate(tmp_path: Path):
    return make_app(tmp_path)


def _adjudicate(tmp_path: Path):
    return adjudicator(_study(tmp_path))


CASES = [(_annotate, AnnotateScreen), (_adjudicate, AdjudicateScreen)]


async def _first_frame(build, screen_cls, tmp_path: Path, monkeypatch, keep: bool):
    restyles: list[str] = []
    original = screen_cls.update_node_styles

    def counted(self, animate: bool = True) -> None:
        restyles.append(type(self).__name__)
        original(self, animate=animate)

    monkeypatch.setattr(screen_cls, "update_node_styles", counted)
    if not keep:  # Textual's own behaviour: every resume restyles
        monkeypatch.setattr(StyledOnce, "_on_screen_resume", lambda self, event: None)
    app = build(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        drawn = _drawn(app)
        first = list(restyles)
        await keys(app, pilot, "question_mark")
        assert app.screen is not _main(app, screen_cls)
        await keys(app, pilot, "escape")
        await pilot.pause()
        assert app.screen is _main(app, screen_cls)
        after_dialog = len(restyles) - len(first)
        again = _drawn(app)
        # A later resume (Textual sends one when a screen is pushed or switched back
        # to) restyles: only the first is skipped.
        before = len(restyles)
        _main(app, screen_cls).post_message(events.ScreenResume())
        await pilot.pause()
        assert len(restyles) == before + 1
    return drawn, again, first, after_dialog


def _main(app, screen_cls):
    return next(s for s in app.screen_stack if isinstance(s, screen_cls))


@pytest.mark.parametrize(("build", "screen_cls"), CASES, ids=["annotate", "adjudicate"])
async def test_first_resume_skips_the_restyle_and_draws_the_same(
        build, screen_cls, tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        plain, plain_again, plain_first, plain_after = await _first_frame(
            build, screen_cls, tmp_path / "plain", m, keep=False)
    assert plain_first == [screen_cls.__name__]  # what Textual does without the mixin
    drawn, again, first, after_dialog = await _first_frame(
        build, screen_cls, tmp_path / "once", monkeypatch, keep=True)
    assert first == []
    assert drawn == plain
    # Back from a dialog the screen does what Textual does, and draws the same.
    assert after_dialog == plain_after
    assert again == plain_again


def test_the_mixin_comes_before_screen_in_both_screens():
    # Textual calls each class's handler subclass first; after Screen the flag is late.
    for cls in (AnnotateScreen, AdjudicateScreen):
        mro = cls.__mro__
        assert mro.index(StyledOnce) < mro.index(Screen)
