"""`annotator status`: progress per annotator and document, and annotations that no
longer fit (layer or label gone from the schema, or paragraph text changed). Those are
listed, never dropped."""

from __future__ import annotations

from annotator.schema import LabelSchema
from annotator.store.sqlite import SQLiteStore

MAX_DOC_ROWS = 40


def _orphans(state: dict, schema: LabelSchema) -> list[str]:
    out = []
    for layer_id, value in state.get("labels", {}).items():
        layer = schema.layer(layer_id)
        if layer is None:
            out.append(f"layer {layer_id!r} is not in the schema")
            continue
        for label in value if isinstance(value, list) else [value] if value else []:
            if layer.label(label) is None:
                out.append(f"label {layer_id}/{label} is not in the schema")
    for span in state.get("spans", []):
        layer = schema.layer(span["layer"])
        if layer is None:
            out.append(f"span layer {span['layer']!r} is not in the schema")
        elif layer.label(span["label"]) is None:
            out.append(f"span label {span['layer']}/{span['label']} is not in the schema")
    return out


def project_status(store: SQLiteStore, schema: LabelSchema, check: bool = False) -> dict:
    """Progress and problems. A journal that is private (blind annotation) or damaged is
    reported, and the others still are. `check`: replay every journal as well."""
    docs = store.document_count()
    units = store.unit_count()
    per_doc: dict[str, dict[str, int]] = {}
    summary = []
    problems = []
    journals, private, failed = store.readable_journals()
    damaged = [{"annotator": name, "problem": str(exc)} for name, exc in failed.items()]
    annotators = [j.annotator for j in journals]
    for j in journals:
        name = j.annotator
        if check:
            found = j.verify()
            if found:
                damaged.append({"annotator": name, "problem": f"{j.path}: " + "; ".join(
                    found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else "")})
                continue
        done = flagged = notes = 0
        shas_of: str | None = None
        shas: dict[int, str] = {}
        for doc_id, unit, state, info in j.iter_states():
            if state.get("status") == "done":
                done += 1
                per_doc.setdefault(doc_id, {}).setdefault(name, 0)
                per_doc[doc_id][name] += 1
            flagged += bool(state.get("flag"))
            notes += bool(state.get("note"))
            for msg in _orphans(state, schema):
                problems.append({"annotator": name, "doc_id": doc_id, "unit": unit,
                                 "problem": msg})
            if doc_id != shas_of:  # states come in document order: one query per document
                shas_of, shas = doc_id, {u.index: u.sha for u in store.units(doc_id)}
            sha = shas.get(unit)
            if sha is None:
                problems.append({"annotator": name, "doc_id": doc_id, "unit": unit,
                                 "problem": "the unit is no longer in the corpus"})
            elif sha != info["unit_sha"]:
                problems.append({"annotator": name, "doc_id": doc_id, "unit": unit,
                                 "problem": "the paragraph's text changed since it was "
                                            "annotated (kept, flagged stale)"})
        summary.append({"annotator": name, "done": done, "flagged": flagged, "notes": notes})
    documents = []
    for doc in store.iter_documents():
        if len(documents) >= MAX_DOC_ROWS:
            break
        documents.append({"doc_id": doc.id, "units": doc.n_units,
                          "done": {a: per_doc.get(doc.id, {}).get(a, 0) for a in annotators}})
    return {"documents": docs, "units": units, "annotators": summary,
            "per_document": documents, "problems": problems, "schema": schema.id,
            "private": private, "damaged": damaged, "checked": check,
            "skipped": list(store.notices)}


def format_status(status: dict) -> str:
    lines = [f"schema {status['schema']}: {status['documents']:,} document(s), "
             f"{status['units']:,} unit(s)", ""]
    if not status["annotators"]:
        lines.append("no annotations yet")
    else:
        lines.append(f"{'annotator':<20} {'done':>10} {'of units':>9} {'flagged':>8} {'notes':>6}")
        total = max(status["units"], 1)
        for a in status["annotators"]:
            lines.append(f"{a['annotator']:<20} {a['done']:>10,} {a['done'] / total:>9.1%} "
                         f"{a['flagged']:>8,} {a['notes']:>6,}")
        lines.append("")
        names = [a["annotator"] for a in status["annotators"]]
        lines.append(f"{'document':<40} {'units':>6} " + " ".join(f"{n[:10]:>10}" for n in names))
        for d in status["per_document"]:
            lines.append(f"{d['doc_id'][:40]:<40} {d['units']:>6} "
                         + " ".join(f"{d['done'][n]:>10}" for n in names))
        if status["documents"] > len(status["per_document"]):
            lines.append(f"... and {status['documents'] - len(status['per_document']):,} more "
                         "document(s)")
    if status.get("private"):
        lines.append("")
        lines.append(f"private (blind annotation; readable by their annotator only): "
                     f"{', '.join(status['private'])}")
    if status.get("skipped"):
        lines.append("")
        lines.append(f"{len(status['skipped'])} entr(ies) of journals/ that are no journal, "
                     "skipped:")
        lines.extend(f"  {n}" for n in status["skipped"])
    if status.get("damaged"):
        lines.append("")
        lines.append(f"{len(status['damaged'])} damaged journal(s), left as they are:")
        for d in status["damaged"]:
            lines.append(f"  {d['annotator']}: {' '.join(d['problem'].split())}")
    elif status.get("checked"):
        lines.append("")
        lines.append("check: every journal replays to its stored state")
    if status["problems"]:
        lines.append("")
        lines.append(f"{len(status['problems'])} annotation problem(s) (kept, not dropped):")
        for p in status["problems"]:
            lines.append(f"  {p['doc_id']} unit {p['unit']} ({p['annotator']}): {p['problem']}")
    return "\n".join(lines)
