"""What marks a unit done (docs/agreement.md): only a decision about a layer rates it.

A label toggle decides its layer, enter decides every paragraph layer, a span or a
quote decides none. The issue's example: with one quote accepted, a third annotator's
untouched stance no longer enters the kappa, from the store and from the export."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import krippendorff
import numpy as np
import pytest
from util import REPO, run_cli

from annotator.actions import apply_action
from annotator.corpus import Document
from annotator.store.sqlite import SQLiteStore

STANCES = ["positive", "negative", "neutral", "mixed"]


def test_which_actions_decide_which_layers():
    toggled = apply_action(None, {"type": "toggle_label", "layer": "stance", "label": "x"})
    assert toggled["decided"] == ["stance"]
    off = apply_action(toggled, {"type": "toggle_label", "layer": "stance", "label": "x"})
    assert off["decided"] == ["stance"]  # toggled off again: still a decision
    span = apply_action(None, {"type": "add_span", "layer": "quotes", "label": "quote",
                               "start": 0, "end": 2}, text="abc")
    assert span["status"] == "done" and span["decided"] == []
    both = apply_action(span, {"type": "toggle_label", "layer": "devices", "label": "y"})
    assert both["decided"] == ["devices"]
    entered = apply_action(both, {"type": "mark_done"})
    assert "decided" not in entered  # enter: every layer
    # a unit done before (no list: every layer) stays so when a label or span is added
    again = apply_action(entered, {"type": "toggle_label", "layer": "stance", "label": "x"})
    assert "decided" not in again
    # not content and back keeps what was decided
    skipped = apply_action(span, {"type": "set_skipped", "skipped": True})
    assert apply_action(skipped, {"type": "set_skipped", "skipped": False}) == span


def _study(project: Path) -> None:
    store = SQLiteStore(project / ".annotator")
    store.import_documents(Document(f"d{i}", None, [
        f"Paragraph {i}.{u}: officials said \u201cwe will respond\u201d." for u in range(1, 6)])
        for i in range(8))
    rng = np.random.default_rng(11)
    units = [(f"d{i}", u) for i in range(8) for u in range(1, 6)]
    for who in ("alice", "bob", "carol"):
        j = store.journal(who)
        for n, (doc, u) in enumerate(units):
            if who == "carol" and n >= 25:
                # the case: a quote accepted, nothing else decided on the unit
                j.apply(doc, u, {"type": "add_span", "layer": "quotes", "label": "quote",
                                 "start": 30, "end": 45})
                continue
            stance = STANCES[0] if rng.random() < 0.6 else STANCES[int(rng.integers(1, 4))]
            j.apply(doc, u, {"type": "toggle_label", "layer": "stance", "label": stance})
            if rng.random() < 0.5:
                j.apply(doc, u, {"type": "toggle_label", "layer": "devices",
                                 "label": "sovereignty"})
            if who == "bob" and n % 7 == 0:
                j.apply(doc, u, {"type": "mark_done"})  # enter: every layer decided
        assert j.verify() == []  # the journal replays to its stored state
    store.close()


def _stance_matrix(records: list[dict], honour_decided: bool) -> np.ndarray:
    names = ["alice", "bob", "carol"]
    m = np.full((3, len(records)), np.nan)
    for u, rec in enumerate(records):
        for ann in rec["annotations"]:
            if honour_decided and "stance" not in ann.get("decided", ["stance"]):
                continue
            value = ann["labels"].get("stance")
            m[names.index(ann["annotator"]), u] = (STANCES.index(value) if value else 4)
    return m


def test_untouched_stance_of_a_quote_only_unit_is_not_rated(project: Path):
    _study(project)
    out = project / "out.jsonl"
    assert run_cli("export", "--out", str(out), cwd=project).returncode == 0
    assert run_cli("validate", str(out), cwd=project).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    carol = [a for r in records for a in r["annotations"] if a["annotator"] == "carol"]
    assert sum(a.get("decided") == [] for a in carol) == 15  # the quote-only units
    assert all("decided" not in a for r in records[::7] for a in r["annotations"]
               if a["annotator"] == "bob")  # entered: the key is absent

    args = ("--json", "--bootstrap", "0")
    a = json.loads(run_cli("agreement", *args, cwd=project).stdout)
    b = json.loads(run_cli("agreement", str(out), *args, cwd=project).stdout)
    assert a == b  # the store and the export agree
    jsonschema.validate(a, json.loads(
        (REPO / "schemas" / "agreement-report.schema.json").read_text()))

    stance = a["layers"]["stance"]
    expected = krippendorff.alpha(reliability_data=_stance_matrix(records, True),
                                  level_of_measurement="nominal")
    as_before = krippendorff.alpha(reliability_data=_stance_matrix(records, False),
                                   level_of_measurement="nominal")
    assert abs(expected - as_before) > 0.01  # the test can tell the two rules apart
    assert stance["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
    pairs = {(p["a"], p["b"]): p for p in a["pairs"]}
    assert pairs[("alice", "carol")]["layers"]["stance"]["units"] == 25
    assert pairs[("alice", "carol")]["units"] == 40  # the quotes layer still counts all
    assert pairs[("alice", "bob")]["layers"]["stance"]["units"] == 40
    # carol's quotes are rated: the span layer sees her 15 units
    assert a["layers"]["quotes"]["spans"] == 15
