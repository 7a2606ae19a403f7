"""`annotator status`: progress per annotator and document, and annotations that no
longer fit (layer or label gone from the schema, or paragraph text changed). Those are
listed, never dropped."""

from __future__ import annotations

from annotator.errors import StoreError
from annotator.schema import LabelSchema
from annotator.schema_drift import schema_change
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
    if not schema.titles:  # titles are context, not units (schema or project)
        units -= store.title_count()
    per_doc: dict[str, dict[str, int]] = {}
    summary = []
    problems = []
    journals, private, failed = store.readable_journals()
    damaged = [{"annotator": name, "problem": str(exc)} for name, exc in failed.items()]
    annotators = [j.annotator for j in journals]
    done_by_key: dict[str, dict[int, int]] = {}  # annotator -> document key -> units done
    for j in journals:
        name = j.annotator
        if check:
            found = j.verify()
            if found:
                damaged.append({"annotator": name, "problem": f"{j.path}: " + "; ".join(
                    found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else "")})
                continue
        done = flagged = notes = skipped = 0
        shas_of: str | None = None
        shas: dict[int, str] = {}
        by_key = done_by_key.setdefault(name, {})
        for doc_id, unit, state, info in j.iter_states():
            if doc_id != shas_of:  # states come in document order: one query per document
                shas_of, shas = doc_id, {u.index: u.sha for u in store.units(doc_id)}
            sha = shas.get(unit)
            if sha is None:
                # a re-import removed the unit: reported below, not progress
                problems.append({"annotator": name, "doc_id": doc_id, "unit": unit,
                                 "problem": "the unit is no longer in the corpus"})
                continue
            if unit == 0 and not schema.titles:
                continue  # a title, which this schema or project does not annotate
            if state.get("status") == "done":
                done += 1
                per_doc.setdefault(doc_id, {}).setdefault(name, 0)
                per_doc[doc_id][name] += 1
            if state.get("status") in ("done", "skipped"):  # decided, for assignments
                by_key[info["doc_key"]] = by_key.get(info["doc_key"], 0) + 1
            skipped += state.get("status") == "skipped"
            flagged += bool(state.get("flag"))
            notes += bool(state.get("note"))
            for msg in _orphans(state, schema):
                problems.append({"annotator": name, "doc_id": doc_id, "unit": unit,
                                 "problem": msg})
            if sha != info["unit_sha"]:
                problems.append({"annotator": name, "doc_id": doc_id, "unit": unit,
                                 "problem": "the paragraph's text changed since it was "
                                            "annotated (kept, flagged stale)"})
        summary.append({"annotator": name, "done": done, "flagged": flagged, "notes": notes,
                        "skipped": skipped})
        changed = schema_change(j, schema)
        if changed:
            problems.append({"annotator": name, "doc_id": "", "unit": 0,
                             "problem": changed})
    assigned = _assigned(store)
    gold = _gold_status(store, check, damaged)
    documents = []
    for doc in store.iter_documents():
        if len(documents) >= MAX_DOC_ROWS:
            break
        row = {"doc_id": doc.id, "units": doc.n_units,
               "done": {a: per_doc.get(doc.id, {}).get(a, 0) for a in annotators}}
        if assigned is not None:
            row["assigned"] = sorted(a for a, keys in assigned.items() if doc.key in keys)
        documents.append(row)
    out = {"documents": docs, "units": units, "annotators": summary,
           "per_document": documents, "problems": problems, "schema": schema.id,
           "private": private, "damaged": damaged, "checked": check, "gold": gold,
           "skipped": list(getattr(store, "notices", ()))}
    if assigned is not None:
        out["assignments"] = _assignment_progress(store, assigned, done_by_key)
    return out


def _assigned(store: SQLiteStore) -> dict[str, set[int]] | None:
    """Annotator -> keys of the documents assigned to them (None: no assignments)."""
    rows = store.assignments()
    if not rows:
        return None
    out: dict[str, set[int]] = {}
    for doc_key, who, _ in rows:
        out.setdefault(who, set()).add(doc_key)
    return out


