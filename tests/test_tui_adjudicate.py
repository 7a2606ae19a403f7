"""Pilot tests of the adjudication screen: every key path, asserting the gold journal
(what is stored), and --anonymous showing no names."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from test_tui_helpers import assert_fast_twins, keys, screen_text

from annotator.adjudication.auto import auto_merge
from annotator.adjudication.session import Session
from annotator.corpus import Document
from annotator.schema import default_schema_path, load_schema
from annotator.store import SQLiteStore
from annotator.tui.adjudicate import AdjudicateScreen, AdjudicatorApp

SCHEMA = load_schema(default_schema_path())
QUOTE = 'The minister said "we will not bow" today.'


def _study(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / ".annotator")
    store.import_documents([
        Document("doc-a", None, ["All agree here.", "Stance differs.", QUOTE]),
        Document("doc-b", None, ["Devices differ.", "Nobody did this one."]),
    ])
    names = ("zed_alice", "zed_bob", "zed_carol")
    for name in names:
        j = store.journal(name, SCHEMA)
        j.apply("doc-a", 1, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
    for name, st in zip(names, ("positive", "negative", "negative"), strict=True):
        j = store.journal(name, SCHEMA)
        j.apply("doc-a", 2, {"type": "toggle_label", "layer": "stance", "label": st})
    a, b = store.journal("zed_alice", SCHEMA), store.journal("zed_bob", SCHEMA)
    a.apply("doc-a", 3, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 18,
                         "end": 35})
    b.apply("doc-a", 3, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 19,
                         "end": 34})
    a.apply("doc-b", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    b.apply("doc-b", 1, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
    return store


def _app(store: SQLiteStore, anonymous: bool = False) -> AdjudicatorApp:
    return AdjudicatorApp(Session(store, SCHEMA, "cur", anonymous=anonymous))


async def _ready(app, pilot) -> None:
    """The screen's whole-corpus read (a worker thread) finished, and its result shown."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def _screen(app) -> AdjudicateScreen:
    return next(s for s in app.screen_stack if isinstance(s, AdjudicateScreen))


def _at(app) -> tuple[str, int]:
    s = _screen(app)
    return s.doc.id, s.unit


def _gold(store, doc, unit):
    return store.journal("gold").state(doc, unit)


@contextlib.asynccontextmanager
async def _at_first_disagreement(tmp_path: Path):
    """The study's adjudication screen, its corpus read, at its first disagreement
    (doc-a ¶2): (store, app, pilot, screen)."""
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        assert _at(app) == ("doc-a", 2)
        yield store, app, pilot, _screen(app)


