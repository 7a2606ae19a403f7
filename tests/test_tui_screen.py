"""Pilot tests of the annotation screen: paragraph labels, moving, undo, dialogs.

Assertions read the journal (what is stored), not only the screen.
"""

from __future__ import annotations

import pytest
from test_tui_helpers import (
    HOSTILE,
    keys,
    main,
    make_app,
    restart,
    screen_text,
    where,
)
from textual.widgets import Input

from annotator.corpus import Document


async def test_opens_at_first_unit_and_shows_position(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert where(app) == ("doc-a", 0)
        text = screen_text(app)
        assert "Alpha title" in text
        assert "doc 1/3" in text and "annotated 0/8" in text
        assert "Sovereignty" in text and "Positive" in text


async def test_multi_label_toggles_and_single_label_selects_and_clears(tmp_path):
    app = make_app(tmp_path)
    journal = app.journal
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "j", "s", "c")
        state = journal.state("doc-a", 1)
        assert state["labels"]["devices"] == ["sovereignty", "certain_countries"]
        assert state["status"] == "done"  # a label marks the unit annotated
        assert journal.info("doc-a", 1)["seconds"] > 0  # time on the unit is recorded
        assert "[x] Sovereignty" in screen_text(app)
        await keys(app, pilot, "s")
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["certain_countries"]
        await keys(app, pilot, "1")
        assert journal.state("doc-a", 1)["labels"]["stance"] == "positive"
        assert "(•) Positive" in screen_text(app)
        await keys(app, pilot, "2")
        assert journal.state("doc-a", 1)["labels"]["stance"] == "negative"
        await keys(app, pilot, "2")
        assert journal.state("doc-a", 1)["labels"]["stance"] is None
        assert "annotated 1/8" in screen_text(app)


async def test_enter_marks_done_and_advances_with_a_mark(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "enter")
        assert app.journal.state("doc-a", 0)["status"] == "done"
        assert app.journal.state("doc-a", 0)["labels"] == {}
        assert where(app) == ("doc-a", 1)
        text = screen_text(app)
        # the previous (annotated) unit carries ✓, the focused unseen one ·
        assert " ✓ Alpha title" in text and "▶· First paragraph" in text
        assert "○ not yet" in text
        await keys(app, pilot, "k")
        assert "▶✓ Alpha title" in screen_text(app) and "✓ done" in screen_text(app)


async def test_navigation_units_documents_and_bounds(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "k")
        assert where(app) == ("doc-a", 0)  # first unit of the first document: stays
        await keys(app, pilot, "j", "j", "j")
        assert where(app) == ("doc-a", 3)
        await keys(app, pilot, "j")
        assert where(app) == ("doc-b", 1)  # no title: body starts at 1
        await keys(app, pilot, "k")
        assert where(app) == ("doc-a", 3)
        await keys(app, pilot, "right_square_bracket")
        assert where(app) == ("doc-b", 1)
        await keys(app, pilot, "right_square_bracket", "right_square_bracket")
        assert where(app) == ("doc-c", 0)  # last document: ] stays
        await keys(app, pilot, "j", "j")
        assert where(app) == ("doc-c", 1)
        await keys(app, pilot, "left_square_bracket")
        assert where(app) == ("doc-b", 1)
        await keys(app, pilot, "down", "up", "up")
        assert where(app) == ("doc-a", 3)


async def test_undo_redo_and_after_restart(tmp_path):
    app = make_app(tmp_path)
    journal = app.journal
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "s", "enter", "c")
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["certain_countries"]
        await keys(app, pilot, "u")
        assert journal.state("doc-a", 1) is None
        await keys(app, pilot, "u")  # undoes enter on unit 0
        assert journal.state("doc-a", 0)["status"] is None or \
            journal.state("doc-a", 0)["labels"]["devices"] == ["sovereignty"]
        await keys(app, pilot, "ctrl+r")
        assert journal.state("doc-a", 0)["status"] == "done"
        await keys(app, pilot, "j", "j", "j")  # move away: undo brings focus back
        await keys(app, pilot, "ctrl+r")
        assert journal.state("doc-a", 1)["labels"]["devices"] == ["certain_countries"]
        assert where(app) == ("doc-a", 1)
        await keys(app, pilot, "q")
    again = restart(app)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert where(again) == ("doc-a", 1)  # resumes where it stopped
        await keys(again, pilot, "right_square_bracket", "u")
        assert again.journal.state("doc-a", 1) is None
        assert where(again) == ("doc-a", 1)  # focus moved to the undone unit
        assert "annotated 1/8" in screen_text(again)


