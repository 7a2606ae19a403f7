"""Helpers of the interchange-format tests: a small annotated project, fixtures from
../shared/formats (never copied into the repository), comparable states."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from util import REPO

from annotator.corpus import Document
from annotator.schema import load_schema
from annotator.store import SQLiteStore

SCHEMA = REPO / "schemas" / "framing-devices.yaml"
# ../shared beside the clone (CI lays it there); ANNOTATOR_SHARED_DIR points elsewhere
SHARED = Path(os.environ.get("ANNOTATOR_SHARED_DIR", REPO.parent / "shared")) / "formats"


def fixture(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"fixture {path} absent (tests read ../shared/formats beside the clone)")
    return path


def annotated_project(root: Path) -> Path:
    """alice and bob on two documents: labels of both layers, a quote with its source
    and an attribute, a relation, a note, a flag; an emoji before a span."""
    store = SQLiteStore(root / ".annotator")
    store.import_documents([
        Document("d1", "Envoy summoned", [
            "The minister said \u201cwe will never accept this\u201d, the agency reported.",
            "\U0001F600 Certain countries continue their blockade.",
            "See More"], {"source": "TDI"}),
        Document("d2", None, ["Sanctions are economic warfare, he said."]),
    ])
    schema = load_schema(SCHEMA)
    a, b = store.journal("alice", schema), store.journal("bob", schema)
    t1 = store.unit("d1", 1).text
    q0, q1 = t1.index("\u201c") + 1, t1.index("\u201d")
    a.apply("d1", 0, {"type": "mark_done"})
    a.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    a.apply("d1", 1, {"type": "toggle_label", "layer": "stance", "label": "negative"})
    a.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "quote", "start": q0,
                      "end": q1, "attributes": {"type": "direct"}})
    a.apply("d1", 1, {"type": "add_span", "layer": "quotes", "label": "source", "start": 4,
                      "end": 12})
    a.apply("d1", 1, {"type": "add_relation", "label": "attributed_to", "from": "s1",
                      "to": "s2"})
    t2 = store.unit("d1", 2).text
    c0 = t2.index("Certain")
    a.apply("d1", 2, {"type": "toggle_label", "layer": "devices", "label": "certain_countries"})
    a.apply("d1", 2, {"type": "add_span", "layer": "quotes", "label": "source", "start": c0,
                      "end": c0 + len("Certain countries")})
    a.apply("d1", 2, {"type": "set_note", "note": "vague actor"})
    a.apply("d1", 2, {"type": "set_flag", "flag": True})
    b.apply("d1", 1, {"type": "toggle_label", "layer": "devices", "label": "sovereignty"})
    b.apply("d1", 3, {"type": "mark_done"})
    b.apply("d2", 1, {"type": "toggle_label", "layer": "devices",
                      "label": "sanctions_aggression"})
    store.close()
    return root


def comparable(store: SQLiteStore, name: str) -> dict:
    """{(doc, unit): state} with span ids replaced by positions: what a round trip keeps."""
    out = {}
    for doc_id, unit, state, _info in store.journal(name).iter_states():
        if state.get("status") not in ("done", "skipped"):
            continue
        ids = {}
        spans = []
        for sp in sorted(state.get("spans", []), key=lambda s: (s["start"], s["end"],
                                                                 s["label"])):
            ids[sp["id"]] = (sp["start"], sp["end"], sp["label"])
            spans.append((sp["layer"], sp["label"], sp["start"], sp["end"], sp["text"],
                          tuple(sorted((sp.get("attributes") or {}).items()))))
        labels = {k: (sorted(v) if isinstance(v, list) else v)
                  for k, v in state.get("labels", {}).items() if v not in ([], None)}
        rels = sorted((r["label"], ids[r["from"]], ids[r["to"]])
                      for r in state.get("relations", []))
        out[(doc_id, unit)] = {"status": state["status"], "labels": labels, "spans": spans,
                               "relations": rels, "note": state.get("note"),
                               "flag": bool(state.get("flag"))}
    return out
