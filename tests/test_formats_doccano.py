"""doccano: the fixtures from ../shared/formats, per-user files, UTF-16 offsets with an
emoji before a span, the empty-list ambiguity, and the round trip of our export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from formats_util import SCHEMA, annotated_project, comparable, fixture
from util import run_cli

from annotator.store import SQLiteStore

DOCCANO_SCHEMA = """\
id: doccano-test
version: 1
title: doccano fixtures
layers:
  - id: sentiment
    name: Sentiment
    kind: multi
    labels:
      - {id: positive, name: positive, description: x}
      - {id: negative, name: negative, description: x}
  - id: entities
    name: Entities
    kind: span
    labels:
""" + "".join(f"      - {{id: {x}, name: {x}, description: x}}\n"
              for x in ("ORG", "MISC", "PERSON", "DATE", "LOC", "PER")) + """\
    relations:
      - {id: foundedAt, name: founded at, from: [ORG], to: [DATE]}
      - {id: foundedBy, name: founded by, from: [ORG], to: [PERSON]}
"""


def _schema(tmp: Path) -> Path:
    p = tmp / "doccano.yaml"
    p.write_text(DOCCANO_SCHEMA)
    return p


def test_fixtures(tmp_path: Path, project: Path):
    schema = _schema(tmp_path)
    d = tmp_path / "in"
    d.mkdir()
    for name, user in (("export-sequence_labeling.jsonl", "seq"),
                       ("export-text_classification.jsonl", "cls"),
                       ("import-relation_extraction.jsonl", "rel")):
        shutil.copy(fixture("doccano", name), d / f"{user}.jsonl")
    r = run_cli("import", "--format", "doccano", str(d), "--offsets", "codepoints",
                "--schema", str(schema), cwd=project)
    assert r.returncode == 0, r.stderr
    store = SQLiteStore(project / ".annotator")
    seq = [st for _d, _u, st, _i in store.journal("seq").iter_states()]
    assert [[(s["start"], s["end"], s["label"], s["text"]) for s in st["spans"]] for st in seq] \
        == [[(0, 2, "ORG", "EU"), (11, 17, "MISC", "German")],
            [(0, 15, "PERSON", "Peter Blackburn")], [(10, 15, "PERSON", "Obama")]]
    cls = sorted(st["labels"]["sentiment"][0] for _d, _u, st, _i in
                 store.journal("cls").iter_states())
    assert cls == ["negative", "positive", "positive"]
    (rel,) = [st for _d, _u, st, _i in store.journal("rel").iter_states()]
    assert [s["text"] for s in rel["spans"]] == ["Google", "September 4, 1998", "Larry Page",
                                                 "Sergey Brin"]
    assert sorted(r["label"] for r in rel["relations"]) == ["foundedAt", "foundedBy",
                                                            "foundedBy"]
    assert store.document_count() == 7  # one document per distinct text


def test_located_errors_and_the_empty_list(tmp_path: Path, project: Path):
    schema = _schema(tmp_path)
    f = tmp_path / "u.jsonl"
    shutil.copy(fixture("doccano", "test-import-sequence_labeling.jsonl"), f)
    r = run_cli("import", "--format", "doccano", str(f), "--schema", str(schema), cwd=project)
    assert r.returncode == 1
    assert f"{f}:3:1: the record has no 'text' string" in r.stderr
    f.write_text('{"text": "exampleB", "label": []}\n'
                 '{"text": "A \\ud83d\\ude00 b", "label": [[2, 3, "LOC"]]}\n'
                 '{"text": "abc", "label": [[0, 9, "LOC"]]}\n'
                 '{"text": "abc", "label": [[0, 1, "NOPE"]]}\n'
                 '{"text": "abc", "label": "LOC"}\n')
    r = run_cli("import", "--format", "doccano", str(f), "--schema", str(schema), cwd=project)
    assert r.returncode == 1
    assert f"{f}:2:1: UTF-16 offset 3 falls inside a surrogate pair" in r.stderr
    assert f"{f}:3:1: UTF-16 offset 9 is outside the text (3 code units)" in r.stderr
    assert f"{f}:4:1: no label 'NOPE'" in r.stderr
    assert f"{f}:5:1: 'label' must be a list" in r.stderr
    f.write_text('{"text": "exampleB", "label": []}\n'
                 '{"text": "A \\ud83d\\ude00 b", "label": [[5, 6, "LOC"]]}\n')
    r = run_cli("import", "--format", "doccano", str(f), "--schema", str(schema), cwd=project)
    assert r.returncode == 1 and "empty label list" in r.stderr and f"{f}:1" in r.stderr
    r = run_cli("import", "--format", "doccano", str(f), "--schema", str(schema),
                "--allow-loss", cwd=project)
    assert r.returncode == 0, r.stderr
    (st,) = [st for _d, _u, st, _i in SQLiteStore(project / ".annotator").journal("u")
             .iter_states()]
    assert st["spans"][0]["text"] == "b" and st["spans"][0]["start"] == 4  # UTF-16 5 -> 4


def test_round_trip_per_user_files_and_utf16(tmp_path: Path):
    src = annotated_project(tmp_path / "p")
    out = tmp_path / "dcc"
    r = run_cli("export", "--format", "doccano", "--out", str(out), "--allow-loss",
                "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 0, r.stderr
    assert "span attribute (doccano has none)" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["alice.jsonl", "bob.jsonl"]
    recs = [json.loads(x) for x in (out / "alice.jsonl").read_text().splitlines()]
    emoji = next(r for r in recs if r["paragraph"] == 2 and r["doc_id"] == "d1")
    assert emoji["entities"][0]["start_offset"] == 3  # the emoji is 2 UTF-16 units
    zipped = tmp_path / "dcc.zip"
    assert run_cli("export", "--format", "doccano", "--out", str(zipped), "--allow-loss",
                   "--schema", str(SCHEMA), cwd=src).returncode == 0
    for given in (out, zipped):
        dst = tmp_path / f"q-{given.name}"
        dst.mkdir()
        r = run_cli("import", "--format", "doccano", str(given), "--schema", str(SCHEMA),
                    cwd=dst)
        assert r.returncode == 0, r.stderr
        a, b = SQLiteStore(src / ".annotator"), SQLiteStore(dst / ".annotator")
        for name in ("alice", "bob"):
            want = comparable(a, name)
            for st in want.values():  # attributes are what doccano cannot carry
                st["spans"] = [(*s[:5], ()) for s in st["spans"]]
            assert comparable(b, name) == want
        assert [u.text for u in a.units("d1")] == [u.text for u in b.units("d1")]
