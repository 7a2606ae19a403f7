"""`prodigy`: Prodigy's JSONL (what `prodigy db-out` writes), one answered task a line.

Read: `text`; `spans` (`start`, `end` code points, `label`; `token_start`/`token_end`
are inclusive token indices, not needed); `relations` (`head_span` / `child_span`, or
`head` / `child` token indices matched to the spans' tokens, `label`); `options` +
`accept` (choices: the accepted option ids are paragraph labels); `label` alone (a
binary classification task); `answer`; `_annotator_id` (else --as, else your login).
Answers are imported as what they are:
- accept: the annotation (a binary `label`: the label applies);
- reject: for a binary `label` task, the unit is annotated without that label; for
  any other task, a rejected example holds no annotation this tool keeps (listed);
- ignore: the unit is marked skipped.
Several binary tasks on the same text by the same annotator make one unit's labels.

Write: one line per annotator and annotated unit: `answer` accept (done) or ignore
(skipped), `spans`, `relations` (with `head_span` / `child_span`; Prodigy's relation
UI also needs `tokens`, which this tool does not make), `options` (every paragraph
label) + `accept`, `meta` (our unit, note and flag), `_annotator_id`, `_session_id`.
"""

from __future__ import annotations

import hashlib
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
    annotator_name,
    int_value,
)
from annotator.formats.offsets import OffsetError
from annotator.formats.records import RecordDocs
from annotator.jsoncodec import dumps_bytes, dumps_lines
from annotator.jsonl import iter_json_lines

OUTPUT = "file"
EXTENSION = ".jsonl"
SPLIT: dict = {}  # split over processes (formats/split.py): the lines joined


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    from annotator.formats.importing import collect

    docs = RecordDocs(ctx, "prodigy")
    units: dict[tuple, tuple[StateBuilder, str, bool]] = {}  # key -> (builder, src, full)
    for path in collect(paths, (".jsonl",), ctx):
        spath = str(path)
        for lineno, _, obj in iter_json_lines(path):
            if isinstance(obj, Problem):
                ctx.problems.append(obj)
                continue
            _task(obj, spath, lineno, docs, units, ctx)
    yield from docs.documents()
    for (annotator, doc_id, unit), (b, src, _full) in units.items():
        yield UnitState(doc_id, unit, annotator, b.state(), src)


def _task(obj: object, path: str, lineno: int, docs: RecordDocs, units: dict,
          ctx: ImportContext) -> None:
    where = f"{path}:{lineno}"
    if not isinstance(obj, dict):
        ctx.problem(path, lineno, "expected a JSON object per line")
        return
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    ru = docs.unit(obj, meta, obj.get("text"), obj.get("_input_hash"), path, lineno)
    if ru is None:
        return
    answer = obj.get("answer", "accept")
    if answer not in ("accept", "reject", "ignore"):
        ctx.problem(path, lineno, f"'answer' must be accept, reject or ignore, not {answer!r}")
        return
    who = obj.get("_annotator_id")
    annotator = annotator_name(who) if isinstance(who, str) and who else None
    binary = isinstance(obj.get("label"), str) and not obj.get("spans") and \
        "options" not in obj
    key = (annotator, ru.doc_id, ru.unit)
    prior = units.get(key)
    if prior is not None and (prior[2] or not binary):
        ctx.loss.lose("second answer to the same example by the same annotator (the first "
                      f"is kept, at {prior[1]})", where)
        return
    if answer == "reject" and not binary:
        ctx.loss.lose("rejected example (answer 'reject': it holds no annotation this tool "
                      "keeps)", where)
        return
    b = prior[0] if prior else StateBuilder(ru.text)
    if answer == "ignore":
        if prior is None:
            b.status = "skipped"
            units[key] = (b, where, True)
        else:
            ctx.loss.lose("ignored task on a unit with other answers", where)
        return
    if binary:
        layer, label, err = ctx.labels.paragraph(obj["label"])
        if layer is None:
            ctx.problem(path, lineno, err)
            return
        if answer == "accept":
            msg = b.add_label(layer, label)
            if msg:
                ctx.problem(path, lineno, msg)
        units[key] = (b, prior[1] if prior else where, False)
        return
    problems = len(ctx.problems)
    for opt in obj.get("accept") or []:
        if not isinstance(opt, str | int):
            ctx.problem(path, lineno, "'accept' holds option ids")
            continue
        layer, label, err = ctx.labels.paragraph(str(opt))
        if layer is None:
            ctx.problem(path, lineno, err)
            continue
        msg = b.add_label(layer, label)
        if msg:
            ctx.problem(path, lineno, msg)
    spans = obj.get("spans") or []
    if not isinstance(spans, list):
        ctx.problem(path, lineno, "'spans' must be a list")
        return
    by_pos: dict[tuple[int, int], str] = {}
    by_token: list[tuple[int, int, str]] = []
    for i, sp in enumerate(spans):
        if not isinstance(sp, dict):
            ctx.problem(path, lineno, f"spans/{i}: not an object")
            continue
        s, e, name = int_value(sp.get("start")), int_value(sp.get("end")), sp.get("label")
        if s is None or e is None or not isinstance(name, str):
            ctx.problem(path, lineno, f"spans/{i}: needs integer start, end and a label")
            continue
        layer, label, err = ctx.labels.span(name)
        if layer is None:
            ctx.problem(path, lineno, f"spans/{i}: {err}")
            continue
        if isinstance(sp.get("text"), str) and ru.source_text[s:e] != sp["text"]:
            ctx.problem(path, lineno, f"spans/{i}: text[{s}:{e}] is "
                                      f"{ru.source_text[s:e]!r}, not {sp['text']!r}")
            continue
        try:
            us, ue = ru.span(s, e)
        except OffsetError as exc:
            ctx.problem(path, lineno, f"spans/{i}: {exc}")
            continue
        new = b.add_span(layer, label, us, ue)
        by_pos[(s, e)] = new["id"]
        ts, te = int_value(sp.get("token_start")), int_value(sp.get("token_end"))
        if ts is not None and te is not None:
            by_token.append((ts, te, new["id"]))
    for i, rel in enumerate(obj.get("relations") or []):
        if not isinstance(rel, dict) or not isinstance(rel.get("label"), str):
            ctx.problem(path, lineno, f"relations/{i}: needs a label")
            continue
        if rel["label"] not in ctx.labels.relations:
            ctx.problem(path, lineno, f"relations/{i}: no relation {rel['label']!r} in schema "
                                      f"{ctx.schema.id!r}")
            continue
        ends = []
        for end in ("head", "child"):
            sp = rel.get(f"{end}_span")
            sid = by_pos.get((sp.get("start"), sp.get("end"))) if isinstance(sp, dict) else None
            tok = rel.get(end)
            if sid is None and isinstance(tok, int):
                sid = next((x for a, z, x in by_token if a <= tok <= z), None)
            ends.append(sid)
        if None in ends:
            ctx.problem(path, lineno, f"relations/{i}: its head or child is no span of the task")
            continue
        b.add_relation(rel["label"], ends[0], ends[1])
    if isinstance(meta.get("note"), str):
        b.note = meta["note"]
    if meta.get("flag") is True:
        b.flag = True
    if obj.get("versions"):
        ctx.loss.change("earlier versions kept by Prodigy's review recipe left out (the task's "
                        "own answer is imported)", where)
    if len(ctx.problems) == problems:
        units[key] = (b, where, True)