async def test_opens_at_first_disagreement_and_moves_between_them(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        assert _at(app) == ("doc-a", 2)
        text = screen_text(app)
        assert "zed_alice" in text and "Stance ≠" in text
        assert "decided 0 · left 4 · with disagreement 3 (3 left)" in text
        await keys(app, pilot, "n")
        assert _at(app) == ("doc-a", 3)
        await keys(app, pilot, "n")
        assert _at(app) == ("doc-b", 1)
        await keys(app, pilot, "n")
        assert _at(app) == ("doc-a", 2)  # wraps around
        await keys(app, pilot, "N")
        assert _at(app) == ("doc-b", 1)
        await keys(app, pilot, "left_square_bracket")
        assert _at(app) == ("doc-a", 1)
        await keys(app, pilot, "right_square_bracket")
        assert _at(app) == ("doc-b", 1)
        await keys(app, pilot, "j")
        assert _at(app) == ("doc-b", 2)
        await keys(app, pilot, "k", "k")
        assert _at(app) == ("doc-a", 3)
        assert store.journal("gold").events() == []  # moving decides nothing


async def test_take_version_by_number_for_the_layer_in_focus(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "tab")  # devices -> stance
        assert _screen(app).layer.id == "stance"
        await keys(app, pilot, "t", "1")  # zed_alice's stance
        g = _gold(store, "doc-a", 2)
        assert g["labels"]["stance"] == "positive" and g["decided_by"] == ["zed_alice"]
        assert "(•) Positive" in screen_text(app)
        await keys(app, pilot, "t", "2")
        g = _gold(store, "doc-a", 2)
        assert g["labels"]["stance"] == "negative"
        assert g["decided_by"] == ["zed_bob", "zed_carol"]
        assert "decided 1 · left 3" in screen_text(app)
        await keys(app, pilot, "t", "9")  # nobody: nothing stored
        assert len(store.journal("gold").events()) == 2
        await keys(app, pilot, "t", "escape", "1")  # escape cancels: "1" is the hotkey
        assert _gold(store, "doc-a", 2)["labels"]["stance"] == "positive"
        assert _gold(store, "doc-a", 2)["overrode"] is False


async def test_label_hotkeys_toggle_gold_and_enter_accepts(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "s")  # sovereignty, which nobody chose
        g = _gold(store, "doc-a", 2)
        assert g["labels"]["devices"] == ["sovereignty"] and g["overrode"] is True
        await keys(app, pilot, "s", "3")  # off again; stance: neutral
        g = _gold(store, "doc-a", 2)
        assert g["labels"] == {"devices": [], "stance": "neutral"}
        await keys(app, pilot, "enter")  # accept as shown, on to the next disagreement
        assert _at(app) == ("doc-a", 3)
        assert store.journal("gold").events(1)[0]["kind"] == "accept_unit"
        # enter on a unit without gold stores what is shown: the layers all agree on
        await keys(app, pilot, "k", "k", "enter")
        g = _gold(store, "doc-a", 1)
        assert g["labels"]["devices"] == ["solidarity"] and g["status"] == "done"
        assert g["decided_by"] == ["zed_alice", "zed_bob", "zed_carol"]


async def test_spans_selected_accepted_and_deleted(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "n", "tab", "tab")  # doc-a/3, layer quotes
        assert _at(app) == ("doc-a", 3) and _screen(app).layer.id == "quotes"
        await keys(app, pilot, "w", "w", "a")  # zed_bob's span [19, 34)
        g = _gold(store, "doc-a", 3)
        assert [(s["start"], s["end"]) for s in g["spans"]] == [(19, 34)]
        assert g["decided_by"] == ["zed_bob"]
        assert "gold: quote [19,34)" in screen_text(app)
        assert _screen(app).candidates()[_screen(app).selected][0] == "gold"
        await keys(app, pilot, "x")  # the accepted span stays selected: deleted
        assert _gold(store, "doc-a", 3)["spans"] == []
        await keys(app, pilot, "t", "1")  # zed_alice's whole layer
        g = _gold(store, "doc-a", 3)
        assert [(s["start"], s["end"]) for s in g["spans"]] == [(18, 35)]


async def test_undo_redo_and_restart(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "tab", "t", "1", "n")
        assert _at(app) == ("doc-a", 3)
        await keys(app, pilot, "u")  # undo goes back to the unit it changed
        assert _at(app) == ("doc-a", 2) and _gold(store, "doc-a", 2) is None
        await keys(app, pilot, "ctrl+r")
        assert _gold(store, "doc-a", 2)["labels"]["stance"] == "positive"
    store.close()
    store2 = SQLiteStore(tmp_path / ".annotator")
    app2 = _app(store2)
    async with app2.run_test(size=(100, 40)) as pilot:
        await _ready(app2, pilot)
        assert _at(app2) == ("doc-a", 3)  # the first open disagreement
        await keys(app2, pilot, "u")
        assert _at(app2) == ("doc-a", 2)
        assert _gold(store2, "doc-a", 2) is None
        await keys(app2, pilot, "ctrl+r")
        assert _gold(store2, "doc-a", 2)["labels"]["stance"] == "positive"
        assert store2.journal("gold").verify() == []


async def test_auto_prefilled_units_are_marked_and_changeable(tmp_path):
    store = _study(tmp_path)
    r = auto_merge(store, SCHEMA, "majority", curator="cur")
    assert r.merged == 2  # doc-a/1 (all agree), doc-a/2 (2 of 3 on stance)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        assert _at(app) == ("doc-a", 3)  # doc-a/2 is decided already
        await keys(app, pilot, "N")
        assert _at(app) == ("doc-a", 2)
        assert "✓ decided (auto: majority)" in screen_text(app)
        await keys(app, pilot, "tab", "t", "1")
        g = _gold(store, "doc-a", 2)
        assert g["auto"] is None and g["labels"]["stance"] == "positive"
        assert "(auto" not in screen_text(app)


@pytest.mark.parametrize("anonymous", [True, False])
async def test_anonymous_shows_no_names(tmp_path, anonymous):
    store = _study(tmp_path)
    app = _app(store, anonymous=anonymous)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        texts = [screen_text(app)]
        await keys(app, pilot, "n", "tab", "tab", "w", "w")
        texts.append(screen_text(app))
        await keys(app, pilot, "t")
        texts.append(screen_text(app))
        await keys(app, pilot, "escape", "question_mark")
        texts.append(screen_text(app))
    shown = "\n".join(texts)
    if anonymous:
        assert "zed_" not in shown
        assert "1 A " in shown and "t2 B" in shown and "B: quote [19,34)" in shown
    else:
        assert "zed_alice" in shown and "zed_bob" in shown


async def test_relabel_a_gold_span_and_search(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "n", "tab", "tab", "t", "1", "w", "S")  # quote -> source
        g = _gold(store, "doc-a", 3)
        assert [(s["label"], s["start"]) for s in g["spans"]] == [("source", 18)]
        await keys(app, pilot, "slash")
        for ch in "Devices":
            app.simulate_key(ch)
        await keys(app, pilot, "enter")
        assert _at(app) == ("doc-b", 1)


def _editor(app):
    from annotator.tui.gold_spans import GoldSpanScreen

    return app.screen if isinstance(app.screen, GoldSpanScreen) else None


async def test_curator_draws_links_and_deletes_spans_as_in_annotate(tmp_path):
    """v opens the annotation screen's span editing on the gold: a new source span and
    a new quote drawn with the cursor keys, the quote's type attribute cycled, the
    quote linked to its source (r, enter) and unlinked (r, x), a span relabelled and
    deleted; every step in the gold journal, with what it sided with; escape goes back."""
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "n")  # doc-a/3: 'The minister said "we will not bow" today.'
        assert _at(app) == ("doc-a", 3)
        await keys(app, pilot, "v")
        ed = _editor(app)
        assert ed is not None and ed.span_anchor == 0 and "SPAN" in screen_text(app)
        await keys(app, pilot, "W", "W", "S")  # "The minister" as a source
        g = _gold(store, "doc-a", 3)
        assert [(s["label"], s["text"]) for s in g["spans"]] == [("source", "The minister")]
        assert g["overrode"] is True and g["curator"] == "cur"
        # the quote: span mode, the cursor to 'we', extended to 'bow'
        await keys(app, pilot, "escape", "v", "w", "w", "w", "w")
        assert ed.cursor == 19, ed.cursor
        await keys(app, pilot, "W", "W", "W", "W", "Q")
        g = _gold(store, "doc-a", 3)
        quote = next(s for s in g["spans"] if s["label"] == "quote")
        assert (quote["start"], quote["end"], quote["text"]) == (19, 34, "we will not bow")
        # zed_bob's quote is [19, 34): with the source, the gold sides with nobody yet
        assert g["decided_by"] == [] and g["decided_by_layer"]["quotes"] == []
        await keys(app, pilot, "t")  # the selected quote's attribute
        g = _gold(store, "doc-a", 3)
        assert next(s for s in g["spans"] if s["label"] == "quote")["attributes"]
        await keys(app, pilot, "r")
        assert ed.link_from == quote["id"]
        await keys(app, pilot, "enter")
        g = _gold(store, "doc-a", 3)
        src = next(s for s in g["spans"] if s["label"] == "source")
        assert g["relations"] == [{"label": "attributed_to", "from": quote["id"],
                                   "to": src["id"]}]
        await keys(app, pilot, "r", "x")  # unlink
        assert _gold(store, "doc-a", 3)["relations"] == []
        # select the source, delete it
        ed.selected = src["id"]
        ed.refresh_state()
        await keys(app, pilot, "x")
        g = _gold(store, "doc-a", 3)
        assert [s["label"] for s in g["spans"]] == ["quote"]
        kinds = [e["kind"] for e in store.journal("gold").events()][::-1]
        assert kinds == ["add_span", "add_span", "set_attribute", "add_relation",
                         "delete_relation", "delete_span"]
        # escape with nothing selected: back to the versions, which show the new gold
        await keys(app, pilot, "escape")  # the selection cleared: the editor says where it is
        assert _editor(app) is ed and "GOLD" in screen_text(app)
        await keys(app, pilot, "escape")
        assert _editor(app) is None and _at(app) == ("doc-a", 3)
        assert "gold: quote [19,34)" in screen_text(app) or "1 span(s)" in screen_text(app)
        # undo from the versions screen undoes the editor's last action
        await keys(app, pilot, "u")
        assert len(_gold(store, "doc-a", 3)["spans"]) == 2
        assert store.journal("gold").verify() == []


