"""Builders of export-record annotations and label schemas for the agreement tests
(no tests here)."""

from __future__ import annotations

from annotator.schema import Label, LabelSchema, Layer, Relation

# The span layer `annotation` writes its spans to: quotes attributed to sources.
QUOTES = Layer(
    "quotes",
    "Quotes",
    "span",
    (Label("quote", "Q"), Label("source", "S")),
    relations=(Relation("attributed_to", "AT", ("quote",), ("source",)),),
)


def labels(*ids):
    """Labels named by their ids."""
    return tuple(Label(i, i) for i in ids)


def schema_of(*layers, id="s"):
    """A version-1 label schema of these layers."""
    return LabelSchema(id=id, version=1, title=id, layers=tuple(layers))


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
