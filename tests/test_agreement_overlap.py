"""Agreement reports say how many units each pair shares, and warn where that is too few
for a kappa (pairs share only part of the corpus once documents are assigned)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from util import REPO, run_cli

from annotator.corpus import Document
from annotator.store.sqlite import SQLiteStore


def test_pairs_share_counts_and_warn_when_too_few(project: Path):
    store = SQLiteStore(project / ".annotator")
    store.import_documents(Document(f"d{i}", None, [f"p{i}.{u}" for u in range(1, 11)])
                           for i in range(8))
    # alice and bob share 40 units (4 documents), carol shares 10 with each of them
    for who, docs in (("alice", range(0, 5)), ("bob", range(1, 6)), ("carol", (0, 5, 6))):
        j = store.journal(who)
        for d in docs:
            for u in range(1, 11):
                j.apply(f"d{d}", u, {"type": "toggle_label", "layer": "devices",
                                     "label": "sovereignty" if (u + d) % 3 else "enemy"})
    store.close()
    r = run_cli("agreement", "--json", "--bootstrap", "0", cwd=project)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    jsonschema.validate(report, json.loads(
        (REPO / "schemas" / "agreement-report.schema.json").read_text()))
    pairs = {(p["a"], p["b"]): p for p in report["pairs"]}
    assert pairs[("alice", "bob")]["units"] == 40
    assert pairs[("alice", "carol")]["units"] == 10
    assert pairs[("bob", "carol")]["units"] == 10
    assert not pairs[("alice", "bob")]["too_few_units"]
    assert pairs[("alice", "carol")]["too_few_units"]
    warned = [w for w in report["warnings"] if "share only" in w]
    assert len(warned) == 2 and any("alice and carol share only 10 unit(s)" in w for w in warned)
    text = run_cli("agreement", "--bootstrap", "0", cwd=project).stdout
    assert "alice and carol share only 10 unit(s): too few for a reliable kappa" in text
    assert "alice and bob share" not in text