async def test_editor_opens_on_a_selected_gold_span_and_relabels_it(tmp_path):
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "n", "tab", "tab", "t", "2")  # zed_bob's quote [19, 34)
        await keys(app, pilot, "w", "v")  # the gold's span selected, then the editor
        ed = _editor(app)
        assert ed is not None and ed.span_anchor is None
        assert ed._span(ed.selected)["start"] == 19
        await keys(app, pilot, "S")  # relabel, as in annotate
        g = _gold(store, "doc-a", 3)
        assert [(s["label"], s["start"]) for s in g["spans"]] == [("source", 19)]
        await keys(app, pilot, "enter")  # back
        assert _editor(app) is None


async def test_editor_on_a_unit_without_gold_starts_from_the_agreed_part(tmp_path):
    """A unit nobody decided: the editor shows what the annotators agree on (the
    adjudicate screen's gold), and its first edit starts from that."""
    store = _study(tmp_path)
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "k")  # doc-a/1: all chose solidarity
        assert _at(app) == ("doc-a", 1)
        await keys(app, pilot, "v", "W", "Q")
        g = _gold(store, "doc-a", 1)
        assert g["labels"]["devices"] == ["solidarity"]
        assert [(s["label"], s["text"]) for s in g["spans"]] == [("quote", "All")]
        await keys(app, pilot, "q")  # q goes back too (the app does not quit)
        assert _editor(app) is None and app.is_running