async def test_resume_position_and_first_not_done(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "enter", "enter", "right_square_bracket", "j")
        assert where(app) == ("doc-b", 2)
    again = restart(app)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert where(again) == ("doc-b", 2)
    # No saved position: the first unit not annotated.
    store = again.store
    store.journal("bob", app.schema)
    from annotator.tui.app import AnnotatorApp
    bob = store.journal("bob", app.schema)
    bob.apply("doc-a", 0, {"type": "mark_done"})
    third = AnnotatorApp(store, bob, app.schema)
    async with third.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert where(third) == ("doc-a", 1)


async def test_note_and_flag(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "f")
        assert app.journal.state("doc-a", 0)["flag"] is True
        assert "⚑ uncertain" in screen_text(app)
        await pilot.press("m")
        dialog = app.screen
        dialog.query_one(Input).value = "unsure [bold]why[/] [@click=app.quit]"
        await pilot.press("enter")
        await pilot.pause()
        assert app.journal.state("doc-a", 0)["note"] == "unsure [bold]why[/] [@click=app.quit]"
        assert "✎ unsure [bold]why[/] [@click=app.quit]" in screen_text(app)
        await pilot.press("m")
        await pilot.press("escape")  # cancel keeps the note
        await pilot.pause()
        assert app.journal.state("doc-a", 0)["note"].startswith("unsure")
        await keys(app, pilot, "f")
        assert app.journal.state("doc-a", 0)["flag"] is False
        assert app.journal.state("doc-a", 0)["status"] is None  # flag/note do not mark done


