"""A unit's index rows after each action are exactly those of its stored state.

`SQLiteJournal.apply` writes only the rows an action changes (a label toggle: its
event, the unit's row, one label row); these tests hold it to what a full rewrite of
the unit would give, after every action of a long random mix, undo and redo among
them, and that a toggle writes fewer pages than the rewrite did."""

from __future__ import annotations

import random
from pathlib import Path

from annotator.corpus import Document
from annotator.store.sqlite import SQLiteStore, _label_pairs

TEXT = "He said \u201cno\u201d to the plan, and she said yes."
DOCS = [Document("d1", "Title", [TEXT, "Second paragraph here."])]


def _rows(j, unit: int) -> tuple:
    """What the index tables hold for ("d1", unit)."""
    conn = j.conn
    unit_row = conn.execute("SELECT status, n_spans, doc_key FROM units "
                            "WHERE doc_id = 'd1' AND unit = ?", (unit,)).fetchone()
    labels = set(conn.execute("SELECT c.layer, c.label FROM labels l JOIN label_codes c "
                              "USING (code) WHERE l.unit = ?", (unit,)).fetchall())
    partial = conn.execute("SELECT count(*) FROM partial_units WHERE unit = ?",
                           (unit,)).fetchone()[0]
    decided = {r[0] for r in conn.execute("SELECT layer FROM decided_layers WHERE unit = ?",
                                          (unit,))}
    done = set(conn.execute("SELECT status, n_spans, unit FROM units INDEXED BY units_done "
                            "WHERE status IS NOT NULL AND unit = ?", (unit,)).fetchall())
    return unit_row, labels, partial, decided, done


def _expected(j, unit: int) -> tuple:
    state = j.state("d1", unit)
    if state is None:
        return None, set(), 0, set(), set()
    n = len(state.get("spans", []))
    status = state.get("status")
    return ((status, n, 1), _label_pairs(state), int("decided" in state),
            set(state.get("decided", ())), {(status, n, unit)} if status else set())


def test_rows_follow_the_state_through_a_random_mix(tmp_path: Path):
    store = SQLiteStore(tmp_path / ".annotator")
    store.import_documents(DOCS)
    j = store.journal("alice")
    rnd = random.Random(7)
    actions = [
        lambda: {"type": "toggle_label", "layer": "devices",
                 "label": rnd.choice(["sovereignty", "solidarity", "threat"])},
        lambda: {"type": "toggle_label", "layer": "stance", "label": rnd.choice("ab"),
                 "single": True},
        lambda: {"type": "mark_done"},
        lambda: {"type": "set_skipped", "skipped": rnd.random() < 0.5},
        lambda: {"type": "set_flag", "flag": rnd.random() < 0.5},
        lambda: {"type": "set_note", "note": rnd.choice(["", "check"])},
        lambda: {"type": "add_span", "layer": "quotes", "label": "quote",
                 "start": 8, "end": 12},
    ]
    for step in range(400):
        unit = rnd.choice([1, 2])
        roll = rnd.random()
        if roll < 0.1:
            change = j.undo()
            unit = change.unit if change else unit
        elif roll < 0.15:
            change = j.redo()
            unit = change.unit if change else unit
        else:
            j.apply("d1", unit, rnd.choice(actions)())
        for u in (1, 2):
            assert _rows(j, u) == _expected(j, u), f"step {step}, unit {u}"
    assert j.verify() == []
    j.close()


def _wal_pages(j, action: dict) -> int:
    """Pages one action adds to the journal's WAL."""
    before = j.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert before[0] == 0
    j.apply("d1", 1, action)
    return j.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_a_toggle_writes_only_what_it_changes(tmp_path: Path):
    store = SQLiteStore(tmp_path / ".annotator")
    store.import_documents(DOCS)
    j = store.journal("alice")
    j.claim()  # WAL, as in a session
    toggle = {"type": "toggle_label", "layer": "devices", "label": "sovereignty"}
    j.apply("d1", 1, toggle)  # the unit's first action writes all its rows
    # off, on, off: the event and its undo index entry, the unit's row, one label row
    # and its labels_unit entry (a full rewrite of the unit also wrote units_done,
    # partial_units and decided_layers again: 9 pages)
    assert [_wal_pages(j, toggle) for _ in range(3)] == [5, 5, 5]
    j.close()
