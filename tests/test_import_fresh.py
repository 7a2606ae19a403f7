"""An import into a journal with no events yet (`SQLiteJournal.import_fresh`, the
set-wise write) stores exactly what the general path (`apply_many` of `import_state`
actions, one unit at a time) stores: the same events, states, derived tables, export,
status and agreement, from the same input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from formats_util import SCHEMA, annotated_project
from test_formats_semeval import PERSUASION, semeval_dir
from util import run_cli

from annotator.errors import InputError
from annotator.formats import import_files
from annotator.schema import load_schema
from annotator.store import SQLiteStore
from annotator.store.sqlite import SQLiteJournal


def _import(root: Path, fmt: str, paths: list[Path], schema: Path, annotator: str | None,
            per_unit: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    root.mkdir()
    with monkeypatch.context() as m:
        if per_unit:  # the general path, as for a journal that already has events
            m.setattr(SQLiteJournal, "import_fresh", lambda self, *a, **k: None)
        else:
            calls: list[str] = []
            real = SQLiteJournal.import_fresh

            def counted(self, *a, **k):
                calls.append(self.annotator)
                return real(self, *a, **k)
            m.setattr(SQLiteJournal, "import_fresh", counted)
        store = SQLiteStore(root / ".annotator")
        try:
            result = import_files(store, load_schema(schema), fmt, paths, root,
                                  annotator=annotator, allow_loss=True)
        finally:
            store.close()
    if not per_unit:
        assert sorted(calls) == sorted(result.annotations)  # the set-wise path ran
    return result.annotations


def _journal_rows(root: Path, name: str) -> dict:
    """Every row of the journal, timestamps apart (each run has its own)."""
    conn = sqlite3.connect(root / ".annotator" / "journals" / name / "journal.db")
    try:
        events = conn.execute("SELECT seq, doc_id, unit, kind, action, before, after, seconds, "
                              "undone, undone_by FROM events ORDER BY seq").fetchall()
        units = conn.execute("SELECT doc_id, unit, doc_key, status, state, unit_sha, seconds, "
                             "n_spans FROM units ORDER BY doc_id, unit").fetchall()
        # the same timestamp on a state as on the event that made it
        stamps = conn.execute("SELECT count(*) FROM units u WHERE updated_at != (SELECT ts "
                              "FROM events e WHERE e.doc_id = u.doc_id AND e.unit = u.unit "
                              "ORDER BY seq DESC LIMIT 1)").fetchone()[0]
        return {"events": events, "units": units, "stale stamps": stamps,
                "label_codes": conn.execute("SELECT * FROM label_codes ORDER BY code").fetchall(),
                "labels": conn.execute("SELECT * FROM labels ORDER BY 1, 2, 3").fetchall(),
                "partial": conn.execute("SELECT * FROM partial_units ORDER BY 1, 2").fetchall(),
                "decided": conn.execute("SELECT * FROM decided_layers ORDER BY 1, 2, 3"
                                        ).fetchall()}
    finally:
        conn.close()


def _seen(root: Path, schema: Path, names: list[str]) -> dict:
    """What the commands show of the project: the export (timestamps apart), status,
    agreement, and the journals' own check."""
    out: dict = {}
    r = run_cli("export", "--schema", str(schema), "--project", str(root))
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    for rec in records:
        for ann in rec.get("annotations", []):
            ann.pop("updated_at", None)
    out["export"] = records
    out["events"] = []
    store = SQLiteStore(root / ".annotator")
    try:
        for name in names:
            j = store.journal(name)
            assert j.verify() == []
            out["events"].append([{k: v for k, v in e.items() if k != "ts"}
                                  for e in j.events()])
            out[f"done {name}"] = (j.done_count(), j.done_count(titles=False))
    finally:
        store.close()
    r = run_cli("status", "--schema", str(schema), "--project", str(root))
    assert r.returncode == 0, r.stderr
    out["status"] = r.stdout
    if len(names) > 1:
        r = run_cli("agreement", "--json", "--bootstrap", "0", "--schema", str(schema),
                    "--project", str(root))
        assert r.returncode == 0, r.stderr
        out["agreement"] = json.loads(r.stdout)
    return out


def _same_both_ways(tmp_path: Path, fmt: str, paths: list[Path], schema: Path,
                    annotator: str | None, monkeypatch: pytest.MonkeyPatch) -> dict:
    fresh, general = tmp_path / "fresh", tmp_path / "general"
    stored = _import(fresh, fmt, paths, schema, annotator, False, monkeypatch)
    assert stored == _import(general, fmt, paths, schema, annotator, True, monkeypatch)
    assert stored and all(stored.values())
    for name in stored:
        rows = _journal_rows(fresh, name)
        assert rows == _journal_rows(general, name)
        assert rows["stale stamps"] == 0 and rows["events"]
    seen = _seen(fresh, schema, sorted(stored))
    assert seen == _seen(general, schema, sorted(stored))
    return seen


def test_semeval_set_wise_import_stores_what_the_per_unit_path_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = semeval_dir(tmp_path / "src")
    seen = _same_both_ways(tmp_path, "semeval2023-t3", [data], PERSUASION, "semeval",
                           monkeypatch)
    assert len(seen["events"][0]) == 7  # a row for each labelled paragraph
    assert {e["kind"] for e in seen["events"][0]} == {"import_state"}
    assert all(e["action"]["source"].endswith(tuple(f":{n}" for n in range(1, 8)))
               for e in seen["events"][0])


def test_two_annotators_with_spans_relations_decided_layers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # alice and bob: labels of two layers (one toggled without enter: decided layers),
    # spans with attributes, a relation, a note, a flag, an emoji before a span
    src = annotated_project(tmp_path / "src")
    export = tmp_path / "all.jsonl"
    r = run_cli("export", "--format", "jsonl", "--out", str(export), "--schema", str(SCHEMA),
                "--project", str(src))
    assert r.returncode == 0, r.stderr
    seen = _same_both_ways(tmp_path, "jsonl", [export], SCHEMA, None, monkeypatch)
    assert "agreement" in seen
    rows = _journal_rows(tmp_path / "fresh", "alice")
    assert rows["decided"] and rows["partial"]  # the decided layers were written
    assert any('"spans":[{' in u[4] for u in rows["units"])


def test_a_missing_unit_stores_nothing(tmp_path: Path):
    store = SQLiteStore(tmp_path / ".annotator")
    from annotator.corpus import Document

    store.import_documents([Document("d1", "T", ["one", "two"])])
    j = store.journal("x", load_schema(PERSUASION))
    state = ('{"status":"done","labels":{"techniques":["Doubt"]},"spans":[],'
             '"relations":[],"note":null,"flag":false}')
    with pytest.raises(InputError, match="no unit 7 in document 'd1'"):
        j.import_fresh([("d1", 1, state, "f:1"), ("d1", 7, state, "f:2")])
    with pytest.raises(InputError, match="no unit 0 in document 'd9'"):
        j.import_fresh([("d1", 1, state, "f:1"), ("d9", 0, state, "f:2")])
    with pytest.raises(InputError, match="given twice"):
        j.import_fresh([("d1", 1, state, "f:1"), ("d1", 1, state, "f:2")])
    assert j.events() == [] and j.state("d1", 1) is None
    assert j.import_fresh([("d1", 1, state, "f:1")]) == 1
    assert j.state("d1", 1)["labels"] == {"techniques": ["Doubt"]}
    # no longer empty: the caller is sent to the general path, nothing written
    assert j.import_fresh([("d1", 2, state, "f:2")]) is None
    assert j.state("d1", 2) is None and len(j.events()) == 1
    store.close()
