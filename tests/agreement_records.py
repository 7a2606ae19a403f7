"""Builders of export-record annotations for the agreement tests (no tests here)."""

from __future__ import annotations


def annotation(name, labels, spans=(), relations=()):
    """One annotator's done annotation; spans as (id, label, start, end) in `quotes`,
    relations as (label, from, to)."""
    return {
        "annotator": name,
        "status": "done",
        "labels": labels,
        "spans": [
            {"id": i, "layer": "quotes", "label": lab, "start": s, "end": e, "text": "",
             "attributes": {}}
            for i, lab, s, e in spans
        ],
        "relations": [{"label": lab, "from": f, "to": t} for lab, f, t in relations],
    }