def _hash(text: str) -> int:
    return _hash_bytes(text.encode())


def _hash_bytes(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big", signed=True)


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    options = [{"id": ctx.labels.name(layer, lab.id), "text": lab.name}
               for layer in ctx.schema.paragraph_layers for lab in layer.labels]
    names: dict[tuple[str, str], str] = {}  # (layer, label) -> the name written

    def label_name(layer_id: str, label: str) -> str:
        got = names.get((layer_id, label))
        if got is None:
            layer = ctx.schema.layer(layer_id)
            got = names[(layer_id, label)] = ctx.labels.name(layer, label) if layer else label
        return got

    n = 0
    with open(dest, "wb") as out:
        for doc in docs:
            texts = {u.index: u.text for u in doc.units}
            first = min(texts) if texts else None
            lines = []  # the document's tasks, encoded and written at once
            for name in ctx.annotators:
                for idx, ann in sorted(doc.anns.get(name, {}).items()):
                    text = texts.get(idx, "")
                    meta = {"doc_id": doc.info.id, "paragraph": idx}
                    if idx == first:
                        meta["doc_meta"] = doc.info.meta
                    if ann.note:
                        meta["note"] = ann.note
                    if ann.flag:
                        meta["flag"] = True
                    task = {"text": text, "meta": meta, "_input_hash": _hash(text)}
                    if ann.status == "done":
                        spans = {sp["id"]: {"start": sp["start"], "end": sp["end"],
                                            "label": label_name(sp["layer"], sp["label"]),
                                            "text": sp["text"]} for sp in ann.spans}
                        task["spans"] = list(spans.values())
                        task["relations"] = [{"head_span": spans[r["from"]],
                                              "child_span": spans[r["to"]],
                                              "label": r["label"]} for r in ann.relations]
                        if options:
                            task["options"] = options
                            task["accept"] = [
                                label_name(la, lab) for la, v in ann.labels.items()
                                for lab in (v if isinstance(v, list) else [v] if v else [])]
                        if any(sp.get("attributes") for sp in ann.spans):
                            ctx.loss.lose("span attribute (Prodigy spans have none)",
                                          f"{doc.info.id} unit {idx} ({name})")
                        task["answer"] = "accept"
                    else:
                        task["answer"] = "ignore"
                    task["_task_hash"] = _hash_bytes(dumps_bytes(task, sort_keys=True))
                    task["_annotator_id"] = name
                    task["_session_id"] = name
                    lines.append(task)
                    n += 1
            if lines:
                out.write(dumps_lines(lines))
    return n
