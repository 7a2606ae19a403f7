"""The annotation screen with assignments: only the annotator's documents, in import
order; `]` / `[`, j / k, search and go-to stay inside them; the bar counts them."""

from __future__ import annotations

from pathlib import Path

from test_tui_helpers import keys, main, screen_text, where
from textual.widgets import Input
from util import run_cli

from annotator.corpus import Document
from annotator.schema import default_schema_path, load_schema
from annotator.store.sqlite import SQLiteStore
from annotator.tui.app import AnnotatorApp

DOCS = [Document(f"doc-{i}", f"Title {i}", [f"Body of {i} with word{i}.", f"Second of {i}."])
        for i in range(1, 7)]
MINE = (2, 4, 5)  # document keys assigned to alice


def _app(tmp_path: Path, mine=MINE) -> AnnotatorApp:
    store = SQLiteStore(tmp_path / ".annotator")
    store.import_documents(DOCS)
    rows = [(k, "alice", False) for k in mine] + [(k, "bob", False) for k in range(1, 7)]
    store.add_assignments(lambda keys, existing: rows)
    schema = load_schema(default_schema_path())
    return AnnotatorApp(store, store.journal("alice", schema), schema)


async def _goto(app, pilot, where_to: str) -> None:
    await keys(app, pilot, "g")
    app.screen.query_one(Input).value = where_to
    await keys(app, pilot, "enter")


async def test_only_assigned_documents_are_offered(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert where(app) == ("doc-2", 0)  # the first unit of the first assigned document
        text = screen_text(app)
        assert "doc 1/3 doc-2" in text and "annotated 0/9" in text  # 3 docs x 3 units
        await keys(app, pilot, "right_square_bracket")
        assert where(app) == ("doc-4", 0) and "doc 2/3 doc-4" in screen_text(app)
        await keys(app, pilot, "right_square_bracket", "right_square_bracket")
        assert where(app) == ("doc-5", 0)  # the last one: stays
        await keys(app, pilot, "left_square_bracket")
        assert where(app) == ("doc-4", 0)
        await keys(app, pilot, "k")  # before the first unit: the previous assigned doc
        assert where(app) == ("doc-2", 2)
        await keys(app, pilot, "j")
        assert where(app) == ("doc-4", 0)  # doc-3 is not alice's


async def test_search_and_goto_stay_inside(tmp_path):
    app = _app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = main(app)
        screen.last_search = "word3"  # only in doc-3, not assigned
        await keys(app, pilot, "n")
        assert where(app) == ("doc-2", 0)
        screen.last_search = "word5"
        await keys(app, pilot, "n")
        assert where(app) == ("doc-5", 1)
        screen.last_search = "second of"
        await keys(app, pilot, "n")  # wraps round within the assigned documents
        assert where(app) == ("doc-5", 2)
        await keys(app, pilot, "n")
        assert where(app) == ("doc-2", 2)
        await keys(app, pilot, "N")
        assert where(app) == ("doc-5", 2)

        await _goto(app, pilot, "doc-3")
        assert where(app) == ("doc-5", 2)  # refused, and says why
        assert any("doc-3 is not assigned to alice" in n.message for n in app._notifications)
        await _goto(app, pilot, "2")  # a number counts as the bar does
        assert where(app) == ("doc-4", 0)
        await _goto(app, pilot, "doc-2:1")
        assert where(app) == ("doc-2", 1)


async def test_start_skips_a_saved_position_outside_and_done_units(tmp_path):
    app = _app(tmp_path)
    journal = app.journal
    journal.set_position("doc-1", 1)  # from before the assignment
    for unit in range(3):
        journal.apply("doc-2", unit, {"type": "mark_done"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert where(app) == ("doc-4", 0)  # first not done among alice's documents
        assert "annotated 3/9" in screen_text(app)


def test_annotate_refuses_an_annotator_with_nothing_assigned(project: Path):
    (project / "c.jsonl").write_text('{"id": "x", "text": "One.\\n\\nTwo."}\n')
    assert run_cli("import", "c.jsonl", cwd=project).returncode == 0
    assert run_cli("assign", "--per-document", "1", "--annotators", "bob",
                   cwd=project).returncode == 0
    r = run_cli("annotate", "--as", "alice", cwd=project)
    assert r.returncode == 1 and "no documents are assigned to alice" in r.stderr
