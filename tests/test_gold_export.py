"""`annotator export` with gold: the `gold` field on adjudicated units, `--gold`
gold-only records, and `validate` over both (through the real entry point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from util import REPO, run_cli

from annotator.adjudication.session import Session
from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store import SQLiteStore

SCHEMA = load_schema(REPO / "schemas" / "framing-devices.yaml")
TEXT = "The envoy said sovereignty matters."


@pytest.fixture
def adjudicated(project: Path) -> Path:
    s = SQLiteStore(project / ".annotator")
    s.import_documents([Document("d0", "A title", [TEXT, "Second paragraph."])])
    a, b = s.journal("alice", SCHEMA), s.journal("bob", SCHEMA)
    for j, st in ((a, "positive"), (b, "negative")):
        j.apply("d0", 1, {"type": "toggle_label", "layer": "stance", "label": st})
        j.apply("d0", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    a.apply("d0", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": 15,
                      "end": 34})
    a.apply("d0", 2, {"type": "mark_done"})
    ses = Session(s, SCHEMA, "cur")
    ses.take_version("d0", 1, "stance", "bob")
    ses.accept_span("d0", 1, "alice", "s1")
    s.close()
    return project


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_carries_gold_on_adjudicated_units(adjudicated: Path):
    r = run_cli("export", "--out", "-", cwd=adjudicated)
    assert r.returncode == 0, r.stderr
    recs = {rec["paragraph"]: rec for rec in _lines(r.stdout)}
    assert set(recs) == {1, 2}
    assert "gold" not in recs[2]
    gold = recs[1]["gold"]
    assert gold["labels"] == {"devices": ["sovereignty"], "stance": "negative"}
    assert [(s["start"], s["end"], s["text"]) for s in gold["spans"]] == [(15, 34, TEXT[15:34])]
    assert gold["decided_by"] == [] and gold["overrode"] is True
    assert gold["decided_by_layer"] == {"devices": ["alice", "bob"], "stance": ["bob"],
                                        "quotes": ["alice"]}
    assert gold["auto"] is None and gold["curator"] == "cur" and gold["updated_at"]
    assert [a["annotator"] for a in recs[1]["annotations"]] == ["alice", "bob"]
    out = adjudicated / "all.jsonl"
    out.write_text(r.stdout)
    v = run_cli("validate", str(out), cwd=adjudicated)
    assert v.returncode == 0, v.stdout + v.stderr


def test_export_gold_only(adjudicated: Path):
    r = run_cli("export", "--gold", "--out", "-", cwd=adjudicated)
    assert r.returncode == 0, r.stderr
    recs = _lines(r.stdout)
    assert len(recs) == 1
    (ann,) = recs[0]["annotations"]
    assert ann["annotator"] == "gold" and ann["status"] == "done"
    assert ann["labels"]["stance"] == "negative" and ann["decided_by_layer"]["stance"] == ["bob"]
    assert "gold" not in recs[0] and "agreement" not in recs[0]
    out = adjudicated / "gold.jsonl"
    out.write_text(r.stdout)
    v = run_cli("validate", str(out), cwd=adjudicated)
    assert v.returncode == 0, v.stdout + v.stderr


@pytest.mark.parametrize("tamper,needle", [
    (lambda g: g.update(decided_by=["mallory"]), "'mallory' has no annotation"),
    (lambda g: g["labels"].update(stance="furious"), "gold: labels/stance: no label 'furious'"),
    (lambda g: g["spans"][0].update(end=999), "gold: spans/s1: offsets"),
    (lambda g: g.pop("decided_by"), "'decided_by' is a required property"),
    (lambda g: g.update(auto="sometimes"), "gold/auto"),
])
def test_validate_rejects_a_bad_gold(adjudicated: Path, tamper, needle):
    r = run_cli("export", "--out", "-", cwd=adjudicated)
    recs = _lines(r.stdout)
    tamper(recs[0]["gold"])
    out = adjudicated / "bad.jsonl"
    out.write_text("".join(json.dumps(x) + "\n" for x in recs))
    v = run_cli("validate", str(out), cwd=adjudicated)
    assert v.returncode == 1 and f"{out}:1:" in v.stdout and needle in v.stdout, v.stdout


def test_annotate_refuses_the_gold_name(adjudicated: Path):
    r = run_cli("annotate", "--as", "gold", cwd=adjudicated)
    assert r.returncode == 2 and "gold standard" in r.stderr


def test_gold_edited_in_the_span_editor_exports_valid(adjudicated: Path):
    """A curator's span edit (as `v` in adjudicate does) leaves `decided` in the gold's
    state: the export must still be what `validate` and `agreement` accept."""
    s = SQLiteStore(adjudicated / ".annotator")
    ses = Session(s, SCHEMA, "cur")
    ses.apply("d0", 2, {"type": "add_span", "layer": "quotes", "label": "quote",
                        "start": 0, "end": 6})
    s.close()
    out = adjudicated / "all.jsonl"
    assert run_cli("export", "--out", str(out), cwd=adjudicated).returncode == 0
    gold = [r["gold"] for r in _lines(out.read_text()) if r["paragraph"] == 2][0]
    assert [sp["text"] for sp in gold["spans"]] == ["Second"] and "decided" not in gold
    r = run_cli("validate", str(out), cwd=adjudicated)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("agreement", str(out), "--json", cwd=adjudicated)
    assert r.returncode == 0, r.stderr
