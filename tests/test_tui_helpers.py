"""Shared set-up for the Pilot tests of the annotation screen (no tests here)."""

from __future__ import annotations

from pathlib import Path

from annotator.corpus import Document
from annotator.schema import LabelSchema, default_schema_path, load_schema
from annotator.store.sqlite import SQLiteJournal, SQLiteStore
from annotator.tui.app import AnnotatorApp
from annotator.tui.screen import AnnotateScreen

HOSTILE = ("Hostile [bold]x[/bold] [link=https://e.example]l[/link] [@click=app.quit]q[/] "
           "and [/ broken ␛[31m red")
QUOTE = 'The minister said "we will not bow" today, Foreign Minister Elena Rusk told reporters.'

DOCS = [
    Document("doc-a", "Alpha title", [
        "First paragraph about sovereignty.",
        QUOTE,
        HOSTILE,
    ]),
    Document("doc-b", None, ["Bravo one.", "Bravo two has the needle."]),
    Document("doc-c", "Charlie [b]title[/b]", ["Charlie one."]),
]


def make_store(tmp_path: Path, docs: list[Document] | None = None
               ) -> tuple[SQLiteStore, SQLiteJournal, LabelSchema]:
    store = SQLiteStore(tmp_path / ".annotator")
    store.import_documents(docs if docs is not None else DOCS)
    schema = load_schema(default_schema_path())
    return store, store.journal("alice", schema), schema


def make_app(tmp_path: Path, docs: list[Document] | None = None) -> AnnotatorApp:
    store, journal, schema = make_store(tmp_path, docs)
    return AnnotatorApp(store, journal, schema)


def restart(app: AnnotatorApp) -> AnnotatorApp:
    """A new app on the same store and journal file, as after quitting and reopening."""
    store = SQLiteStore(app.store.root)
    return AnnotatorApp(store, store.journal("alice", app.schema), app.schema)


def screen_text(app: AnnotatorApp) -> str:
    """What the terminal shows, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def main(app: AnnotatorApp) -> AnnotateScreen:
    return app.annotate_screen


async def keys(app: AnnotatorApp, pilot, *names: str) -> None:
    """Press keys fast (simulate_key, one pause at the end: pilot.press costs ~60 ms)."""
    for name in names:
        app.simulate_key(name)
    await pilot.pause()


def where(app: AnnotatorApp) -> tuple[str, int]:
    screen = main(app)
    return screen.doc.id, screen.unit


def assert_fast_twins(screen) -> None:
    """Each of the screen's own bindings has its priority twin (tui/fast_keys.py), with
    the same id, and a twin runs only when nothing is queued."""
    from textual import events

    for key, bindings in screen._bindings.key_to_bindings.items():
        plain = [b for b in bindings if not b.priority]
        fast = [b for b in bindings if b.priority]
        assert plain, key
        own = [b for b in plain if "." not in b.action and b.action != "quit"]
        assert [b.action for b in fast] == [f"fast({b.action!r})" for b in own], key
        assert [b.id for b in fast] == [b.id for b in own]
    assert screen._fast_ready() and screen.check_action("fast", ("next_unit",))
    screen.post_message(events.Key("k", "k"))  # something queued for the screen
    assert not screen.check_action("fast", ("next_unit",))
    assert screen.check_action("next_unit", ())  # the plain binding always runs
