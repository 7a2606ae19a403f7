"""`jsonl`: this tool's own export records (schemas/export-record.schema.json).

Export: every annotator's records are `annotator.export.iter_records`, unchanged (the
default `annotator export`); with `--annotator NAME` or `--gold`, the same record shape
built here for the selected journal (`--gold`: `"annotations": []` and a `"gold"`
object on each adjudicated unit).

Import (round trip): each record's annotations go to their annotator's journal. A
record's document must already be in the project with the same text, or be complete
in the file: an export holds only annotated units, so a document that is not in the
project can be created only when its paragraphs 1..N are all there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from annotator.actions import ActionError, checked_state
from annotator.corpus import Document
from annotator.errors import Problem
from annotator.formats.model import ExportContext, ExportDoc, ImportContext, ReadItem, UnitState
from annotator.jsonl import iter_json_lines
from annotator.textclean import clean_json, clean_text

OUTPUT = "file"
SPLIT: dict = {}  # split over processes (formats/split.py): the lines joined
_RECORD_KEYS = {"doc_id", "paragraph", "text", "title", "meta", "schema", "annotations",
                "agreement", "gold"}
_ANN_KEYS = {"annotator", "status", "labels", "spans", "relations", "note", "flag",
             "updated_at", "seconds", "stale", "original_text", "decided",
             "rejected_proposals"}


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    from annotator.jsoncodec import dumps_lines

    if not ctx.gold:
        from annotator.agreement import unit_agreement
    schema_ref = {"id": ctx.schema.id, "version": ctx.schema.version,
                  "sha256": ctx.schema.sha256}
    n = 0
    with open(dest, "wb") as out:
        for doc in docs:
            recs = []  # a document's records encoded and written at once
            units = {u.index: u.text for u in doc.units}
            indices = sorted({i for per in doc.anns.values() for i in per})
            for idx in indices:
                rec = {"doc_id": doc.info.id, "paragraph": idx, "text": units.get(idx, ""),
                       "title": doc.info.title, "meta": doc.info.meta, "schema": schema_ref,
                       "annotations": []}
                for name in ctx.annotators:
                    ann = doc.anns.get(name, {}).get(idx)
                    if ann is None:
                        continue
                    body = {"labels": ann.labels, "spans": ann.spans,
                            "relations": ann.relations}
                    if ctx.gold:
                        rec["gold"] = {**body, "decided_by": ann.extra.get("decided_by", []),
                                       "updated_at": ann.updated_at}
                        continue
                    rec["annotations"].append({
                        "annotator": name, "status": ann.status, **body, "note": ann.note,
                        "flag": ann.flag, "updated_at": ann.updated_at,
                        "seconds": round(ann.seconds, 1)})
                if not ctx.gold:
                    done = [a for a in rec["annotations"] if a["status"] == "done"]
                    rec["agreement"] = unit_agreement(done, ctx.schema)
                recs.append(rec)
            out.write(dumps_lines(recs))
            n += len(recs)
    return n


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    from annotator.formats.importing import collect

    for path in collect(paths, (".jsonl",), ctx):
        yield from _read_file(path, ctx)


def _read_file(path: Path, ctx: ImportContext) -> Iterator[ReadItem]:
    spath = str(path)
    group: list[tuple[int, dict]] = []
    made: set[str] = set()
    for lineno, _, obj in iter_json_lines(path):
        if isinstance(obj, Problem):
            ctx.problems.append(obj)
            continue
        rec = _record(obj, spath, lineno, ctx)
        if rec is None:
            continue
        if group and group[0][1]["doc_id"] != rec["doc_id"]:
            yield from _document(group, spath, ctx, made)
            group = []
        group.append((lineno, rec))
    if group:
        yield from _document(group, spath, ctx, made)


def _record(obj: object, path: str, lineno: int, ctx: ImportContext) -> dict | None:
    def bad(msg: str) -> None:
        ctx.problem(path, lineno, msg)

    if not isinstance(obj, dict):
        bad("expected an export record (a JSON object)")
        return None
    unknown = set(obj) - _RECORD_KEYS
    if unknown:
        bad(f"unknown key(s) {', '.join(sorted(map(repr, unknown)))} in an export record")
        return None
    for key, types in (("doc_id", str), ("paragraph", int), ("text", str),
                       ("annotations", list)):
        if not isinstance(obj.get(key), types) or isinstance(obj.get(key), bool):
            bad(f"'{key}' is missing or not a {types.__name__}")
            return None
    if obj["paragraph"] < 0:
        bad("'paragraph' must be 0 or more")
        return None
    if obj.get("title") is not None and not isinstance(obj["title"], str):
        bad("'title' must be a string or null")
        return None
    if not isinstance(obj.get("meta", {}), dict):
        bad("'meta' must be an object")
        return None
    return clean_json(obj)  # type: ignore[return-value]


def _document(group: list[tuple[int, dict]], path: str, ctx: ImportContext,
              made: set[str]) -> Iterator[ReadItem]:
    first = group[0][1]
    doc_id = first["doc_id"]
    by_unit: dict[int, tuple[int, dict]] = {}
    for lineno, rec in group:
        if rec["paragraph"] in by_unit:
            ctx.problem(path, lineno, f"document {doc_id!r} paragraph {rec['paragraph']} "
                                      f"already at line {by_unit[rec['paragraph']][0]}")
            return
        by_unit[rec["paragraph"]] = (lineno, rec)
    stored = ctx.stored_document(doc_id)
    if stored is not None:
        texts = {u.index: u.text for u in stored[1]}
    elif doc_id in made:
        ctx.problem(path, group[0][0], f"document {doc_id!r} appears twice in this file, "
                                       "apart: keep its records together")
        return
    else:
        title = first.get("title")
        body = sorted(i for i in by_unit if i > 0)
        missing = [i for i in range(1, (body[-1] if body else 0) + 1) if i not in by_unit]
        if missing or not body:
            ctx.problem(path, group[0][0], (
                f"document {doc_id!r} is not in this project, and the export lacks its "
                f"paragraph(s) {', '.join(map(str, missing[:10])) or '1'} (an export holds "
                "only annotated units): import the corpus first, then the annotations"))
            return
        if 0 in by_unit and by_unit[0][1]["text"] != (title or ""):
            ctx.problem(path, by_unit[0][0], "paragraph 0 (the title) differs from 'title'")
            return
        meta = first.get("meta") or {}
        doc = Document(clean_text(doc_id), clean_text(title) if title else None,
                       [clean_text(by_unit[i][1]["text"]) for i in body], meta, path)
        texts = dict(doc.units())
        ctx.loss.change("document created from its exported paragraphs only (paragraphs "
                        "after the last annotated one are not in an export)",
                        f"{path}:{group[0][0]}")
        made.add(doc_id)
        yield doc
    for unit, (lineno, rec) in sorted(by_unit.items()):
        where = f"{path}:{lineno}"
        text = texts.get(unit)
        if text is None:
            ctx.problem(path, lineno, f"document {doc_id!r} has no paragraph {unit} in this "
                                      "project")
            continue
        if text != rec["text"]:
            ctx.problem(path, lineno, f"document {doc_id!r} paragraph {unit}: its text differs "
                                      "from the text in this project (re-import the corpus "
                                      "it was exported from)")
            continue
        if rec.get("gold"):
            ctx.loss.lose("gold decision (adjudicate in this project: gold is never "
                          "imported)", where)
        for i, ann in enumerate(rec["annotations"]):
            state = _state(ann, f"annotations/{i}", path, lineno, ctx)
            if state is None:
                continue
            if ann.get("stale"):
                ctx.loss.lose("annotation made on an earlier text of its paragraph (stale)",
                              where)
                continue
            try:
                state = checked_state(state, ctx.schema, text)
            except ActionError as exc:
                ctx.problem(path, lineno, f"annotations/{i} ({ann['annotator']}): {exc}")
                continue
            yield UnitState(doc_id, unit, ann["annotator"], state, where)


def _state(ann: object, where: str, path: str, lineno: int, ctx: ImportContext
           ) -> dict | None:
    if not isinstance(ann, dict) or not isinstance(ann.get("annotator"), str) \
            or not ann["annotator"]:
        ctx.problem(path, lineno, f"{where}: an annotation needs an 'annotator'")
        return None
    unknown = set(ann) - _ANN_KEYS
    if unknown:
        ctx.problem(path, lineno, f"{where}: unknown key(s) "
                                  f"{', '.join(sorted(map(repr, unknown)))}")
        return None
    status = ann.get("status")
    if status not in ("done", "skipped"):
        ctx.problem(path, lineno, f"{where}: status must be 'done' or 'skipped'")
        return None
    labels = ann.get("labels") or {}
    if isinstance(labels, dict):
        # the export writes every paragraph layer ([] / null when empty)
        labels = {k: v for k, v in labels.items() if v not in ([], None)}
    state = {"status": status, "labels": labels if status == "done" else {},
             "spans": ann.get("spans") or [] if status == "done" else [],
             "relations": ann.get("relations") or [] if status == "done" else [],
             "note": ann.get("note"), "flag": ann.get("flag", False)}
    if status == "done" and isinstance(ann.get("decided"), list):
        state["decided"] = ann["decided"]  # only these paragraph layers were decided
    return state
