"""`annotator db copy`: SQLite to PostgreSQL and back, nothing lost (the exports, the
undo history and the stale flags before and after are the same)."""

from __future__ import annotations

from pathlib import Path

import pytest
from util import REPO, run_cli

from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store import SQLiteStore
from annotator.store.postgres import PostgresStore

SCHEMA = REPO / "schemas" / "framing-devices.yaml"


def _annotate(project: Path) -> None:
    store = SQLiteStore(project / ".annotator")
    store.import_documents([
        Document("d1", "Envoy summoned", ["The minister said \u201cnever\u201d, they said.",
                                          "Certain countries.", "See More"], {"lang": "en"}),
        Document("d2", None, ["Sanctions are warfare."])])
    schema = load_schema(SCHEMA)
    a, b = store.journal("alice", schema), store.journal("bob", schema)
    a.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"},
            seconds=3.25)
    a.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 18,
                      "end": 25})
    a.apply("d1", 2, {"type": "toggle_label", "layer": "stance", "label": "negative"})
    a.apply("d1", 2, {"type": "set_note", "note": "undone below"})
    a.undo()  # the note: redo-able after the copy too
    a.set_position("d1", 2)
    b.apply("d1", 1, {"type": "mark_done"})
    b.apply("d2", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    # what COPY's text format must escape (events and states are written as that text)
    b.apply("d2", 1, {"type": "set_note", "note": "back\\slash\ttab\nline\rcr \\N end"})
    store.close()
    # a re-import changes a paragraph under alice's annotation: stale, kept
    store = SQLiteStore(project / ".annotator")
    store.import_documents([
        Document("d1", "Envoy summoned", ["The minister said \u201cNEVER\u201d, they said.",
                                          "Certain countries.", "See More"], {"lang": "en"})])
    store.close()


def _export(project: Path, store: str) -> str:
    r = run_cli("export", "--out", "-", "--schema", str(SCHEMA), "--store", store, cwd=project)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_copy_sqlite_to_postgres_and_back(project: Path, pg_url, tmp_path: Path):
    _annotate(project)
    before = _export(project, "sqlite")
    assert '"stale":true' in before
    r = run_cli("db", "copy", "--from", "sqlite", "--to", pg_url, cwd=project)
    assert r.returncode == 0, r.stderr
    assert "2 annotator(s)" in r.stderr
    assert _export(project, pg_url) == before
    r = run_cli("agreement", "--json", "--bootstrap", "0", "--store", pg_url, cwd=project)
    r0 = run_cli("agreement", "--json", "--bootstrap", "0", "--store", "sqlite", cwd=project)
    assert r.returncode == 0 and r.stdout == r0.stdout
    pg = PostgresStore(pg_url)
    alice = pg.journal("alice")
    assert alice.verify() == []
    assert alice.position() == ("d1", 2)
    # the undo history came along (the redo itself is tried on the copy back)
    kinds = [(e["kind"], e["undone"]) for e in alice.events()]
    assert kinds[:2] == [("undo", False), ("set_note", True)]
    pg.close()
    # copying into a store that is not empty is refused, nothing written
    r = run_cli("db", "copy", "--from", "sqlite", "--to", pg_url, cwd=project)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stderr
    # and back, into a fresh project
    back = tmp_path / "back"
    back.mkdir()
    r = run_cli("db", "copy", "--from", pg_url, "--to", "sqlite", "--project", str(back))
    assert r.returncode == 0, r.stderr
    assert _export(back, "sqlite") == before
    r = run_cli("status", "--check", "--store", "sqlite", "--project", str(back))
    assert r.returncode == 0 and "replays to its stored state" in r.stdout, r.stdout
    j = SQLiteStore(back / ".annotator").journal("alice")
    # the undo history came along: redo brings the note back, as it would have
    assert j.redo().state["note"] == "undone below"


def test_copy_refuses_same_store(project: Path):
    r = run_cli("db", "copy", "--from", "sqlite", "--to", "sqlite", cwd=project)
    assert r.returncode == 2 and "same store" in r.stderr


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch):
    monkeypatch.delenv("ANNOTATOR_STORE", raising=False)
