"""jsonl: round trip of our export through `import --format jsonl`, into the same and
into a fresh project; the import is stored as replayable journal events."""

from __future__ import annotations

import json
from pathlib import Path

from formats_util import SCHEMA, annotated_project, comparable
from util import run_cli

from annotator.corpus import Document
from annotator.store import SQLiteStore


def test_round_trip_into_a_project_with_the_corpus(tmp_path: Path):
    src = annotated_project(tmp_path / "src")
    out = tmp_path / "all.jsonl"
    r = run_cli("export", "--out", str(out), "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 0, r.stderr
    dst = tmp_path / "dst"
    dst.mkdir()
    store = SQLiteStore(dst / ".annotator")
    # the same corpus, imported first: paragraphs nobody annotated are there too
    s = SQLiteStore(src / ".annotator")
    docs = [Document(d.id, d.title, [u.text for u in s.units(d.id) if u.index > 0], d.meta)
            for d in s.iter_documents()]
    store.import_documents(docs)
    store.close()
    r = run_cli("import", "--format", "jsonl", str(out), "--schema", str(SCHEMA), cwd=dst)
    assert r.returncode == 0, r.stderr
    assert "annotations of alice: 3 unit(s) stored" in r.stderr
    a, b = SQLiteStore(src / ".annotator"), SQLiteStore(dst / ".annotator")
    for name in ("alice", "bob"):
        assert comparable(b, name) == comparable(a, name)
        assert b.journal(name).verify() == []
        ev = b.journal(name).events()
        assert {e["kind"] for e in ev} == {"import_state"}
        assert all(e["action"]["source"].startswith(f"{out}:") for e in ev)
    # again: nothing changes, no new events
    r = run_cli("import", "--format", "jsonl", str(out), "--schema", str(SCHEMA), cwd=dst)
    assert r.returncode == 0 and "0 unit(s) stored, 3 already as imported" in r.stderr
    # and the export of the copy is the export of the original, but for times
    out2 = tmp_path / "copy.jsonl"
    assert run_cli("export", "--out", str(out2), "--schema", str(SCHEMA), cwd=dst).returncode == 0

    def strip(p):
        recs = [json.loads(x) for x in p.read_text().splitlines()]
        for rec in recs:
            for ann in rec["annotations"]:
                ann.pop("updated_at")
                ann.pop("seconds")
        return recs
    assert strip(out2) == strip(out)


def test_fresh_project_needs_whole_documents(tmp_path: Path):
    src = annotated_project(tmp_path / "src")
    out = tmp_path / "all.jsonl"
    assert run_cli("export", "--out", str(out), "--schema", str(SCHEMA), cwd=src).returncode == 0
    dst = tmp_path / "dst"
    dst.mkdir()
    r = run_cli("import", "--format", "jsonl", str(out), "--schema", str(SCHEMA), cwd=dst)
    # d1's paragraphs 1-3 are all annotated, d2's only one: both can be created
    assert r.returncode == 0, r.stderr
    assert "document created from its exported paragraphs only" in r.stderr
    # drop paragraph 2 of d1: a gap cannot be filled, nothing is imported
    lines = [x for x in out.read_text().splitlines()
             if (json.loads(x)["doc_id"], json.loads(x)["paragraph"]) != ("d1", 2)]
    gap = tmp_path / "gap.jsonl"
    gap.write_text("\n".join(lines) + "\n")
    dst2 = tmp_path / "dst2"
    dst2.mkdir()
    r = run_cli("import", "--format", "jsonl", str(gap), "--schema", str(SCHEMA), cwd=dst2)
    assert r.returncode == 1
    assert f"{gap}:1:1: document 'd1' is not in this project" in r.stderr
    assert "paragraph(s) 2" in r.stderr
    assert not (dst2 / ".annotator" / "journals" / "alice.db").exists() or \
        SQLiteStore(dst2 / ".annotator").document_count() == 0


def test_hostile_records_are_located_and_nothing_is_imported(tmp_path: Path):
    src = annotated_project(tmp_path / "src")
    out = tmp_path / "all.jsonl"
    assert run_cli("export", "--out", str(out), "--schema", str(SCHEMA), cwd=src).returncode == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    recs[1]["annotations"][0]["spans"][0]["end"] = 10_000  # out of range
    recs[2]["annotations"][0]["labels"]["devices"] = ["no_such_label"]  # unknown label
    recs[3]["annotations"][0]["flag"] = "yes"  # wrong type
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(r) for r in recs) + "\n[1, 2]\n")
    r = run_cli("import", "--format", "jsonl", str(bad), "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 1
    assert f"{bad}:2:1:" in r.stderr and "outside the unit" in r.stderr
    assert f"{bad}:3:1:" in r.stderr and "no label 'no_such_label'" in r.stderr
    assert f"{bad}:4:1:" in r.stderr and "flag must be true or false" in r.stderr
    assert f"{bad}:6:1: expected an export record" in r.stderr
    assert "Traceback" not in r.stderr
    s = SQLiteStore(src / ".annotator")
    assert all(e["kind"] != "import_state" for e in s.journal("alice").events())
