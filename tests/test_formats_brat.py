"""brat: the tutorial and TDT fixtures from ../shared/formats (counts and span texts),
what brat files hold that we cannot carry, and the round trip of our own export."""

from __future__ import annotations

import re
from pathlib import Path

from formats_util import SCHEMA, annotated_project, comparable, fixture
from util import run_cli

from annotator.store import SQLiteStore

NEWS_SCHEMA = """\
id: brat-news
version: 1
title: brat tutorial types
layers:
  - id: entities
    name: Entities
    kind: span
    labels:
      - id: Person
        name: Person
        description: a person
        attributes:
          - {id: Mention, name: Mention, values: [Name, Nominal, Other]}
          - {id: Individual, name: Individual, values: ["true"]}
      - {id: Organization, name: Organization, description: x,
         attributes: [{id: Individual, name: Individual, values: ["true"]}]}
      - {id: GPE, name: GPE, description: x}
      - {id: Money, name: Money, description: x}
      - {id: Transfer-money, name: Transfer money, description: x}
      - {id: Report, name: Report, description: x}
      - {id: Merge-org, name: Merge org, description: x}
    relations:
      - {id: Origin, name: Origin, from: [Organization], to: [GPE]}
      - {id: Family, name: Family, from: [Person], to: [Person]}
"""


def test_tutorial_fixture_counts_texts_and_losses(tmp_path: Path, project: Path):
    src = tmp_path / "brat"
    src.mkdir()
    for name in ("news-000-introduction.txt", "news-000-introduction.ann"):
        (src / name).write_bytes(fixture("brat", name).read_bytes())
    schema = tmp_path / "news.yaml"
    schema.write_text(NEWS_SCHEMA)
    r = run_cli("import", "--format", "brat", str(src), "--as", "ann", "--schema", str(schema),
                cwd=project)
    assert r.returncode == 1
    ann = src / "news-000-introduction.ann"
    for what, line in (("brat event (E)", 4), ("brat normalization (N)", 17),
                       ("note on an annotation other than a paragraph", 10),
                       ("attribute of an event", 16)):
        assert what in r.stderr and f"{ann}:{line}" in r.stderr, (what, r.stderr)
    assert not (project / ".annotator" / "journals" / "ann.db").exists() or \
        SQLiteStore(project / ".annotator").journal("ann").done_count() == 0
    r = run_cli("import", "--format", "brat", str(src), "--as", "ann", "--schema", str(schema),
                "--allow-loss", cwd=project)
    assert r.returncode == 0, r.stderr
    store = SQLiteStore(project / ".annotator")
    j = store.journal("ann")
    spans = [sp for _d, _u, st, _i in j.iter_states() for sp in st["spans"]]
    text = fixture("brat", "news-000-introduction.txt").read_text(encoding="utf-8")
    want = [line.split("\t") for line in ann.read_text().splitlines() if line.startswith("T")]
    assert len(spans) == len(want) == 7
    assert sorted(sp["text"] for sp in spans) == sorted(t for _i, _d, t in want)
    for _i, data, t in want:
        a, b = map(int, data.split()[1:])
        assert text[a:b] == t
    persons = {sp["text"]: sp["attributes"] for sp in spans if sp["label"] == "Person"}
    assert persons["Raul Salinas de Gortari"] == {"Mention": "Name", "Individual": "true"}
    rels = [r for _d, _u, st, _i in j.iter_states() for r in st["relations"]]
    assert sorted(r["label"] for r in rels) == ["Family", "Origin"]
    # a document annotated as a whole: every unit is imported as annotated
    (doc,) = store.iter_documents()
    assert j.done_count() == len(store.units(doc.id)) == 5  # the title and 4 paragraphs
    assert j.verify() == []


