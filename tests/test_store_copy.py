"""`annotator db copy`: SQLite to PostgreSQL and back, nothing lost (the exports, the
undo history and the stale flags before and after are the same)."""

from __future__ import annotations

import json
import os
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


def _same_agreement_as_sqlite(project: Path, url: str) -> str:
    """The agreement report from the copy is the SQLite project's, byte for byte (which
    is returned)."""
    r = run_cli("agreement", "--json", "--bootstrap", "0", "--store", url, cwd=project)
    r0 = run_cli("agreement", "--json", "--bootstrap", "0", "--store", "sqlite", cwd=project)
    assert r.returncode == 0 and r.stdout == r0.stdout, r.stderr
    return r0.stdout


def test_copy_sqlite_to_postgres_and_back(project: Path, pg_url, tmp_path: Path):
    _annotate(project)
    before = _export(project, "sqlite")
    assert '"stale":true' in before
    r = run_cli("db", "copy", "--from", "sqlite", "--to", pg_url, cwd=project)
    assert r.returncode == 0, r.stderr
    assert "2 annotator(s)" in r.stderr
    assert _export(project, pg_url) == before
    sqlite_report = _same_agreement_as_sqlite(project, pg_url)
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
    # the agreement too: which layers each unit decided (alice's undone units) came back
    r = run_cli("agreement", "--json", "--bootstrap", "0", "--store", "sqlite",
                "--project", str(back))
    assert r.returncode == 0 and r.stdout == sqlite_report, r.stdout
    r = run_cli("status", "--check", "--store", "sqlite", "--project", str(back))
    assert r.returncode == 0 and "replays to its stored state" in r.stdout, r.stdout
    j = SQLiteStore(back / ".annotator").journal("alice")
    # the undo history came along: redo brings the note back, as it would have
    assert j.redo().state["note"] == "undone below"


def test_copy_rows_exact(project: Path, pg_url):
    """Beyond the export (which rounds seconds): every event, state and label arrives
    as it was, with label codes made in another order per journal and a journal whose
    seqs have a gap (they are renumbered by rank, undo targets with them)."""
    import sqlite3

    store = SQLiteStore(project / ".annotator")
    store.import_documents([Document("d1", None, ["One.", "Two.", "Three."])])
    schema = load_schema(SCHEMA)
    a, b = store.journal("alice", schema), store.journal("bob", schema)
    a.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"},
            seconds=0.1 + 0.2)
    a.apply("d1", 2, {"type": "toggle_label", "layer": "stance", "label": "negative"},
            seconds=1 / 3)
    a.apply("d1", 3, {"type": "set_note", "note": "undone below"})
    a.undo()
    # bob's codes in the other order: his first label is alice's second
    b.apply("d1", 1, {"type": "toggle_label", "layer": "stance", "label": "negative"},
            seconds=2 / 7)
    b.apply("d1", 2, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    store.close()
    alice_db = project / ".annotator" / "journals" / "alice" / "journal.db"
    with sqlite3.connect(alice_db) as conn:  # a gap before alice's undo (seq 4 -> 9)
        conn.execute("UPDATE events SET seq = 9 WHERE seq = 4")
        conn.execute("UPDATE events SET undone_by = 9 WHERE undone_by = 4")

    def source(name: str) -> tuple[list, list, set]:
        db = project / ".annotator" / "journals" / name / "journal.db"
        with sqlite3.connect(db) as conn:
            events = conn.execute("SELECT kind, doc_id, unit, action, after, seconds, "
                                  "undone FROM events ORDER BY seq").fetchall()
            states = conn.execute("SELECT doc_id, unit, state, seconds, updated_at "
                                  "FROM units ORDER BY doc_id, unit").fetchall()
            labels = set(conn.execute("SELECT c.layer, c.label, l.doc_key, l.unit FROM "
                                      "labels l JOIN label_codes c USING (code)"))
        return events, states, labels

    expected = {name: source(name) for name in ("alice", "bob")}
    r = run_cli("db", "copy", "--from", "sqlite", "--to", pg_url, cwd=project)
    assert r.returncode == 0, r.stderr
    pg = PostgresStore(pg_url)
    for name, (events, states, labels) in expected.items():
        got = pg.conn.execute(
            "SELECT e.kind, e.doc_id, e.unit, e.action::text, e.after::text, e.seconds, "
            "coalesce(m.undone, 0), e.seq, m.undone_by FROM annotator.events e LEFT JOIN "
            "annotator.undo_marks m USING (seq) WHERE e.annotator = %s ORDER BY e.seq",
            (name,)).fetchall()
        seqs = [row[7] for row in got]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # renumbered, no gap
        undo = [row for row in got if row[0] == "undo"]
        assert len(undo) == (name == "alice")
        for _, _, _, action, *_ in undo:  # names the renumbered event it undid
            target = next(row for row in got if row[7] == json.loads(action)["event"])
            assert target[6] == 1 and target[8] == seqs[got.index(undo[0])]
        # events as they were (an undo's action renumbered; seconds to the bit; no
        # state after: SQL NULL on PostgreSQL, JSON null on SQLite)
        assert [row[:3] + row[4:7] for row in got] == \
            [(*e[:3], None if e[4] == "null" else e[4], *e[5:]) for e in events]
        assert [json.loads(row[3]) for row in got if row[0] != "undo"] == \
            [json.loads(e[3]) for e in events if e[0] != "undo"]
        assert pg.conn.execute(
            "SELECT doc_id, unit, state::text, seconds, to_char(updated_at AT TIME ZONE "
            "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM annotator.states "
            "WHERE annotator = %s ORDER BY doc_id, unit", (name,)).fetchall() == states
        assert set(pg.conn.execute(
            "SELECT c.layer, c.label, l.doc_key, l.unit FROM annotator.labels l JOIN "
            "annotator.label_codes c USING (code) WHERE l.annotator = %s", (name,))) == labels
        assert pg.journal(name).verify() == []
    pg.close()


def test_copy_postgres_to_postgres(project: Path, pg_url, pg_server):
    """Between two databases: the same export, agreement and undo history."""
    from annotator.store.postgres import init_database

    _annotate(project)
    before = _export(project, "sqlite")
    assert run_cli("db", "copy", "--from", "sqlite", "--to", pg_url, cwd=project
                   ).returncode == 0
    other = pg_server.url(pg_server.new_database(f"t{os.getpid()}_pg2"), user="lead")
    init_database(other)
    r = run_cli("db", "copy", "--from", pg_url, "--to", other, cwd=project)
    assert r.returncode == 0, r.stderr
    assert _export(project, other) == before
    _same_agreement_as_sqlite(project, other)
    pg = PostgresStore(other)
    alice = pg.journal("alice")
    assert alice.verify() == []
    assert [(e["kind"], e["undone"]) for e in alice.events()][:2] == \
        [("undo", False), ("set_note", True)]
    pg.close()


def test_copy_refuses_same_store(project: Path):
    r = run_cli("db", "copy", "--from", "sqlite", "--to", "sqlite", cwd=project)
    assert r.returncode == 2 and "same store" in r.stderr


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch):
    monkeypatch.delenv("ANNOTATOR_STORE", raising=False)
