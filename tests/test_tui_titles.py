"""Titles as units or not (`titles: false` in a schema or a project), and progress
that counts only units the corpus still has (a re-import may remove some)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_tui_helpers import DOCS, keys, main, make_store, screen_text, where
from util import run_cli

from annotator.corpus import Document
from annotator.project import Project
from annotator.schema import default_schema_path, load_schema
from annotator.status import project_status
from annotator.tui.app import AnnotatorApp


def _app(tmp_path: Path, titles: bool, docs: list[Document] | None = None) -> AnnotatorApp:
    store, journal, schema = make_store(tmp_path, docs)
    schema = dataclasses.replace(schema, titles=titles)
    return AnnotatorApp(store, store.journal("alice", schema), schema)


async def test_titles_false_leaves_titles_out_of_counts_and_moves(tmp_path: Path) -> None:
    app = _app(tmp_path, titles=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # DOCS: 8 units, 2 of them titles
        assert where(app) == ("doc-a", 1)  # the first paragraph, not the title
        text = screen_text(app)
        assert "annotated 0/6" in text
        assert "Alpha title" in text  # still shown, as context
        await keys(app, pilot, "k")
        assert where(app) == ("doc-a", 1)  # no going up to the title
        await keys(app, pilot, "enter", "j", "j")
        assert where(app) == ("doc-b", 1)
        await keys(app, pilot, "j", "j")
        assert where(app) == ("doc-c", 1)  # doc-c's title is skipped
        await keys(app, pilot, "k")
        assert where(app) == ("doc-b", 2)
        assert "annotated 1/6" in screen_text(app)
        screen = main(app)
        screen._goto("doc-c")
        await pilot.pause()
        assert where(app) == ("doc-c", 1)


async def test_titles_true_counts_them(tmp_path: Path) -> None:
    app = _app(tmp_path, titles=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert where(app) == ("doc-a", 0)
        assert "annotated 0/8" in screen_text(app)


def test_titles_from_the_schema_and_the_project(tmp_path: Path) -> None:
    raw = default_schema_path().read_text(encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(raw.replace("version: 1\n", "version: 1\ntitles: false\n", 1),
                    encoding="utf-8")
    assert load_schema(path).titles is False
    assert load_schema(default_schema_path()).titles is True
    bad = tmp_path / "bad.yaml"
    bad.write_text(raw.replace("version: 1\n", "version: 1\ntitles: maybe\n", 1),
                   encoding="utf-8")
    r = run_cli("validate", str(bad))
    assert r.returncode == 1 and f"{bad}:4:1: titles:" in r.stdout
    (tmp_path / "annotator.yaml").write_text("corpus: []\ntitles: false\n",
                                             encoding="utf-8")
    assert Project(tmp_path).load_schema().titles is False
    (tmp_path / "annotator.yaml").write_text("corpus: []\ntitles: 3\n", encoding="utf-8")
    r = run_cli("validate", str(tmp_path / "annotator.yaml"))
    assert r.returncode == 1 and "'titles' must be true or false" in r.stdout


def test_status_counts_titles_as_the_schema_says(tmp_path: Path) -> None:
    store, journal, schema = make_store(tmp_path)
    journal.apply("doc-a", 0, {"type": "mark_done"})  # the title
    journal.apply("doc-a", 1, {"type": "mark_done"})
    with_titles = project_status(store, schema)
    assert with_titles["units"] == 8 and with_titles["annotators"][0]["done"] == 2
    without = project_status(store, dataclasses.replace(schema, titles=False))
    assert without["units"] == 6 and without["annotators"][0]["done"] == 1
    assert journal.done_count() == 2 and journal.done_count(titles=False) == 1


async def test_a_removed_unit_is_not_progress(tmp_path: Path) -> None:
    store, journal, schema = make_store(tmp_path)
    journal.apply("doc-a", 3, {"type": "mark_done"})  # the third paragraph
    journal.apply("doc-a", 1, {"type": "mark_done"})
    assert journal.done_count() == 2
    # a re-import drops doc-a's third paragraph
    store.import_documents([Document("doc-a", "Alpha title", list(DOCS[0].paragraphs[:2])),
                            *DOCS[1:]])
    assert journal.done_count() == 1
    status = project_status(store, schema)
    assert status["annotators"][0]["done"] == 1
    assert any(p["unit"] == 3 and "no longer in the corpus" in p["problem"]
               for p in status["problems"])
    app = AnnotatorApp(store, journal, schema)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "annotated 1/7" in screen_text(app)
