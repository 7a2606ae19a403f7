"""Prodigy: the fixtures from ../shared/formats (counts, span texts, answers as what
they are), hostile tasks, and the round trip of our export."""

from __future__ import annotations

import json
from pathlib import Path

from formats_util import SCHEMA, annotated_project, comparable, fixture
from util import run_cli

from annotator.store import SQLiteStore


def _schema(tmp: Path, paragraph: list[str], spans: list[str], relations: list[str]) -> Path:
    def labels(ids):
        return "".join(f"      - {{id: '{x}', name: '{x}', description: x}}\n" for x in ids)
    text = "id: p\nversion: 1\ntitle: p\nlayers:\n"
    if paragraph:
        text += "  - id: cats\n    name: Cats\n    kind: multi\n    labels:\n" + labels(paragraph)
    if spans:
        text += "  - id: ents\n    name: Ents\n    kind: span\n    labels:\n" + labels(spans)
        if relations:
            ids = ", ".join(f"'{x}'" for x in spans)
            text += "    relations:\n" + "".join(
                f"      - {{id: '{r}', name: '{r}', from: [{ids}], to: [{ids}]}}\n"
                for r in relations)
    p = tmp / "p.yaml"
    p.write_text(text)
    return p


def _states(project: Path, name: str) -> list[dict]:
    return [st for _d, _u, st, _i in SQLiteStore(project / ".annotator").journal(name)
            .iter_states()]


def test_ner_manual_and_relations(tmp_path: Path, project: Path):
    ner = fixture("prodigy", "news_headlines-ner_manual.head20.jsonl")
    rel = fixture("prodigy", "rel_component-annotations.head3.jsonl")
    rels = sorted({r["label"] for line in rel.read_text().splitlines()
                   for r in json.loads(line)["relations"]})
    schema = _schema(tmp_path, [], ["ORG", "PERSON", "LOCATION", "GGP"], rels)
    r = run_cli("import", "--format", "prodigy", str(ner), str(rel), "--as", "p",
                "--schema", str(schema), cwd=project)
    assert r.returncode == 0, r.stderr
    states = _states(project, "p")
    assert len(states) == 23
    tasks = [json.loads(x) for f in (ner, rel) for x in f.read_text().splitlines()]
    want = sorted(t["text"][s["start"]:s["end"]] for t in tasks for s in t.get("spans", []))
    assert sorted(sp["text"] for st in states for sp in st["spans"]) == want
    assert sum(len(st["relations"]) for st in states) == \
        sum(len(t["relations"]) for t in tasks if "relations" in t)


def test_binary_answers_are_what_they_are(tmp_path: Path, project: Path):
    gh = fixture("prodigy", "github-issues-textcat-binary.head20.jsonl")
    py = fixture("prodigy", "pydata-ams-2023-classification-annotator_id.head20.jsonl")
    schema = _schema(tmp_path, ["DOCUMENTATION", "new-dataset"], [], [])
    r = run_cli("import", "--format", "prodigy", str(gh), "--as", "gh", "--schema", str(schema),
                cwd=project)
    assert r.returncode == 0, r.stderr
    states = _states(project, "gh")
    assert len(states) == 20 and all(st["status"] == "done" for st in states)
    assert sum(st["labels"] == {"cats": ["DOCUMENTATION"]} for st in states) == 8  # accepted
    r = run_cli("import", "--format", "prodigy", str(py), "--schema", str(schema), cwd=project)
    assert r.returncode == 0, r.stderr
    assert "annotator name made a valid journal name" not in r.stderr  # UUIDs are valid names
    who = json.loads(py.read_text().splitlines()[0])["_annotator_id"]
    states = _states(project, who)
    answers = [json.loads(x)["answer"] for x in py.read_text().splitlines()
               if json.loads(x)["_annotator_id"] == who]
    assert sum(st["status"] == "skipped" for st in states) == answers.count("ignore")
    assert sum(bool(st["labels"]) for st in states) == answers.count("accept")


def test_choices_and_review_versions(tmp_path: Path, project: Path):
    nel = fixture("prodigy", "nel_emerson-choice-options-accept.jsonl")
    rr = fixture("prodigy", "restaurant-review-recipe-versions.head3.jsonl")
    tasks = [json.loads(x) for x in nel.read_text().splitlines()]
    opts = sorted({o["id"] for t in tasks for o in t["options"]})
    ents = sorted({sp["label"] for f in (nel, rr) for x in f.read_text().splitlines()
                   for sp in json.loads(x).get("spans", [])})
    schema = _schema(tmp_path, opts, ents, [])
    r = run_cli("import", "--format", "prodigy", str(nel), str(rr), "--as", "n",
                "--schema", str(schema), cwd=project)
    assert r.returncode == 0, r.stderr
    assert "earlier versions kept by Prodigy's review recipe" in r.stderr
    states = _states(project, "n")
    accepted = sorted(a for t in tasks for a in t["accept"])
    assert sorted(lab for st in states for lab in st["labels"].get("cats", [])) == accepted


def test_hostile_tasks_are_located(tmp_path: Path, project: Path):
    schema = _schema(tmp_path, ["A"], ["ORG"], [])
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "abc", "spans": [{"start": 0, "end": 9, "label": "ORG"}]}\n'
                 '{"text": "abd", "spans": [{"start": 0, "end": 1, "label": "NOPE"}]}\n'
                 '{"text": "abe", "spans": [{"start": "0", "end": 1, "label": "ORG"}]}\n'
                 '{"text": "abf", "spans": [{"start": 0, "end": 1, "label": "ORG", "text": "x"}]}\n'
                 '{"text": "abg", "answer": "maybe"}\n'
                 '{"text": "abh", "spans": [], "answer": "reject"}\n')
    r = run_cli("import", "--format", "prodigy", str(f), "--as", "x", "--schema", str(schema),
                cwd=project)
    assert r.returncode == 1
    e = r.stderr
    assert f"{f}:1:1: spans/0: offsets [0, 9) outside the text" in e
    assert f"{f}:2:1: spans/0: no label 'NOPE'" in e
    assert f"{f}:3:1: spans/0: needs integer start, end and a label" in e
    assert f"{f}:4:1: spans/0: text[0:1] is 'a', not 'x'" in e
    assert f"{f}:5:1: 'answer' must be accept, reject or ignore" in e
    assert SQLiteStore(project / ".annotator").document_count() == 0


def test_round_trip_of_our_export(tmp_path: Path):
    src = annotated_project(tmp_path / "p")
    out = tmp_path / "p.jsonl"
    r = run_cli("export", "--format", "prodigy", "--out", str(out), "--allow-loss",
                "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 0, r.stderr
    tasks = [json.loads(x) for x in out.read_text().splitlines()]
    assert {t["answer"] for t in tasks} == {"accept"} and len(tasks) == 6
    dst = tmp_path / "q"
    dst.mkdir()
    r = run_cli("import", "--format", "prodigy", str(out), "--schema", str(SCHEMA), cwd=dst)
    assert r.returncode == 0, r.stderr
    a, b = SQLiteStore(src / ".annotator"), SQLiteStore(dst / ".annotator")
    for name in ("alice", "bob"):
        want = comparable(a, name)
        for st in want.values():
            st["spans"] = [(*s[:5], ()) for s in st["spans"]]
        assert comparable(b, name) == want