def test_tdt_offsets_are_code_points(tmp_path: Path, project: Path):
    ann = fixture("brat", "TDT-wn071.ann")
    txt = fixture("brat", "TDT-wn071.txt")
    src = tmp_path / "b"
    src.mkdir()
    (src / "wn071.txt").write_bytes(txt.read_bytes())
    (src / "wn071.ann").write_bytes(ann.read_bytes())
    lines = ann.read_text(encoding="utf-8").splitlines()
    types = sorted({x.split("\t")[1].split()[0] for x in lines if x.startswith("T")})
    rels = sorted({x.split("\t")[1].split()[0] for x in lines if x.startswith("R")})
    attrs: dict[str, set] = {}
    for x in lines:
        if x.startswith("A"):
            p = x.split("\t")[1].split()
            attrs.setdefault(p[0], set()).add(p[2] if len(p) > 2 else "true")
    labels = "".join(
        f"      - id: '{t}'\n        name: '{t}'\n        description: x\n        attributes:\n"
        + "".join(f"          - {{id: {a}, name: {a}, values: [{', '.join(repr(v) for v in sorted(vs))}]}}\n"
                  for a, vs in sorted(attrs.items()))
        for t in types)
    relations = "".join(f"      - {{id: {r}, name: {r}, from: [{', '.join(repr(t) for t in types)}], "
                        f"to: [{', '.join(repr(t) for t in types)}]}}\n" for r in rels)
    schema = tmp_path / "tdt.yaml"
    schema.write_text("id: tdt\nversion: 1\ntitle: TDT\nlayers:\n  - id: tags\n    name: Tags\n"
                      "    kind: span\n    labels:\n" + labels + "    relations:\n" + relations)
    r = run_cli("import", "--format", "brat", str(src), "--as", "t", "--schema", str(schema),
                "--paragraphs", "blank", "--allow-loss", cwd=project)
    assert r.returncode == 0, r.stderr
    j = SQLiteStore(project / ".annotator").journal("t")
    spans = [sp for _d, _u, st, _i in j.iter_states() for sp in st["spans"]]
    t_lines = [x for x in lines if x.startswith("T")]
    assert len(t_lines) == 74 == len(spans)
    assert sorted(sp["text"] for sp in spans) == sorted(x.split("\t")[2] for x in t_lines)
    assert "Lemma" not in r.stderr or "note on an annotation other than a paragraph" in r.stderr


def test_round_trip_of_our_export(tmp_path: Path):
    src = annotated_project(tmp_path / "p")
    out = tmp_path / "brat"
    r = run_cli("export", "--format", "brat", "--out", str(out), "--annotator", "alice",
                "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 0, r.stderr
    conf = (out / "annotation.conf").read_text()
    assert "attributed_to Arg1:quote, Arg2:source" in conf
    assert "stance Arg:Paragraph, Value:positive|negative|neutral|mixed" in conf
    ann = (out / "d1.ann").read_text()
    assert re.search(r"^T\d+\tParagraph \d+ \d+\tEnvoy summoned$", ann, re.M)
    assert "\tdevices_sovereignty T" in ann and "AnnotatorNotes" in ann
    dst = tmp_path / "q"
    dst.mkdir()
    r = run_cli("import", "--format", "brat", str(out), "--as", "alice", "--schema", str(SCHEMA),
                cwd=dst)
    assert r.returncode == 0, r.stderr
    a, b = SQLiteStore(src / ".annotator"), SQLiteStore(dst / ".annotator")
    assert comparable(b, "alice") == comparable(a, "alice")
    assert [u.text for u in a.units("d1")] == [u.text for u in b.units("d1")]
    # two annotators: one folder each
    out2 = tmp_path / "brat2"
    assert run_cli("export", "--format", "brat", "--out", str(out2), "--schema", str(SCHEMA),
                   cwd=src).returncode == 0
    assert (out2 / "alice" / "d1.ann").exists() and (out2 / "bob" / "d2.ann").exists()


def test_hostile_ann_lines_are_located(tmp_path: Path, project: Path):
    src = tmp_path / "b"
    src.mkdir()
    (src / "doc.txt").write_text("Title\n\nThe minister said it.\n")
    bad = src / "doc.ann"
    bad.write_text("T1\tquote 7 99\tx\n"            # out of range
                   "T2\tquote 11 19\tminister\n"
                   "T3\tnope 11 19\tminister\n"     # unknown label
                   "T4\tquote x y\tminister\n"      # wrong type
                   "T5\tquote 11 19\tsomething\n"   # text does not match
                   "garbage line\n")
    r = run_cli("import", "--format", "brat", str(src), "--schema", str(SCHEMA), "--as", "x",
                cwd=project)
    assert r.returncode == 1
    e = r.stderr
    assert f"{bad}:1:1: offsets [7, 99) outside the text" in e
    assert f"{bad}:3:1: type 'nope': no label 'nope'" in e
    assert f"{bad}:4:1: offsets must be START END pairs" in e
    assert f"{bad}:5:1: the span's text 'something' is not the text's 'minister'" in e
    assert f"{bad}:6:1: not a brat annotation line" in e
    assert SQLiteStore(project / ".annotator").document_count() == 0
