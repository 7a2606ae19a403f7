"""The store: events, derived state, undo/redo across restarts, durability."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from annotator.corpus import Document
from annotator.errors import InputError
from annotator.store import SQLiteStore

DOCS = [Document("d1", "Title", ["He said \u201cno\u201d.", "Second."]),
        Document("d2", None, ["Only body."])]


@pytest.fixture
def store(store_backend) -> SQLiteStore:
    """The store of each backend (SQLite; PostgreSQL, connected as the lead)."""
    s = store_backend()
    s.import_documents(DOCS)
    return s


@pytest.fixture
def sqlite_store(project: Path) -> SQLiteStore:
    s = SQLiteStore(project / ".annotator")
    s.import_documents(DOCS)
    return s


def test_documents_and_units(store: SQLiteStore):
    assert store.document_count() == 2 and store.unit_count() == 4
    d1, d2 = store.document_at(0), store.document_at(1)
    assert (d1.id, d1.first_unit, d1.last_unit) == ("d1", 0, 2)
    assert (d2.id, d2.first_unit, d2.last_unit) == ("d2", 1, 1)
    assert store.document_at(2) is None
    assert store.unit("d1", 1).text == "He said \u201cno\u201d."
    assert store.unit("d2", 0) is None


def test_events_and_state_in_one_transaction(store: SQLiteStore):
    j = store.journal("alice")
    j.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"},
            seconds=2.5)
    j.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "solidarity"})
    j.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    assert j.state("d1", 1)["labels"]["devices"] == ["solidarity"]
    assert [e["kind"] for e in j.events()] == ["toggle_label"] * 3
    # the labels table (agreement fast path) follows the state
    rows = j.conn.execute("SELECT c.layer, c.label FROM labels l "
                          "JOIN label_codes c USING (code)").fetchall()
    assert rows == [("devices", "solidarity")]
    assert j.info("d1", 1)["seconds"] == 2.5


def test_undo_redo_survive_restart(store: SQLiteStore, store_backend):
    j = store.journal("alice")
    j.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "a"})
    j.apply("d1", 2, {"type": "toggle_label", "layer": "devices", "label": "b"})
    store.close()
    store2 = store_backend()
    j2 = store2.journal("alice")
    ch = j2.undo()
    assert (ch.doc_id, ch.unit) == ("d1", 2) and j2.state("d1", 2) is None
    store2.close()
    j3 = store_backend().journal("alice")
    ch = j3.redo()
    assert (ch.doc_id, ch.unit) == ("d1", 2)
    assert j3.state("d1", 2)["labels"]["devices"] == ["b"]
    assert j3.redo() is None
    j3.undo()
    j3.undo()
    assert j3.state("d1", 1) is None
    assert j3.undo() is None
    # a new action clears the redo stack
    j3.apply("d2", 1, {"type": "mark_done"})
    assert j3.redo() is None


def test_single_layer_select_and_clear(store: SQLiteStore):
    from annotator.schema import Label, LabelSchema, Layer

    schema = LabelSchema("s", 1, "t", (Layer("stance", "Stance", "single",
                                             (Label("pos", "P"), Label("neg", "N"))),))
    j = store.journal("bob", schema)
    j.apply("d1", 1, {"type": "toggle_label", "layer": "stance", "label": "pos"})
    j.apply("d1", 1, {"type": "toggle_label", "layer": "stance", "label": "neg"})
    assert j.state("d1", 1)["labels"]["stance"] == "neg"
    j.apply("d1", 1, {"type": "toggle_label", "layer": "stance", "label": "neg"})
    assert j.state("d1", 1)["labels"]["stance"] is None
    assert j.state("d1", 1)["status"] == "done"


def test_spans_relations_attributes(store: SQLiteStore):
    j = store.journal("alice")
    text = store.unit("d1", 1).text
    q = text.index("\u201c")
    j.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "quote",
                      "start": q, "end": q + 4})
    j.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "source",
                      "start": 0, "end": 2})
    j.apply("d1", 1, {"type": "add_relation", "label": "attributed_to", "from": "s1",
                      "to": "s2"})
    j.apply("d1", 1, {"type": "set_attribute", "span": "s1", "attribute": "type",
                      "value": "direct"})
    st = j.state("d1", 1)
    assert st["spans"][0]["text"] == "\u201cno\u201d"
    assert st["spans"][0]["attributes"] == {"type": "direct"}
    assert st["relations"] == [{"label": "attributed_to", "from": "s1", "to": "s2"}]
    j.apply("d1", 1, {"type": "delete_span", "span": "s2"})
    assert j.state("d1", 1)["relations"] == []
    with pytest.raises(ValueError):
        j.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "quote",
                          "start": 5, "end": 500})


def test_blind_journals_are_separate_files(sqlite_store: SQLiteStore, project: Path):
    store = sqlite_store
    store.journal("alice").apply("d1", 1, {"type": "mark_done"})
    store.journal("bob")
    assert store.annotators() == ["alice", "bob"]
    assert (project / ".annotator" / "journals" / "alice" / "journal.db").exists()
    assert store.journal("bob").state("d1", 1) is None


@pytest.mark.parametrize("name", ["../x", "", "a b", "x" * 65, ".hidden", "eve\n"])
def test_bad_annotator_names(store: SQLiteStore, name: str):
    with pytest.raises(InputError):
        store.journal(name)


def test_position_and_first_not_done(store: SQLiteStore):
    j = store.journal("alice")
    assert j.position() is None
    assert j.first_not_done() == ("d1", 0)
    j.apply("d1", 0, {"type": "mark_done"})
    assert j.first_not_done() == ("d1", 1)
    j.set_position("d2", 1)
    assert j.position() == ("d2", 1)


def test_committed_action_visible_to_another_connection(sqlite_store: SQLiteStore,
                                                        project: Path):
    """Durability seen from outside: a second connection (as after a crash) reads it."""
    j = sqlite_store.journal("alice")
    j.apply("d1", 2, {"type": "set_flag", "flag": True})
    conn = sqlite3.connect(project / ".annotator" / "journals" / "alice" / "journal.db")
    (state,) = conn.execute("SELECT state FROM units WHERE doc_id='d1' AND unit=2").fetchone()
    assert '"flag": true' in state
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_search_wraps(store: SQLiteStore):
    assert store.search("second") == ("d1", 2)
    assert store.search("body", after=(1, 2)) == ("d2", 1)
    assert store.search("title", after=(2, 1)) == ("d1", 0)
    assert store.search("nothing like this") is None


def test_search_folds_non_ascii_case(store_backend):
    s = store_backend()
    s.import_documents([Document("de", None, ["Ärger über Sanktionen in Österreich."])])
    for query in ("Ärger", "ärger", "ÖSTERREICH", "über"):
        assert s.search(query) == ("de", 1), query


def test_assignment_reads_on_each_backend(store: SQLiteStore):
    """The assignment reads (one SQL, shared by both stores): rows, an annotator's
    documents, their units, their titles, and search inside them."""
    assert store.assignments() == [] and store.assigned_documents("alice") is None
    added = store.add_assignments(lambda keys, existing: [(keys[1], "alice", False),
                                                          (keys[0], "bob", True)])
    assert added == 2
    assert store.assignments() == [(1, "bob", True), (2, "alice", False)]
    assert store.assigned_documents("alice") == [2]
    assert store.assigned_documents("carol") == []
    assert store.assigned_unit_count("alice") == 1 and store.assigned_unit_count("bob") == 3
    # d1 has a title, d2 none: `titles: false` takes one unit off bob's total only
    assert store.title_count() == 1
    assert (store.title_count("alice"), store.title_count("bob")) == (0, 1)
    assert store.search("only", assigned_to="alice") == ("d2", 1)
    assert store.search("second", assigned_to="alice") is None
    assert store.search("second", after=(2, 1), assigned_to="bob") == ("d1", 2)
