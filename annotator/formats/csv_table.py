"""`csv`: one flat table for pandas, one row per annotator x unit x label / span /
relation, told apart by the `kind` column (export only).

Columns (`COLUMNS`): doc_id, paragraph, annotator, status, kind, layer, label, span_id,
start, end, span_text, target, attributes, note, flag, updated_at, seconds, text.
- kind "unit": one per annotator and annotated unit (done or skipped, note, flag,
  updated_at, seconds, the unit's text): a unit annotated with no labels is a unit row
  and nothing else; a unit nobody annotated has no row.
- kind "label": one per paragraph label (layer, label).
- kind "span": one per span (span_id, layer, label, start, end in code points of the
  unit's text, span_text, attributes as a JSON object).
- kind "relation": one per relation (label, span_id = from, target = to).

    pd.read_csv("x.csv").query("kind == 'label'").groupby(["layer", "label"]).size()
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from annotator.formats.model import ExportContext, ExportDoc
from annotator.jsoncodec import dumps

OUTPUT = "file"
EXTENSION = ".csv"
# split over processes (formats/split.py): the parts joined, the header once
SPLIT = {"header": 1}
COLUMNS = ("doc_id", "paragraph", "annotator", "status", "kind", "layer", "label",
           "span_id", "start", "end", "span_text", "target", "attributes", "note", "flag",
           "updated_at", "seconds", "text")


def rows(docs: Iterator[ExportDoc], ctx: ExportContext) -> Iterator[tuple]:
    """The table's rows, in COLUMNS order (None for an empty cell)."""
    for doc in docs:
        texts = {u.index: u.text for u in doc.units}
        for name in ctx.annotators:
            for idx, ann in sorted(doc.anns.get(name, {}).items()):
                key = (doc.info.id, idx, name, ann.status)
                yield (*key, "unit", None, None, None, None, None, None, None, None,
                       ann.note, ann.flag, ann.updated_at, round(ann.seconds, 1),
                       texts.get(idx, ""))
                for layer, value in ann.labels.items():
                    for label in value if isinstance(value, list) else [value] if value else []:
                        yield (*key, "label", layer, label, None, None, None, None, None,
                               None, None, None, None, None, None)
                for sp in ann.spans:
                    yield (*key, "span", sp["layer"], sp["label"], sp["id"], sp["start"],
                           sp["end"], sp["text"], None,
                           dumps(sp.get("attributes") or {}),
                           None, None, None, None, None)
                for rel in ann.relations:
                    layer = next((sp["layer"] for sp in ann.spans if sp["id"] == rel["from"]),
                                 None)
                    yield (*key, "relation", layer, rel["label"], rel["from"], None, None,
                           None, rel["to"], None, None, None, None, None, None)


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    n = 0
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for row in rows(docs, ctx):
            w.writerow(row)  # the csv module writes None as an empty cell
            n += 1
    return n
