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
