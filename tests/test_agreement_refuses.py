"""`annotator agreement EXPORT` refuses what `annotator validate` rejects, with the same
located messages (one reader: validate.read_export); annotator names that differ only
by case or Unicode normalisation; the schema's sha256; records from another tool."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from util import run_cli

SCHEMA = """\
id: study
version: 1
title: study
layers:
  - id: devices
    name: Devices
    kind: multi
    labels:
      - {id: sovereignty, name: S, description: d}
      - {id: aggression, name: A, description: d}
  - id: stance
    name: Stance
    kind: single
    labels:
      - {id: positive, name: P, description: d}
      - {id: negative, name: N, description: d}
  - id: quotes
    name: Quotes
    kind: span
    labels:
      - {id: quote, name: Q, description: d}
      - {id: source, name: S, description: d}
    relations:
      - {id: attributed_to, name: AT, from: [quote], to: [source]}
"""
TEXT = "The minister said we will never accept this."


def ann(name: str, devices: list[str], stance: str | None, spans=(), relations=()) -> dict:
    return {"annotator": name, "status": "done", "labels": {"devices": devices, "stance": stance},
            "spans": [{"id": i, "layer": "quotes", "label": lab, "start": s, "end": e,
                       "text": TEXT[s:e], "attributes": {}} for i, lab, s, e in spans],
            "relations": [{"label": "attributed_to", "from": f, "to": t} for f, t in relations],
            "note": None, "updated_at": "2026-11-23T10:00:00Z"}


def records(sha: str) -> list[dict]:
    ref = {"id": "study", "version": 1, "sha256": sha}
    out = []
    for p in range(1, 5):
        out.append({"doc_id": "d1", "paragraph": p, "text": TEXT, "title": "T", "meta": {},
                    "schema": dict(ref),
                    "annotations": [
                        ann("alice", ["sovereignty"] if p % 2 else [], "positive",
                            spans=[("s1", "quote", 18, 44), ("s2", "source", 4, 12)],
                            relations=[("s1", "s2")]),
                        ann("bob", ["sovereignty"], "positive" if p < 3 else "negative",
                            spans=[("s1", "quote", 18, 40)]),
                    ]})
    return out


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, list[dict]]:
    (tmp_path / "schemas").mkdir()
    schema = tmp_path / "schemas" / "study.yaml"
    schema.write_text(SCHEMA, encoding="utf-8")
    sha = hashlib.sha256(schema.read_bytes()).hexdigest()
    return tmp_path, records(sha)


def write(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                    encoding="utf-8")
    return path


def messages(text: str, prefix: str = "") -> list[str]:
    return [line[len(prefix):] for line in text.splitlines()
            if line.startswith(prefix) and ".jsonl:" in line and ": warning:" not in line]


def test_valid_export_passes_both(study):
    root, recs = study
    write(root / "e.jsonl", recs)
    v = run_cli("validate", "e.jsonl", cwd=root)
    assert v.returncode == 0, v.stdout
    a = run_cli("agreement", "e.jsonl", "--json", "--bootstrap", "0", cwd=root)
    assert a.returncode == 0, a.stderr
    rep = json.loads(a.stdout)
    assert rep["annotators"] == ["alice", "bob"] and rep["units"] == 4
    assert rep["schema"]["id"] == "study"


def _span(r, k=0, s=0):
    return r["annotations"][k]["spans"][s]


# (name, how the records are broken, line, needle of the message)
BROKEN = [
    ("span out of range", lambda rs: _span(rs[1]).update(end=99), 2,
     "offsets [18, 99) outside the text (length 44)"),
    ("reversed span", lambda rs: _span(rs[1]).update(start=30, end=20, text=""), 2,
     "offsets [30, 20) are reversed or empty"),
    ("relation to a missing span", lambda rs: rs[2]["annotations"][0]["relations"][0].update(
        to="s9"), 3, "relations: attributed_to to 's9': no such span"),
    ("unknown label", lambda rs: rs[0]["annotations"][1]["labels"].update(
        devices=["sovereignty", "nosuch"]), 1, "no label 'nosuch' in layer 'devices'"),
    ("unknown layer", lambda rs: rs[0]["annotations"][1]["labels"].update(frames=[]), 1,
     "labels: no paragraph layer 'frames'"),
    ("duplicated unit", lambda rs: rs[3].update(paragraph=1), 4,
     "unit 'd1' paragraph 1 already exported at line 1"),
    ("two schemas", lambda rs: rs[2]["schema"].update(version=2), 3,
     "but line 1 names 'study' version 1: an export holds the records of one schema"),
    ("sha256 of another schema file", lambda rs: [r["schema"].update(sha256="0" * 64)
                                                  for r in rs], 1,
     "the schema file changed since this export was made"),
    ("NFC and NFD names", lambda rs: [rs[0]["annotations"][0].update(annotator="jos\u00e9"),
                                      rs[1]["annotations"][0].update(annotator="jose\u0301")],
     2, "differ only by case or Unicode normalisation"),
    ("names differing by case", lambda rs: rs[3]["annotations"][1].update(annotator="Bob"), 4,
     "annotator 'Bob' and 'bob' (line 1) differ only by case"),
    ("one annotator twice on a unit", lambda rs: rs[1]["annotations"].append(
        copy.deepcopy(rs[1]["annotations"][0])), 2,
     "annotations/2 (alice): a second annotation by 'alice' on this unit"),
    ("a label twice (uniqueItems)", lambda rs: rs[1]["annotations"][1]["labels"].update(
        devices=["sovereignty", "sovereignty"]), 2, "is not valid under any of the given schemas"),
    ("not a record", lambda rs: rs[2].pop("text"), 3, "'text' is a required property"),
]


@pytest.mark.parametrize("name,breaks,line,needle", BROKEN, ids=[b[0] for b in BROKEN])
def test_agreement_refuses_what_validate_rejects(study, name, breaks, line, needle):
    root, recs = study
    breaks(recs)
    write(root / "e.jsonl", recs)
    v = run_cli("validate", "e.jsonl", cwd=root)
    a = run_cli("agreement", "e.jsonl", "--json", cwd=root)
    assert v.returncode == 1, v.stdout
    assert a.returncode == 1 and a.stdout == "", a.stdout
    assert "Traceback" not in v.stderr + a.stderr
    found = [m for m in messages(v.stdout) if m.startswith(f"e.jsonl:{line}:")]
    assert any(needle in m for m in found), v.stdout
    # the same located messages, in the same order
    assert messages(a.stderr, "annotator: ") == messages(v.stdout)


def test_the_checks_fail_without_the_reader(study, monkeypatch):
    """The refusal above comes from the reader: with its label checks switched off, an
    unknown label goes through (so the tests above can fail)."""
    from annotator import validate
    from annotator.agreement import run_agreement

    root, recs = study
    recs[0]["annotations"][1]["labels"]["devices"] = ["nosuch"]
    path = write(root / "e.jsonl", recs)
    with pytest.raises(Exception, match="nosuch"):
        run_agreement(path, project_dir=root, bootstrap=0)
    monkeypatch.setattr(validate, "_label_problems", lambda *a: validate._VALID)
    rep = run_agreement(path, project_dir=root, bootstrap=0)
    assert "nosuch" in json.dumps(rep)


def test_merge_names_says_what_it_merged(study):
    root, recs = study
    for r in recs[2:]:
        r["annotations"][1]["annotator"] = "BOB"
    write(root / "e.jsonl", recs)
    a = run_cli("agreement", "e.jsonl", "--json", "--bootstrap", "0", "--merge-names", cwd=root)
    assert a.returncode == 0, a.stderr
    rep = json.loads(a.stdout)
    assert rep["annotators"] == ["alice", "bob"]
    assert rep["merged_names"] == {"BOB": "bob"}
    assert any("annotator 'BOB' counted as 'bob' (line 1)" in w for w in rep["warnings"])
    assert rep["pairs"][0]["units"] == 4
    # and in the table
    t = run_cli("agreement", "e.jsonl", "--merge-names", "--bootstrap", "0", cwd=root)
    assert "counted as 'bob'" in t.stdout


def test_sha_mismatch_with_schema_given_is_a_warning(study):
    root, recs = study
    for r in recs:
        r["schema"]["sha256"] = "0" * 64
    write(root / "e.jsonl", recs)
    v = run_cli("validate", "e.jsonl", "--schema", "schemas/study.yaml", cwd=root)
    assert v.returncode == 0 and "warning: record names schema 'study' version 1" in v.stdout
    a = run_cli("agreement", "e.jsonl", "--schema", "schemas/study.yaml", "--json",
                "--bootstrap", "0", cwd=root)
    assert a.returncode == 0
    assert any("checked and counted against the schema given" in w
               for w in json.loads(a.stdout)["warnings"])


def test_schema_not_found_is_refused_once(study, tmp_path):
    root, recs = study
    (root / "schemas" / "study.yaml").unlink()
    write(root / "e.jsonl", recs)
    a = run_cli("agreement", "e.jsonl", cwd=root)
    v = run_cli("validate", "e.jsonl", cwd=root)
    assert a.returncode == v.returncode == 1
    want = ("e.jsonl:1:1: schema 'study' version 1 not found in the project's schemas/: give "
            "it with --schema (and 3 more record(s))")
    assert messages(v.stdout) == [want]
    assert messages(a.stderr, "annotator: ") == [want]


def test_interchange_records_work_with_schema(study):
    """Another tool's converter: doc_id, paragraph, annotations[annotator, labels/spans]
    and nothing else. The same figures as our full export of the same annotations."""
    root, recs = study
    write(root / "full.jsonl", recs)
    minimal = [{"doc_id": r["doc_id"], "paragraph": r["paragraph"],
                "annotations": [{"annotator": a["annotator"], "labels": a["labels"],
                                 "spans": [{k: s[k] for k in ("id", "layer", "label", "start",
                                                              "end")} for s in a["spans"]],
                                 "relations": a["relations"]}
                                for a in r["annotations"]]} for r in recs]
    minimal[0]["annotations"][0]["lead_time"] = 3.5  # another tool's field: allowed
    write(root / "min.jsonl", minimal)
    no = run_cli("agreement", "min.jsonl", cwd=root)
    assert no.returncode == 1 and "name no label schema" in no.stderr and "--schema" in no.stderr
    v = run_cli("validate", "min.jsonl", "--schema", "schemas/study.yaml", cwd=root)
    assert v.returncode == 0, v.stdout
    args = ("--schema", "schemas/study.yaml", "--json", "--bootstrap", "50")
    full = json.loads(run_cli("agreement", "full.jsonl", *args, cwd=root).stdout)
    mini = run_cli("agreement", "min.jsonl", *args, cwd=root)
    assert mini.returncode == 0, mini.stderr
    mini = json.loads(mini.stdout)
    for rep in (full, mini):
        rep.pop("warnings")
    # paragraph layers and span F1 agree exactly; alpha_U differs only by the continuum's
    # length (no text: a unit ends at its furthest span end)
    assert mini["layers"]["devices"] == full["layers"]["devices"]
    assert mini["layers"]["stance"] == full["layers"]["stance"]
    assert mini["layers"]["quotes"]["f1_overlap"] == full["layers"]["quotes"]["f1_overlap"]
    # a bad interchange record is refused with a located message
    minimal[1]["annotations"][0]["spans"][0]["end"] = 2
    write(root / "min.jsonl", minimal)
    bad = run_cli("agreement", "min.jsonl", "--schema", "schemas/study.yaml", cwd=root)
    assert bad.returncode == 1 and "min.jsonl:2:1:" in bad.stderr and "reversed" in bad.stderr