def _assignment_progress(store: SQLiteStore, assigned: dict[str, set[int]],
                         done_by_key: dict[str, dict[int, int]]) -> dict:
    """Per annotator: documents assigned and finished (every unit done), units assigned
    and done among them; None for done where the journal could not be read."""
    keys, n_units = store.document_sizes()
    sizes = dict(zip(keys.tolist(), n_units.tolist(), strict=True))
    out = {}
    for name in sorted(assigned):
        mine = assigned[name]
        done = done_by_key.get(name)
        entry = {"documents": len(mine), "units": sum(sizes.get(k, 0) for k in mine),
                 "units_done": None, "documents_finished": None}
        if done is not None or name not in store.annotators():  # no journal: nothing done
            done = done or {}
            entry["units_done"] = sum(v for k, v in done.items() if k in mine)
            entry["documents_finished"] = sum(1 for k in mine if done.get(k, 0) >= sizes.get(k, 0))
        out[name] = entry
    return out


def _cell(row: dict, name: str, assignments: dict) -> str:
    done = row["done"].get(name)
    if "assigned" in row and name not in row["assigned"] and not done:
        return "-"
    if done is None:  # assigned, journal not readable here (or damaged)
        return "?" if assignments.get(name, {}).get("units_done") is None else "0"
    return str(done)


def _gold_status(store: SQLiteStore, check: bool, damaged: list[dict]) -> int | None:
    """Units the gold has decided (None: no gold journal); `check` replays it too."""
    from annotator.store.base import GOLD

    if not store.has_journal(GOLD):
        return None
    try:
        j = store.journal(GOLD)
        if check and (found := j.verify()):
            damaged.append({"annotator": GOLD, "problem": f"{j.path}: " + "; ".join(found[:5])})
        return j.done_count()
    except (StoreError, OSError) as exc:
        damaged.append({"annotator": GOLD, "problem": str(exc)})
        return None


def format_status(status: dict) -> str:
    lines = [f"schema {status['schema']}: {status['documents']:,} document(s), "
             f"{status['units']:,} unit(s)", ""]
    assignments = status.get("assignments") or {}
    if not status["annotators"]:
        lines.append("no annotations yet")
    else:
        lines.append(f"{'annotator':<20} {'done':>10} {'of units':>9} {'flagged':>8} {'notes':>6}"
                     f" {'not content':>11}")
        total = max(status["units"], 1)
        for a in status["annotators"]:
            lines.append(f"{a['annotator']:<20} {a['done']:>10,} {a['done'] / total:>9.1%} "
                         f"{a['flagged']:>8,} {a['notes']:>6,} {a.get('skipped', 0):>11,}")
    if assignments:
        lines.append("")
        lines.append(f"{'assigned to':<20} {'documents':>10} {'finished':>9} {'units':>10} "
                     f"{'done':>10}")
        for name, a in assignments.items():
            fin, done = a["documents_finished"], a["units_done"]
            lines.append(f"{name[:20]:<20} {a['documents']:>10,} "
                         f"{'private' if fin is None else format(fin, ','):>9} "
                         f"{a['units']:>10,} {'private' if done is None else format(done, ','):>10}")
    names = [a["annotator"] for a in status["annotators"]]
    names += [n for n in assignments if n not in names]
    if names:
        lines.append("")
        if assignments:
            lines.append("units done per document; '-': not assigned, '?': private")
        lines.append(f"{'document':<40} {'units':>6} " + " ".join(f"{n[:10]:>10}" for n in names))
        for d in status["per_document"]:
            lines.append(f"{d['doc_id'][:40]:<40} {d['units']:>6} "
                         + " ".join(f"{_cell(d, n, assignments):>10}" for n in names))
        if status["documents"] > len(status["per_document"]):
            lines.append(f"... and {status['documents'] - len(status['per_document']):,} more "
                         "document(s)")
    if status.get("gold") is not None:
        lines.append("")
        lines.append(f"gold: {status['gold']:,} unit(s) adjudicated")
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
            where = f"{p['doc_id']} unit {p['unit']} " if p["doc_id"] else ""
            lines.append(f"  {where}({p['annotator']}): {p['problem']}")
    return "\n".join(lines)
