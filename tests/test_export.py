"""Export: record shape, only done units, validation, pandas, stale and orphaned data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from util import REPO, run_cli

from annotator.corpus import Document
from annotator.export import iter_records
from annotator.schema import load_schema
from annotator.store import SQLiteStore

SCHEMA = REPO / "schemas" / "framing-devices.yaml"


def _store(project: Path):
    """The project's store: SQLite, or the PostgreSQL one $ANNOTATOR_STORE names."""
    from annotator.project import Project

    return Project(project).store


@pytest.fixture
def annotated(project: Path, store_backend) -> Path:
    """A project where alice and bob annotated some units of two documents (in each
    store backend; the CLI finds it by $ANNOTATOR_STORE)."""
    store = _store(project)
    store.import_documents([
        Document("d1", "Envoy summoned", [
            "The minister said \u201cwe will never accept this\u201d, the agency reported.",
            "Certain countries continue their blockade.",
            "See More"], {"source": "TDI", "language": "en"}),
        Document("d2", None, ["Sanctions are economic warfare, he said."]),
    ])
    schema = load_schema(SCHEMA)
    a = store.journal("alice", schema)
    b = store.journal("bob", schema)
    text = store.unit("d1", 1).text
    q0 = text.index("\u201c")
    q1 = text.index("\u201d") + 1
    a.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    a.apply("d1", 1, {"type": "toggle_label", "layer": "stance", "label": "negative"})
    a.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": q0,
                      "end": q1, "attributes": {"type": "direct"}})
    a.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "source", "start": 4,
                      "end": 12})
    a.apply("d1", 1, {"type": "add_relation", "label": "attributed_to", "from": "s1",
                      "to": "s2"})
    a.apply("d1", 2, {"type": "toggle_label", "layer": "devices", "label": "certain_countries"})
    a.apply("d1", 3, {"type": "set_note", "note": "only a note, not done"})
    b.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    b.apply("d1", 2, {"type": "mark_done"})
    b.apply("d2", 1, {"type": "toggle_label", "layer": "devices",
                      "label": "sanctions_aggression"})
    store.close()
    return project


def _export(project: Path, *extra: str) -> list[dict]:
    out = project / "out.jsonl"
    r = run_cli("export", "--out", str(out), "--schema", str(SCHEMA), *extra, cwd=project)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_export_records(annotated: Path):
    recs = _export(annotated)
    assert [(r["doc_id"], r["paragraph"]) for r in recs] == [("d1", 1), ("d1", 2), ("d2", 1)]
    r = recs[0]
    assert r["title"] == "Envoy summoned" and r["meta"]["source"] == "TDI"
    assert r["schema"]["id"] == "framing-devices" and len(r["schema"]["sha256"]) == 64
    alice = next(a for a in r["annotations"] if a["annotator"] == "alice")
    assert alice["status"] == "done"
    assert alice["labels"] == {"devices": ["sovereignty"], "stance": "negative"}
    assert alice["spans"][0]["text"] == "\u201cwe will never accept this\u201d"
    assert alice["spans"][0]["attributes"] == {"type": "direct"}
    assert alice["relations"] == [{"label": "attributed_to", "from": "s1", "to": "s2"}]
    assert alice["updated_at"].endswith("Z")
    bob = next(a for a in recs[1]["annotations"] if a["annotator"] == "bob")
    # every paragraph layer is present: [] for multi, null for single
    assert bob["labels"] == {"devices": [], "stance": None}
    assert r["agreement"]["annotators"] == 2
    # unit d1:3 has only a note (not done): absent, never an empty "no labels"
    assert ("d1", 3) not in {(x["doc_id"], x["paragraph"]) for x in recs}


def test_export_validates_and_loads_in_pandas(annotated: Path):
    pd = pytest.importorskip("pandas")
    out = annotated / "out.jsonl"
    _export(annotated)
    r = run_cli("validate", str(out), "--schema", str(SCHEMA), cwd=annotated)
    assert r.returncode == 0, r.stdout + r.stderr
    df = pd.read_json(out, lines=True)
    assert len(df) == 3
    assert set(df.columns) >= {"doc_id", "paragraph", "text", "annotations", "agreement"}
    exploded = df.explode("annotations")
    labels = pd.json_normalize(exploded["annotations"].tolist())
    assert "labels.devices" in labels.columns


def test_export_to_stdout_and_default_file(annotated: Path):
    r = run_cli("export", "--schema", str(SCHEMA), "--out", "-", cwd=annotated)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3
    r = run_cli("export", "--schema", str(SCHEMA), cwd=annotated)  # stdout not a tty
    assert len(r.stdout.splitlines()) == 3