async def test_first_paint_before_the_whole_corpus_read(tmp_path):
    """The screen shows the first unit at once and reads every journal in a thread:
    until then n says it waits and the counts are not shown; a decision made meanwhile
    is stored and counted once the read is in; then the screen goes to the first open
    disagreement only if the curator has not moved."""
    import threading

    store = _study(tmp_path)
    session = Session(store, SCHEMA, "cur")
    gate = threading.Event()
    real = session.read_aside

    def slow():
        gate.wait(10)
        return real()

    session.read_aside = slow
    app = AdjudicatorApp(session)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert _at(app) == ("doc-a", 1) and not session.ready
        assert "reading the annotators' journals" in screen_text(app)
        await keys(app, pilot, "n")
        assert _at(app) == ("doc-a", 1)  # n waits for the read
        await keys(app, pilot, "enter")  # a decision meanwhile: stored at once
        assert _gold(store, "doc-a", 1)["status"] == "done"
        gate.set()
        await _ready(app, pilot)
        assert session.ready and _at(app) == ("doc-a", 1)  # the curator had moved/decided
        assert "decided 1 · left 3 · with disagreement 3 (3 left)" in screen_text(app)
        await keys(app, pilot, "n")
        assert _at(app) == ("doc-a", 2)
    # untouched: the read's end moves to the first open disagreement
    session2 = Session(store, SCHEMA, "cur")
    app2 = AdjudicatorApp(session2)
    async with app2.run_test(size=(100, 40)) as pilot:
        await _ready(app2, pilot)
        assert _at(app2) == ("doc-a", 2)


