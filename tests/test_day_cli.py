"""The entry point's messages: a missing corpus is named, a folder import says what it
skipped and why, a schema changed under a project (same id and version, other
content) is said at launch and in `status`; notices show on the screen."""

from __future__ import annotations

from pathlib import Path

from test_tui_helpers import make_store
from util import run_cli

from annotator.project import Project
from annotator.schema import default_schema_path
from annotator.schema_drift import record_schema, schema_change
from annotator.status import format_status, project_status
from annotator.tui.app import AnnotatorApp


def test_a_missing_corpus_is_named(tmp_path: Path) -> None:
    r = run_cli("annotate", str(tmp_path / "missing"), "--project", str(tmp_path / "new"))
    assert r.returncode == 1
    assert f"{tmp_path / 'missing'}: no such file or directory (the CORPUS" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "new").exists()


def test_a_folder_import_says_what_it_skipped(tmp_path: Path) -> None:
    news = tmp_path / "news"
    (news / "sub").mkdir(parents=True)
    (news / "a.pdf").write_bytes(b"%PDF")
    (news / "sub" / "b.pdf").write_bytes(b"%PDF")
    (news / "c.docx").write_bytes(b"PK")
    (news / ".hidden").write_text("x")
    r = run_cli("annotate", str(news), "--project", str(tmp_path))
    assert r.returncode == 1
    assert "no documents imported from" in r.stderr
    assert "3 file(s) of other types skipped (2 .pdf, 1 .docx)" in r.stderr
    assert "claims" not in r.stderr and "give a CORPUS" not in r.stderr
    (news / "d.txt").write_text("Title\n\nOne paragraph.\n", encoding="utf-8")
    r = run_cli("import", str(news), "--project", str(tmp_path))
    assert r.returncode == 0
    assert "imported 1 file(s)" in r.stderr
    assert "warning: " in r.stderr and "(2 .pdf, 1 .docx)" in r.stderr
    assert ".txt, .md, .jsonl" in r.stderr


def _project(tmp_path: Path) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Title\n\nOne paragraph.\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_bytes(default_schema_path().read_bytes())
    (tmp_path / "annotator.yaml").write_text("schema: s.yaml\ncorpus: [corpus]\n",
                                             encoding="utf-8")
    assert run_cli("import", str(tmp_path / "corpus"), "--project", str(tmp_path)).returncode == 0
    return tmp_path


def test_a_schema_changed_under_the_project_is_said(tmp_path: Path) -> None:
    root = _project(tmp_path)
    project = Project(root)
    schema = project.load_schema()
    journal = project.store.journal("alice", schema)
    journal.apply("corpus/a", 1, {"type": "mark_done"})
    assert schema_change(journal, schema) is None  # never recorded: nothing to say
    record_schema(journal, schema)
    assert schema_change(journal, schema) is None
    project.close()
    path = root / "s.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "name: Sovereignty and independence", "name: Sovereignty", 1), encoding="utf-8")
    project = Project(root)
    changed = project.load_schema()
    journal = project.store.journal("alice", changed)
    said = schema_change(journal, changed)
    assert said is not None and "'framing-devices' version 1 changed since alice" in said
    status = project_status(project.store, changed)
    assert any(p["problem"] == said for p in status["problems"])
    assert f"(alice): {said}" in format_status(status)
    project.close()
    r = run_cli("status", "--project", str(root))
    assert r.returncode == 0 and "changed since alice last annotated" in r.stdout
    # a new version says itself that the schema changed
    path.write_text(path.read_text(encoding="utf-8").replace("version: 1", "version: 2", 1),
                    encoding="utf-8")
    project = Project(root)
    v2 = project.load_schema()
    assert schema_change(project.store.journal("alice", v2), v2) is None
    project.close()


async def test_notices_show_on_the_screen(tmp_path: Path) -> None:
    store, journal, schema = make_store(tmp_path)
    app = AnnotatorApp(store, journal, schema, notices=[
        ("imported 2 file(s): 2 new", "information"),
        ("schema 'x' version 1 changed", "warning")])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.pause(0.2)
        shown = [(n.message, n.severity) for n in app._notifications]
        assert shown == [("imported 2 file(s): 2 new", "information"),
                         ("schema 'x' version 1 changed", "warning")], shown
        # (what the terminal shows: tests/test_tmux_day.py)