async def test_search_next_previous(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        app.screen.query_one(Input).value = "one"
        await pilot.press("enter")
        await pilot.pause()
        assert where(app) == ("doc-b", 1)
        await keys(app, pilot, "n")
        assert where(app) == ("doc-c", 1)
        await keys(app, pilot, "n")
        assert where(app) == ("doc-b", 1)  # wraps around
        await keys(app, pilot, "N")
        assert where(app) == ("doc-c", 1)
        await pilot.press("slash")
        app.screen.query_one(Input).value = "no such text"
        await pilot.press("enter")
        await pilot.pause()
        assert where(app) == ("doc-c", 1)


async def test_goto_by_id_number_and_unit(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        for target, expected in [("doc-b", ("doc-b", 1)), ("3", ("doc-c", 0)),
                                 ("doc-a:2", ("doc-a", 2)), (":3", ("doc-a", 3)),
                                 ("2:2", ("doc-b", 2)), ("nope", ("doc-b", 2)),
                                 ("doc-a:99", ("doc-b", 2)),
                                 # hostile input: no crash, a notice, focus unchanged
                                 ("99999999999999999999999", ("doc-b", 2)),
                                 ("doc-a:\u00b2", ("doc-b", 2)), ("\u00b2", ("doc-b", 2)),
                                 ("-1", ("doc-b", 2))]:
            await pilot.press("g")
            app.screen.query_one(Input).value = target
            await pilot.press("enter")
            await pilot.pause()
            assert where(app) == expected, target
        assert app.is_running


async def test_help_lists_keys_and_label_descriptions(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert app.screen.id == "help"
        help_text = app.screen.query_one("#help-text").plain
        assert "Sovereignty and independence" in help_text
        assert "The paragraph presents a state's right" in help_text
        assert "Our people alone will decide" in help_text  # an example
        assert "ctrl+r" in help_text and "undo" in help_text
        assert "Keys" in screen_text(app)
        await pilot.press("escape")
        assert app.screen.id == "annotate"


async def test_untrusted_text_is_shown_literally(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await keys(app, pilot, "j", "j", "j")
        assert where(app) == ("doc-a", 3)
        text = screen_text(app)
        assert "[@click=app.quit]q[/]" in text
        assert "[bold]x[/bold]" in text and "[link=https://e.example]" in text
        assert "[/ broken ␛[31m red" in text
        await pilot.click("#unit", offset=(30, 5))  # a live link would quit here
        await keys(app, pilot, "s")  # the app still runs and stores
        assert app.journal.state("doc-a", 3)["labels"]["devices"] == ["sovereignty"]
        assert app.is_running
        await keys(app, pilot, "right_square_bracket", "right_square_bracket")
        assert "Charlie [b]title[/b]" in screen_text(app)


async def test_sizes_and_no_color(tmp_path, monkeypatch):
    for size in [(80, 24), (200, 60)]:
        app = make_app(tmp_path / f"{size[0]}")
        async with app.run_test(size=size) as pilot:
            await keys(app, pilot, "j", "s")
            text = screen_text(app)
            assert "The minister said" in text and "[x] Sovereignty" in text
            assert "Quote" in text  # the span layer is in view at 80x24 too
            assert "j next" in text.replace("  ", " ")
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tmp_path / "nc")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await keys(app, pilot, "s", "1")
        text = screen_text(app)
        assert "[x] Sovereignty" in text and "(•) Positive" in text and "✓ done" in text


async def test_big_document_and_big_paragraph_move_fast(tmp_path):
    import time

    big = "word " * 1_000_000  # a 5 MB paragraph
    docs = [Document("many", "Many", [f"Paragraph {i}." for i in range(1000)]),
            Document("huge", None, ["before", big, "after"])]
    app = make_app(tmp_path, docs)
    async with app.run_test(size=(80, 24)) as pilot:
        t = time.perf_counter()
        await keys(app, pilot, *["j"] * 200)
        assert where(app) == ("many", 200)
        assert time.perf_counter() - t < 5
        await pilot.press("g")
        app.screen.query_one(Input).value = "huge:2"
        await pilot.press("enter")
        await pilot.pause()
        t = time.perf_counter()
        await keys(app, pilot, "s", "w", "w", "W", "j", "k")
        assert time.perf_counter() - t < 5
        assert app.journal.state("huge", 2)["labels"]["devices"] == ["sovereignty"]
        assert "word word" in screen_text(app)


def test_hostile_fixture_has_markup():
    assert "[@click=app.quit]" in HOSTILE and main  # the fixture the literal test relies on


async def test_sigterm_exits_cleanly_and_crash_gives_nonzero(tmp_path):
    import os
    import signal

    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await keys(app, pilot, "s")
        os.kill(os.getpid(), signal.SIGTERM)
        await pilot.pause()
        await pilot.pause()
    assert app.exit_signal == signal.SIGTERM and app.return_code == 0
    assert app.journal.state("doc-a", 0)["labels"]["devices"] == ["sovereignty"]

    crashing = make_app(tmp_path / "crash")

    def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):  # run_test re-raises what crashed the app
        async with crashing.run_test(size=(80, 24)) as pilot:
            main(crashing).action_flag = boom
            await keys(crashing, pilot, "f")
    assert crashing.return_code == 1  # what run_app returns as the exit code


async def test_resize_rewraps_the_paragraph(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        await keys(app, pilot, "j", "j")
        assert "Foreign Minister Elena Rusk told reporters." in screen_text(app)
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        text = screen_text(app)
        assert "The minister said" in text and "▶· The" in text
        assert "Rusk told reporters." in text  # wrapped to the new width, not per char


async def test_a_new_search_replaces_the_last_one_and_matches_are_highlighted(tmp_path):
    from annotator.tui.unit_view import UnitView

    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"zzzz", "enter")
        await pilot.pause()
        assert main(app).last_search == "zzzz"
        # typing replaces the query shown (it used to append: "zzzzneedle")
        await pilot.press("slash", *"needle", "enter")
        await pilot.pause()
        assert main(app).last_search == "needle"
        assert where(app) == ("doc-b", 2)
        view = app.screen.query_one(UnitView)
        text = "Bravo two has the needle."
        assert view.decor.matches == ((text.index("needle"), text.index("needle") + 6),)


async def test_goto_hint_names_a_document_of_the_project(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert "doc-a:3" in screen_text(app)
        assert "seed-004" not in screen_text(app)