async def test_a_gold_toggle_rebuilds_only_what_it_changed(tmp_path):
    """A label hotkey stores the gold, then redraws the labels panel and the versions'
    marks; the progress line (same counts) and the status line keep the lines they
    had (the bench's keypress row). The first decision on a unit does change the
    progress line: it is redrawn then."""
    from annotator.tui.adjudicate import ProgressLine, VersionsPanel
    from annotator.tui.info_bar import StatusLine
    from annotator.tui.labels_panel import LabelsPanel

    async with _at_first_disagreement(tmp_path) as (store, app, pilot, s):
        labels, versions = s.query_one(LabelsPanel), s.query_one(VersionsPanel)
        progress, status = s.query_one(ProgressLine), s.query_one(StatusLine)
        await keys(app, pilot, "1")  # stance: positive, the unit's first decision
        assert _gold(store, "doc-a", 2)["labels"]["stance"] == "positive"
        assert "decided 1 · left 3" in screen_text(app)
        assert "✓ decided" in " ".join(line.plain for line in progress.lines)
        kept_progress, kept_status = progress.lines, status.lines
        kept_labels, kept_versions = labels.lines, versions.lines
        await keys(app, pilot, "s")  # sovereignty on: the unit was decided already
        assert _gold(store, "doc-a", 2)["labels"]["devices"] == ["sovereignty"]
        assert progress.lines is kept_progress and status.lines is kept_status
        assert labels.lines is not kept_labels and versions.lines is not kept_versions
        assert "[x] Sovereignty" in " ".join(line.plain for line in labels.lines)
        # the gold's devices line now names the label; no annotator's version matches
        shown = [line.plain for line in versions.lines]
        assert any(p.strip() == "gold Sovereignty and independence" for p in shown), shown
        assert "[x] Sovereignty" in screen_text(app)
        await keys(app, pilot, "tab")  # another layer in focus: the status line changes
        assert status.lines is not kept_status and "layer Stance" in screen_text(app)


async def test_hostile_text_in_a_journal_is_drawn_inert(tmp_path):
    """A journal written by someone else (not through the tool) holds a span whose
    text carries ESC, C1 and BEL sequences and markup: the versions panel draws them
    as visible characters, never as escape sequences or markup, and nothing of them
    reaches the lines on screen."""
    import json
    import sqlite3

    store = _study(tmp_path)
    store.close()
    db = sqlite3.connect(tmp_path / ".annotator" / "journals" / "zed_alice" / "journal.db")
    (state,), = db.execute("SELECT state FROM units WHERE doc_id = 'doc-a' AND unit = 3")
    state = json.loads(state)
    state["spans"][0]["text"] = "\x1b[2J\x1b]0;pwned\x07\x9b31m[@click=app.quit]x[/"
    db.execute("UPDATE units SET state = ? WHERE doc_id = 'doc-a' AND unit = 3",
               (json.dumps(state),))
    db.commit()
    db.close()
    store = SQLiteStore(tmp_path / ".annotator")
    app = _app(store)
    async with app.run_test(size=(100, 40)) as pilot:
        await _ready(app, pilot)
        await keys(app, pilot, "n", "tab", "tab")  # the quote unit, its span layer
        screen = _screen(app)
        for _ in range(4):
            if screen.layer.kind == "span":
                break
            await keys(app, pilot, "tab")
        assert screen.layer.kind == "span"
        lines = [line.plain for line in screen._versions_panel.lines]
        shown = "\n".join(lines)
        assert "␛[2J␛]0;pwned␇" in shown and "[@click=a" in shown  # as text, not markup
        for bad in ("\x1b", "\x07", "\x9b"):
            assert bad not in shown
        assert "\x1b" not in screen_text(app) and app.is_running
    store.close()