def test_validate_catches_tampered_export(annotated: Path):
    recs = _export(annotated)
    bad = annotated / "bad.jsonl"
    recs[0]["annotations"][0]["spans"][0]["start"] += 1
    recs[1]["annotations"][0]["labels"]["devices"] = ["no_such_label"]
    del recs[2]["doc_id"]
    bad.write_text("\n".join(json.dumps(r) for r in recs) + "\n{oops\n", encoding="utf-8")
    r = run_cli("validate", str(bad), "--schema", str(SCHEMA), cwd=annotated)
    assert r.returncode == 1
    out = r.stdout
    assert f"{bad}:1:1:" in out and "but the span's text is" in out
    assert f"{bad}:2:1:" in out and "no_such_label" in out
    assert f"{bad}:3:1:" in out and "'doc_id' is a required property" in out
    assert f"{bad}:4:" in out and "invalid JSON" in out


def test_validate_finds_schema_by_id_in_project(annotated: Path):
    (annotated / "schemas").mkdir()
    (annotated / "schemas" / "fd.yaml").write_bytes(SCHEMA.read_bytes())
    _export(annotated)
    r = run_cli("validate", "out.jsonl", cwd=annotated)
    assert r.returncode == 0, r.stdout


def test_stale_and_orphaned_annotations_are_kept(annotated: Path):
    store = _store(annotated)
    store.import_documents([Document("d1", "Envoy summoned", [
        "The minister said \u201cwe will NEVER accept this\u201d, the agency reported.",
        "Certain countries continue their blockade.", "See More"],
        {"source": "TDI", "language": "en"})])
    # a label the schema does not know (e.g. removed in a later schema version)
    store.journal("carol").apply("d2", 1, {"type": "toggle_label", "layer": "old_layer",
                                           "label": "gone"})
    store.close()
    recs = _export(annotated)
    alice = next(a for a in recs[0]["annotations"] if a["annotator"] == "alice")
    assert alice["stale"] is True
    assert alice["original_text"].startswith("The minister said \u201cwe will never")
    carol = next(a for r in recs for a in r["annotations"] if a["annotator"] == "carol")
    assert carol["labels"]["old_layer"] == ["gone"]
    r = run_cli("status", "--schema", str(SCHEMA), cwd=annotated)
    assert r.returncode == 0
    assert "d1 unit 1 (alice): the paragraph's text changed" in r.stdout
    assert "d2 unit 1 (carol): layer 'old_layer' is not in the schema" in r.stdout


def test_export_streams_in_document_order(annotated: Path):
    store = _store(annotated)
    recs = iter_records(store, load_schema(SCHEMA))
    first = next(recs)
    assert (first["doc_id"], first["paragraph"]) == ("d1", 1)


def test_empty_export(project: Path):
    SQLiteStore(project / ".annotator").close()
    out = project / "e.jsonl"
    r = run_cli("export", "--out", str(out), cwd=project)
    assert r.returncode == 0 and out.read_text() == ""
    assert run_cli("validate", str(out), cwd=project).returncode == 0


def test_export_bytes_carry_no_terminal_controls(project: Path):
    """A note stored before notes were cleaned (or written through the core) holds C1,
    bidi and separator characters: the export escapes them as \\uXXXX, same JSON."""
    store = SQLiteStore(project / ".annotator")
    store.import_documents([Document("d", None, ["Body."])])
    j = store.journal("alice")
    note = "a\x85b\x9b31m\u202eevil\u2028c\x7f"
    j.apply("d", 1, {"type": "set_note", "note": note})
    j.apply("d", 1, {"type": "mark_done"})
    store.close()
    r = run_cli("export", "--out", "-", cwd=project)
    assert r.returncode == 0
    raw = r.stdout
    for ch in "\x85\x9b\u202e\u2028\x7f":
        assert ch not in raw
    assert json.loads(raw)["annotations"][0]["note"] == note


def test_messages_make_controls_visible():
    from annotator.errors import InputError

    text = str(InputError("bad key '\x1b]0;pwned\x07'", "f\x9bx.yaml"))
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "pwned" in text and "f" in text


def test_export_says_which_proposals_were_rejected(project: Path):
    """A quote and a speaker the tool proposed and the annotator turned down are in the
    record (`rejected_proposals`), and the record still validates."""
    store = SQLiteStore(project / ".annotator")
    store.import_documents([Document("d1", None, [
        "“We refuse,” Foreign Minister Elena Rusk told reporters. He said “no” again."])])
    schema = load_schema(SCHEMA)
    a = store.journal("alice", schema)
    a.apply("d1", 1, {"type": "mark_done"})
    a.apply("d1", 1, {"type": "reject_proposal", "start": 64, "end": 68})
    a.apply("d1", 1, {"type": "reject_proposal", "kind": "source", "start": 12, "end": 39})
    store.close()
    (rec,) = _export(project)
    (ann,) = rec["annotations"]
    assert ann["rejected_proposals"] == {"quotes": [[64, 68]], "sources": [[12, 39]]}
    r = run_cli("validate", str(project / "out.jsonl"), "--schema", str(SCHEMA), cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
