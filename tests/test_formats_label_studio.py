"""Label Studio: the fixtures from ../shared/formats, UTF-16 offsets of older exports,
JSON-path errors, the generated XML config, and the round trip of our export."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from formats_util import SCHEMA, annotated_project, comparable, fixture
from util import run_cli

from annotator.store import SQLiteStore


def _schema(tmp: Path, paragraph: list[str], spans: list[str]) -> Path:
    def labels(ids):
        return "".join(f"      - {{id: '{x}', name: '{x}', description: x}}\n" for x in ids)
    text = "id: ls\nversion: 1\ntitle: ls\nlayers:\n"
    if paragraph:
        text += "  - id: cats\n    name: Cats\n    kind: multi\n    labels:\n" + labels(paragraph)
    if spans:
        text += "  - id: ents\n    name: Ents\n    kind: span\n    labels:\n" + labels(spans)
    p = tmp / "ls.yaml"
    p.write_text(text)
    return p


def _states(project: Path) -> dict:
    s = SQLiteStore(project / ".annotator")
    return {n: [st for _d, _u, st, _i in s.journal(n).iter_states()] for n in s.annotators()}


def test_fixtures(tmp_path: Path, project: Path):
    ner = fixture("label-studio", "lsf-named_entity-annotation.json")
    para = fixture("label-studio", "lsf-phrases-paragraphlabels-annotation.json")
    schema = _schema(tmp_path, ["Important Stuff", "Random talk", "Neutral answer"],
                     ["Person", "Organization", "Date", "Money"])
    r = run_cli("import", "--format", "label-studio", str(ner), str(para), "--as", "ls",
                "--schema", str(schema), cwd=project)
    assert r.returncode == 0, r.stderr
    (st_ner, *st_para) = _states(project)["ls"]
    assert [(s["label"], s["text"]) for s in st_ner["spans"]] == [("Date", "February 22")]
    # a range over whole paragraphs 2..4 (0-based) labels each of them
    assert [st["labels"] for st in st_para] == [{"cats": ["Important Stuff"]}] * 3
    store = SQLiteStore(project / ".annotator")
    assert store.document_count() == 2
    assert len(store.units("ls-0")) == 5  # one unit per dialogue item
    dialog = fixture("label-studio", "lsf-dialogue_analysis-choices-annotation.json")
    r = run_cli("import", "--format", "label-studio", str(dialog), "--as", "d",
                "--schema", str(schema), cwd=project)
    assert r.returncode == 1 and "free-text answer (textarea)" in r.stderr
    assert "$.annotations[0].result[1]" in r.stderr


def test_controls_in_a_label_value_reach_no_terminal(tmp_path: Path, project: Path):
    export = fixture("label-studio", "converter-csv_test2-export.json")
    schema = _schema(tmp_path, ["Yes"], [])
    r = run_cli("import", "--format", "label-studio", str(export), "--schema", str(schema),
                cwd=project)
    assert r.returncode == 1
    assert f"{export}: $[0].annotations[0].result[0].value.choices: no label 'Yes" in r.stderr
    assert "\t" not in r.stderr and "а б в" in r.stderr


def test_utf16_offsets_of_older_exports_are_detected(tmp_path: Path, project: Path):
    schema = _schema(tmp_path, [], ["Person"])
    text = "\U0001F600 Ann met Bob"
    tasks = [{"id": 7, "data": {"text": text}, "annotations": [{"completed_by": 3, "result": [
        {"id": "a", "type": "labels", "from_name": "ents", "to_name": "text",
         "value": {"start": 11, "end": 14, "text": "Bob", "labels": ["Person"]}}]}]}]
    f = tmp_path / "t.json"
    f.write_text(json.dumps(tasks))
    r = run_cli("import", "--format", "label-studio", str(f), "--schema", str(schema),
                cwd=project)
    assert r.returncode == 0, r.stderr
    assert "offsets read as UTF-16 code units" in r.stderr
    (st,) = _states(project)["3"]
    assert (st["spans"][0]["start"], st["spans"][0]["text"]) == (10, "Bob")
    tasks[0]["annotations"][0]["result"][0]["value"].update(start=0, end=3)
    tasks[0]["annotations"][0]["result"].append({"type": "relation", "from_id": "zz",
                                                  "to_id": "a", "labels": ["x"]})
    f.write_text(json.dumps(tasks))
    r = run_cli("import", "--format", "label-studio", str(f), "--schema", str(schema),
                cwd=tmp_path / "proj")
    assert r.returncode == 1
    assert f"{f}: $[0].annotations[0].result[0].value: text[0:3] is" in r.stderr
    assert f"{f}: $[0].annotations[0].result[1]: from_id / to_id is no region" in r.stderr


def test_round_trip_and_config(tmp_path: Path):
    src = annotated_project(tmp_path / "p")
    out = tmp_path / "tasks.json"
    r = run_cli("export", "--format", "label-studio", "--out", str(out),
                "--schema", str(SCHEMA), cwd=src)
    assert r.returncode == 0, r.stderr
    cfg = ElementTree.parse(tmp_path / "tasks.label_config.xml").getroot()
    assert {c.get("name") for c in cfg.iter("Choices")} >= {"devices", "stance",
                                                             "quotes__type", "flag"}
    assert [la.get("value") for la in cfg.find("Labels")] == ["quote", "source"]
    tasks = json.loads(out.read_text())
    assert len(tasks) == 5  # every unit of the two documents
    dst = tmp_path / "q"
    dst.mkdir()
    r = run_cli("import", "--format", "label-studio", str(out), "--schema", str(SCHEMA), cwd=dst)
    assert r.returncode == 0, r.stderr
    a, b = SQLiteStore(src / ".annotator"), SQLiteStore(dst / ".annotator")
    for name in ("alice", "bob"):
        assert comparable(b, name) == comparable(a, name)