async def test_a_gold_toggle_reads_no_annotator_journal_again(tmp_path):
    """A unit's versions are read once on arrival: a gold toggle reads no annotator's
    journal and keeps the lines of the layers it did not change; moving away and back
    reads them afresh (an annotator's change meanwhile is shown)."""
    from annotator.tui.adjudicate import VersionsPanel

    async with _at_first_disagreement(tmp_path) as (store, app, pilot, s):
        reads: list[str] = []
        for j in s.session.journals:
            def counted(doc_id, unit, _state=j.state, _name=j.annotator):
                reads.append(_name)
                return _state(doc_id, unit)
            j.state = counted
        versions = s.query_one(VersionsPanel)
        await keys(app, pilot, "1")  # stance: positive, into the gold
        await keys(app, pilot, "s")  # devices: sovereignty
        assert _gold(store, "doc-a", 2)["labels"] == {"devices": ["sovereignty"],
                                                       "stance": "positive"}
        assert reads == []
        shown = [line.plain for line in versions.lines]
        stance_at = next(i for i, p in enumerate(shown) if "Stance" in p)
        kept = versions.lines[stance_at:stance_at + 5]  # the layer, 3 versions, the gold
        await keys(app, pilot, "s")  # devices again: stance's lines stay as they were
        assert _gold(store, "doc-a", 2)["labels"]["devices"] == []
        assert all(a is b for a, b in zip(versions.lines[stance_at:stance_at + 5], kept,
                                          strict=True))
        assert reads == []
        # zed_bob changes their stance meanwhile: seen once the curator comes back
        store.journal("zed_bob", SCHEMA).apply(
            "doc-a", 2, {"type": "toggle_label", "layer": "stance", "label": "positive"})
        await keys(app, pilot, "j", "k")
        assert _at(app) == ("doc-a", 2)
        assert sorted(set(reads)) == ["zed_alice", "zed_bob", "zed_carol"]
        assert s.versions["zed_bob"]["labels"]["stance"] == "positive"
        assert "2 zed_bob ✓ Positive" in screen_text(app)  # as the gold, now


async def test_every_adjudicate_key_has_a_priority_twin_that_runs_only_when_ready(
        tmp_path):
    """The keys' short cut (fast_keys.py), as on the annotation screen: after the first
    frame each of the screen's own bindings (digits, label hotkeys, n / N, tab...) has a
    priority twin; it runs only when this screen is current with nothing queued."""

    async with _at_first_disagreement(tmp_path) as (store, app, pilot, s):
        await pilot.pause(0.1)
        keymap = s._bindings.key_to_bindings
        for key in ("n", "N", "tab", "shift+tab", "t", "1", "9", "s", "enter", "u"):
            assert key in keymap, key
        assert_fast_twins(s)
        await pilot.pause()
        assert _at(app) == ("doc-a", 1) and s._fast_ready()
        # a lone key takes the short cut
        taken: list[str] = []
        real = s.action_fast

        def counted(action):
            taken.append(action)
            return real(action)

        s.action_fast = counted
        app.simulate_key("j")
        # (not pilot.pause at once: it queues a callback for the screen, and a key
        # read with something queued takes the plain path)
        await asyncio.sleep(0.05)
        await pilot.pause()
        assert taken == ["next_unit"] and _at(app) == ("doc-a", 2)
        # another screen on top (help): its keys, the plain way; this screen's twins wait
        await keys(app, pilot, "question_mark")
        assert app.screen is not s and not s._fast_ready()
        for key in ("j", "s"):
            app.simulate_key(key)
            await asyncio.sleep(0.05)
        await keys(app, pilot, "escape")
        assert app.screen is s and _at(app) == ("doc-a", 2)
        assert taken == ["next_unit"]
        assert _gold(store, "doc-a", 2) is None  # `s` went to the help screen: no toggle


async def test_adjudicate_keys_typed_fast_act_in_the_order_typed(tmp_path):
    async with _at_first_disagreement(tmp_path) as (store, app, pilot, s):
        await pilot.pause(0.1)  # the twins are in
        # all queued before the first is handled: a toggle, a move, a hotkey digit, a
        # move back, the next layer, a version taken by number
        await keys(app, pilot, "s", "j", "1", "k", "tab", "t", "2")
        assert _at(app) == ("doc-a", 2) and s.layer.id == "stance"
        g = _gold(store, "doc-a", 2)
        assert g["labels"]["devices"] == ["sovereignty"]
        assert g["labels"]["stance"] == "negative" and g["decided_by_layer"]["stance"] == [
            "zed_bob", "zed_carol"]
        assert _gold(store, "doc-a", 3)["labels"]["stance"] == "positive"
