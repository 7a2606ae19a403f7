"""`doccano`: doccano's JSONL, one file per user (`<user>.jsonl`, in a folder or a zip).

A record: `text`, the labels, and any other keys (doccano's meta, written at the top
level). Labels are `label: ["a", "b"]` (text classification), `label: [[s, e, "L"]]`
(sequence labelling), or `entities: [{id, start_offset, end_offset, label}]` +
`relations: [{from_id, to_id, type}]` (relation extraction), with `cats: [...]` for
paragraph labels beside entities; `Comments` is doccano's comments (our note).
Offsets are UTF-16 code units by default (doccano's browser counts them), or code
points with `--offsets codepoints`.

The user is the file's name (`alice.jsonl` -> alice), or --as for a single file.
doccano writes every example into every user's file, with `[]` both for "nothing
applies" and for "not annotated": such a record cannot be told apart and is listed as
not carried. Records this tool writes say which (`annotator_status`: done, skipped or
null), and name their unit (`doc_id`, `paragraph`).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

from annotator.errors import Problem
from annotator.formats.model import (
    ExportContext,
    ExportDoc,
    ImportContext,
    ReadItem,
    StateBuilder,
    UnitState,
    int_value,
)
from annotator.formats.offsets import OffsetError, Utf16
from annotator.formats.records import RecordDocs
from annotator.jsoncodec import dumps
from annotator.jsonl import iter_json_lines

DEFAULT_OFFSETS = "utf16"
OFFSET_MODES = ("utf16", "codepoints")
OUTPUT = "auto"
EXTENSION = ""
# split over processes (formats/split.py): each annotator's lines appended
SPLIT = {"append": {"*.jsonl": 0}}
_OURS = {"doc_id", "paragraph", "title", "annotator_status", "flag", "doc_meta"}


def output_kind(out: Path | None, ctx: ExportContext) -> str:
    if out is not None and out.suffix == ".zip":
        return "zip"
    if len(ctx.annotators) == 1 and (out is None or out.suffix == ".jsonl"):
        return "file"
    return "dir"


def _files(paths: list[Path], ctx: ImportContext
           ) -> Iterator[tuple[str, str, Path | bytes]]:
    """(display path, user, path or bytes) for each per-user file."""
    from annotator.formats.importing import collect

    for f in collect(paths, (".jsonl", ".zip"), ctx):
        if f.suffix == ".zip":
            with zipfile.ZipFile(f) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    if info.filename.endswith(".jsonl") and not info.is_dir():
                        yield (f"{f}/{info.filename}", Path(info.filename).stem,
                               zf.read(info))
        else:
            yield str(f), f.stem, f


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    docs = RecordDocs(ctx, "doccano")
    states: list[UnitState] = []
    for shown, user, src in _files(paths, ctx):
        if isinstance(src, bytes):
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:
                tmp.write(src)
                tmp.flush()
                lines = list(iter_json_lines(Path(tmp.name)))
        else:
            lines = iter_json_lines(src)
        for lineno, _, obj in lines:
            if isinstance(obj, Problem):
                ctx.problems.append(Problem(shown, obj.line, obj.col, obj.message))
                continue
            st = _record(obj, shown, lineno, user, docs, ctx)
            if st is not None:
                states.append(st)
    yield from docs.documents()
    yield from states


def _record(obj: object, path: str, lineno: int, user: str, docs: RecordDocs,
            ctx: ImportContext) -> UnitState | None:
    if not isinstance(obj, dict):
        ctx.problem(path, lineno, "expected a JSON object per line")
        return None
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    meta = {**meta, **{k: obj[k] for k in _OURS if k in obj}}
    ru = docs.unit(obj, meta, obj.get("text"), obj.get("id"), path, lineno)
    if ru is None:
        return None
    where = f"{path}:{lineno}"
    utf16 = ctx.offsets == "utf16"
    b = StateBuilder(ru.text)
    status = obj.get("annotator_status", "unknown")
    labels = obj.get("label", obj.get("labels"))
    cats = obj.get("cats")
    entities = obj.get("entities")
    n_given = 0

    def bad(msg: str) -> None:
        ctx.problem(path, lineno, msg)

    for key, value in (("label", labels), ("cats", cats), ("entities", entities),
                       ("relations", obj.get("relations"))):
        if value is not None and not isinstance(value, list):
            bad(f"'{key}' must be a list")
            return None
    spans_by_id: dict[object, str] = {}
    for item in (labels or []) + (cats or []):
        if isinstance(item, str):  # a category
            layer, label, err = ctx.labels.paragraph(item)
            if layer is None:
                bad(err)
                continue
            msg = b.add_label(layer, label)
            if msg:
                bad(msg)
            n_given += 1
        elif isinstance(item, list) and len(item) == 3:  # [start, end, label]
            _span(item[0], item[1], item[2], None, ru, b, utf16, path, lineno, ctx,
                  spans_by_id)
            n_given += 1
        else:
            bad(f"a label is a string or [start, end, label], not {json.dumps(item)[:60]}")
    for ent in entities or []:
        if isinstance(ent, list) and len(ent) == 3:
            _span(ent[0], ent[1], ent[2], None, ru, b, utf16, path, lineno, ctx, spans_by_id)
        elif isinstance(ent, dict):
            _span(ent.get("start_offset"), ent.get("end_offset"), ent.get("label"),
                  ent.get("id"), ru, b, utf16, path, lineno, ctx, spans_by_id)
        else:
            bad("an entity is {id, start_offset, end_offset, label} or [start, end, label]")
        n_given += 1
    for rel in obj.get("relations") or []:
        n_given += 1
        if not isinstance(rel, dict) or not isinstance(rel.get("type"), str):
            bad("a relation is {from_id, to_id, type}")
            continue
        if rel["type"] not in ctx.labels.relations:
            bad(f"no relation {rel['type']!r} in schema {ctx.schema.id!r}")
            continue
        src, dst = spans_by_id.get(rel.get("from_id")), spans_by_id.get(rel.get("to_id"))
        if src is None or dst is None:
            bad("a relation's from_id / to_id is no entity of this record")
            continue
        b.add_relation(rel["type"], src, dst)
    comments = obj.get("Comments") or []
    if isinstance(comments, list) and comments:
        texts = [c if isinstance(c, str) else c.get("comment", "") if isinstance(c, dict)
                 else "" for c in comments]
        b.note = "\n".join(t for t in texts if t) or None
    if obj.get("flag") is True:
        b.flag = True
    if status == "unknown":
        if not n_given:
            ctx.loss.lose("record with an empty label list (doccano writes [] both for "
                          "'nothing applies' and for 'not annotated')", where)
            return None
    elif status is None:
        return None  # written by this tool for a unit this user did not annotate
    elif status in ("done", "skipped"):
        b.status = status
    else:
        bad("'annotator_status' must be done, skipped or null")
        return None
    return UnitState(ru.doc_id, ru.unit, user, b.state(), where)


def _span(start, end, name, ident, ru, b, utf16, path, lineno, ctx, spans_by_id) -> None:
    s, e = int_value(start), int_value(end)
    if s is None or e is None or not isinstance(name, str):
        ctx.problem(path, lineno, "a span needs integer offsets and a label")
        return
    layer, label, err = ctx.labels.span(name)
    if layer is None:
        ctx.problem(path, lineno, err)
        return
    try:
        us, ue = ru.span(s, e, utf16)
    except OffsetError as exc:
        ctx.problem(path, lineno, f"{exc}" + (" (UTF-16 code units; --offsets codepoints "
                                              "if the file counts code points)" if utf16 else ""))
        return
    sp = b.add_span(layer, label, us, ue)
    if ident is not None:
        spans_by_id[ident] = sp["id"]


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    spans = bool(ctx.schema.span_layers)
    utf16 = ctx.offsets == "utf16"
    single = dest.suffix != "" or not dest.is_dir()
    outs: dict[str, io.TextIOWrapper] = {}
    n = 0
    try:
        for doc in docs:
            for name in ctx.annotators:
                if name not in outs:
                    target = dest if single else dest / f"{name}.jsonl"
                    outs[name] = open(target, "w", encoding="utf-8")  # noqa: SIM115
                anns = doc.anns.get(name, {})
                for u in doc.units:
                    ann = anns.get(u.index)
                    rec: dict = {"id": f"{doc.info.id}:{u.index}", "text": u.text,
                                 "doc_id": doc.info.id, "paragraph": u.index}
                    if u.index == 0 or (u.index == 1 and doc.info.title is None):
                        rec["doc_meta"] = doc.info.meta
                    if doc.info.title is not None and u.index == 1:
                        rec["title"] = doc.info.title
                    rec["annotator_status"] = ann.status if ann else None
                    cats: list[str] = []
                    ents, rels = [], []
                    if ann is not None and ann.status == "done":
                        for layer_id, value in ann.labels.items():
                            layer = ctx.schema.layer(layer_id)
                            for label in value if isinstance(value, list) else \
                                    [value] if value else []:
                                cats.append(ctx.labels.name(layer, label) if layer else label)
                        conv = Utf16(u.text) if utf16 else None
                        for k, sp in enumerate(ann.spans):
                            layer = ctx.schema.layer(sp["layer"])
                            a, b = sp["start"], sp["end"]
                            if conv is not None:
                                a, b = conv.from_cp(a), conv.from_cp(b)
                            ents.append({"id": k, "label": ctx.labels.name(layer, sp["label"])
                                         if layer else sp["label"], "start_offset": a,
                                         "end_offset": b})
                            if sp.get("attributes"):
                                ctx.loss.lose("span attribute (doccano has none)",
                                              f"{doc.info.id} unit {u.index} ({name})")
                        ids = {sp["id"]: k for k, sp in enumerate(ann.spans)}
                        rels = [{"id": k, "from_id": ids[r["from"]], "to_id": ids[r["to"]],
                                 "type": r["label"]} for k, r in enumerate(ann.relations)]
                    if spans:
                        rec["entities"], rec["relations"], rec["cats"] = ents, rels, cats
                    else:
                        rec["label"] = cats
                    rec["Comments"] = [ann.note] if ann and ann.note else []
                    if ann and ann.flag:
                        rec["flag"] = True
                    outs[name].write(dumps(rec) + "\n")
                    n += 1
    finally:
        for fh in outs.values():
            fh.close()
    return n
