"""`label-studio`: Label Studio's JSON tasks (a list, or one task) and, on export, an
XML labelling config generated from the schema (`<out>.label_config.xml`).

Read, per task: `data` (the text: the key the results name with `source: "$key"`,
else `text`, else the task's only string; a list of `{text}` objects is a Paragraphs
task, one unit per item) and `annotations` (each: `completed_by` -> the annotator,
`was_cancelled` -> skipped, `result`). Results:
- `labels`: spans (`value.start`, `end`, `text`, `labels`). Offsets are code points in
  current exports and UTF-16 code units in older ones: when `text[start:end]` is not
  `value.text`, the UTF-16 reading is tried and, when it matches, used (and said).
- `choices`: paragraph labels of the unit (a Text task with several paragraphs has no
  one unit: listed as not carried); with the `id` of a span region, an attribute of it.
- `relation`: `from_id`, `to_id`, `direction` (right: from -> to; left: reversed),
  `labels` (the first is the relation).
- `paragraphlabels` (Paragraphs tasks): `value.start` / `end` are 0-based paragraph
  indices as strings, `startOffset` / `endOffset` offsets in those paragraphs: a range
  covering whole paragraphs gives each its paragraph label; a stretch inside one
  paragraph is a span.
- `textarea` named `note`: the unit's note. Other result types, predictions and drafts
  are listed, never imported as annotations.
Errors are located by file and JSON path (`$[3].annotations[0].result[2]`).

Write: one task per unit of each exported document (all its units, so a document can
be re-created), each annotator's annotation of it (done, or skipped as
`was_cancelled`), and the config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

from annotator.corpus import Document
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
from annotator.formats.offsets import CleanMap, OffsetError, Utf16, split_units
from annotator.formats.records import RecordDocs, RecordUnit
from annotator.jsoncodec import dumps_lines
from annotator.textclean import safe_inline

OUTPUT = "file"
EXTENSION = ".json"
OFFSET_MODES = ("codepoints", "utf16")
EMAIL = "@annotator.invalid"  # completed_by of tasks we write: NAME@annotator.invalid


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    from annotator.formats.importing import collect

    docs = RecordDocs(ctx, "ls")
    out: list[ReadItem] = []
    for path in collect(paths, (".json",), ctx):
        spath = safe_inline(str(path))
        try:
            tasks = json.loads(path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            ctx.problem(spath, 0, f"invalid UTF-8 at byte offset {exc.start}")
            continue
        except json.JSONDecodeError as exc:
            ctx.problem(spath, exc.lineno, f"invalid JSON: {exc.msg}", exc.colno)
            continue
        except RecursionError:
            ctx.problem(spath, 0, "invalid JSON: nested too deep")
            continue
        if isinstance(tasks, dict):
            tasks = [tasks]
            prefix = "$"
        elif isinstance(tasks, list):
            prefix = None
        else:
            ctx.problem(spath, 0, "expected a list of tasks or one task")
            continue
        for i, task in enumerate(tasks):
            where = prefix or f"$[{i}]"
            out.extend(_task(task, spath, where, docs, ctx))
    yield from docs.documents()
    yield from out


def _bad(ctx: ImportContext, path: str, where: str, msg: str) -> None:
    ctx.problem(path, 0, f"{where}: {msg}")


def _text_key(task: dict) -> str | None:
    data = task["data"]
    for ann in task.get("annotations") or []:
        for res in (ann.get("result") or []) if isinstance(ann, dict) else []:
            for k in ("source", "to_name"):
                src = res.get(k) if isinstance(res, dict) else None
                if isinstance(src, str) and src.startswith("$") and src[1:] in data:
                    return src[1:]
    if "text" in data:
        return "text"
    strings = [k for k, v in data.items() if isinstance(v, str | list)
               and k not in ("doc_id", "title")]
    return strings[0] if len(strings) == 1 else None


def _task(task: object, path: str, where: str, docs: RecordDocs, ctx: ImportContext
          ) -> list[ReadItem]:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        _bad(ctx, path, where, "a task is an object with 'data'")
        return []
    key = _text_key(task)
    if key is None:
        _bad(ctx, path, f"{where}.data", "no text: give a 'text' field")
        return []
    value = task["data"][key]
    for other in ("predictions", "drafts"):
        if task.get(other):
            ctx.loss.change(f"{other} left out (not a person's annotation)", f"{path}: {where}")
    if isinstance(value, list):
        return _paragraphs_task(task, key, path, where, ctx)
    meta = {k: v for k, v in task["data"].items() if k in ("doc_id", "paragraph", "title")}
    if isinstance(task["data"].get("meta"), dict):
        meta["doc_meta"] = task["data"]["meta"]
    ru = docs.unit(task, meta, value, task.get("id"), f"{path}: {where}", 0)
    if ru is None:
        return []
    return list(_annotations(task, path, where, ctx, {0: ru}, text_task=True))


def _paragraphs_task(task, key, path, where, ctx) -> list[ReadItem]:
    items = task["data"][key]
    texts = []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            _bad(ctx, path, f"{where}.data.{key}[{k}]", "a paragraph is an object with 'text'")
            return []
        texts.append(item["text"])
    doc_id = f"ls-{task.get('id', where)}"
    units: dict[int, RecordUnit] = {}
    paragraphs = []
    for k, t in enumerate(texts):
        clean = CleanMap(t)
        split = split_units(clean.normalized, "whole", title=False)
        if not split.units:
            _bad(ctx, path, f"{where}.data.{key}[{k}]", "an empty paragraph")
            return []
        paragraphs.append(split.units[0].text)
        units[k] = RecordUnit(doc_id, len(paragraphs), split.units[0].text, t, clean, split)
    out: list[ReadItem] = []
    if ctx.stored_document(doc_id) is None:
        out.append(Document(doc_id, None, paragraphs, {}, f"{path}: {where}"))
    out.extend(_annotations(task, path, where, ctx, units, text_task=False))
    return out


def _annotations(task, path, where, ctx, units: dict[int, RecordUnit], text_task: bool
                 ) -> Iterator[UnitState]:
    anns = task.get("annotations") or []
    if not isinstance(anns, list):
        _bad(ctx, path, f"{where}.annotations", "must be a list")
        return
    for a, ann in enumerate(anns):
        here = f"{where}.annotations[{a}]"
        if not isinstance(ann, dict):
            _bad(ctx, path, here, "an annotation is an object")
            continue
        who = ann.get("completed_by")
        if isinstance(who, dict):
            who = who.get("email") or who.get("id")
        if isinstance(who, str) and who.endswith(EMAIL):
            who = who[: -len(EMAIL)]
        annotator = annotator_name(who) if who not in (None, "") else None
        builders = {k: StateBuilder(ru.text) for k, ru in units.items()}
        touched: set[int] = set(units) if text_task else set()
        regions: dict[str, tuple[int, str, object]] = {}  # region id -> (unit, span id, layer)
        results = ann.get("result") or []
        if not isinstance(results, list):
            _bad(ctx, path, f"{here}.result", "must be a list")
            continue
        later = []
        for r, res in enumerate(results):
            rw = f"{here}.result[{r}]"
            if not isinstance(res, dict) or not isinstance(res.get("value", {}), dict):
                _bad(ctx, path, rw, "a result is an object with a 'value' object")
                continue
            typ = res.get("type")
            if typ == "labels" and text_task:
                _span_result(res, rw, path, ctx, units[0], builders[0], regions)
            elif typ == "paragraphlabels" and not text_task:
                _para_result(res, rw, path, ctx, units, builders, regions, touched)
            elif typ in ("choices", "relation", "textarea"):
                later.append((rw, res))
            else:
                ctx.loss.lose(f"Label Studio result of type {typ!r}", f"{path}: {rw}")
        for rw, res in later:
            _later(res, rw, path, ctx, units, builders, regions, touched, text_task)
        cancelled = bool(ann.get("was_cancelled"))
        for k in sorted(touched):
            b = builders[k]
            if cancelled:
                b.status, b.labels, b.spans, b.relations = "skipped", {}, [], []
            yield UnitState(units[k].doc_id, units[k].unit, annotator, b.state(),
                            f"{path}: {here}")


def _resolve(from_name, name, span: bool, ctx):
    layer = ctx.schema.layer(from_name) if isinstance(from_name, str) else None
    if layer is not None and (layer.kind == "span") == span and layer.label(name):
        return layer, name, ""
    return ctx.labels.span(name) if span else ctx.labels.paragraph(name)


def _span_result(res, rw, path, ctx, ru: RecordUnit, b: StateBuilder, regions) -> None:
    v = res["value"]
    s, e = int_value(v.get("start")), int_value(v.get("end"))
    names = v.get("labels")
    if s is None or e is None or not isinstance(names, list) or not names:
        _bad(ctx, path, f"{rw}.value", "needs integer start and end and a 'labels' list")
        return
    src = ru.source_text
    utf16 = ctx.offsets == "utf16"
    text = v.get("text")
    if isinstance(text, str) and not utf16 and src[s:e] != text:
        conv = Utf16(src)
        try:
            cs, ce = conv.to_cp(s), conv.to_cp(e)
        except OffsetError:
            cs = ce = -1
        if cs >= 0 and src[cs:ce] == text:
            ctx.loss.change("offsets read as UTF-16 code units (an older Label Studio)",
                            f"{path}: {rw}")
            s, e, utf16 = cs, ce, False
        else:
            _bad(ctx, path, f"{rw}.value", f"text[{s}:{e}] is {src[s:e]!r}, not {text!r} "
                                          "(neither as code points nor as UTF-16)")
            return
    try:
        us, ue = ru.span(s, e, utf16)
    except OffsetError as exc:
        _bad(ctx, path, f"{rw}.value", str(exc))
        return
    for name in names:
        layer, label, err = _resolve(res.get("from_name"), name, True, ctx)
        if layer is None:
            _bad(ctx, path, f"{rw}.value.labels", err)
            return
        sp = b.add_span(layer, label, us, ue)
        regions.setdefault(str(res.get("id")), (0, sp["id"], layer))


def _para_result(res, rw, path, ctx, units, builders, regions, touched) -> None:
    v = res["value"]
    try:
        p1, p2 = int(v.get("start")), int(v.get("end"))
    except (TypeError, ValueError):
        _bad(ctx, path, f"{rw}.value", "start and end are paragraph indices")
        return
    so, eo = int_value(v.get("startOffset")), int_value(v.get("endOffset"))
    names = v.get("paragraphlabels")
    if p1 not in units or p2 not in units or p1 > p2 or so is None or eo is None \
            or not isinstance(names, list):
        _bad(ctx, path, f"{rw}.value", "paragraph indices, startOffset, endOffset and "
                                       "'paragraphlabels' out of range or missing")
        return
    whole = so == 0 and eo == len(units[p2].source_text)
    for name in names:
        layer, label, err = _resolve(res.get("from_name"), name, False, ctx)
        if layer is not None and whole:
            for k in range(p1, p2 + 1):
                builders[k].add_label(layer, label)
                touched.add(k)
            continue
        slayer, slabel, serr = _resolve(res.get("from_name"), name, True, ctx)
        if slayer is not None and p1 == p2:
            try:
                us, ue = units[p1].span(so, eo)
            except OffsetError as exc:
                _bad(ctx, path, f"{rw}.value", str(exc))
                return
            sp = builders[p1].add_span(slayer, slabel, us, ue)
            regions.setdefault(str(res.get("id")), (p1, sp["id"], slayer))
            touched.add(p1)
        elif layer is None and slayer is None:
            _bad(ctx, path, f"{rw}.value.paragraphlabels", err)
        else:
            ctx.loss.lose("paragraph label on part of a paragraph, or a span across "
                          "paragraphs", f"{path}: {rw}")


def _later(res, rw, path, ctx, units, builders, regions, touched, text_task) -> None:
    v = res.get("value") or {}
    typ = res["type"]
    if typ == "relation":
        ends = [regions.get(str(res.get(k))) for k in ("from_id", "to_id")]
        labels = res.get("labels") or []
        if None in ends:
            _bad(ctx, path, rw, "from_id / to_id is no region of this annotation")
            return
        if not labels or labels[0] not in ctx.labels.relations:
            _bad(ctx, path, f"{rw}.labels", f"no relation {labels[:1]} in schema "
                                             f"{ctx.schema.id!r}")
            return
        if ends[0][0] != ends[1][0]:
            ctx.loss.lose("relation between spans of different paragraphs", f"{path}: {rw}")
            return
        a, b = ends if res.get("direction") != "left" else ends[::-1]
        builders[a[0]].add_relation(labels[0], a[1], b[1])
        return
    if typ == "textarea":
        texts = v.get("text")
        if res.get("from_name") == "note" and text_task and isinstance(texts, list):
            builders[0].note = "\n".join(t for t in texts if isinstance(t, str)) or None
        else:
            ctx.loss.lose("free-text answer (textarea)", f"{path}: {rw}")
        return
    choices = v.get("choices")
    if not isinstance(choices, list):
        _bad(ctx, path, f"{rw}.value", "needs a 'choices' list")
        return
    region = regions.get(str(res.get("id")))
    if region is not None:  # a per-region choice: an attribute of the span
        unit, sid, layer = region
        span = next(s for s in builders[unit].spans if s["id"] == sid)
        att_id = str(res.get("from_name", "")).removeprefix(f"{layer.id}__")
        lab = layer.label(span["label"])
        att = lab.attribute(att_id) if lab else None
        if att is None or not choices or choices[0] not in att.values:
            _bad(ctx, path, f"{rw}.value", f"no attribute {att_id!r} with value "
                                           f"{choices[:1]} on label {span['label']!r}")
            return
        span["attributes"][att.id] = choices[0]
        return
    if not text_task or len(units) != 1:
        ctx.loss.lose("choices of a task with several paragraphs", f"{path}: {rw}")
        return
    if res.get("from_name") == "flag":
        builders[0].flag = "flagged" in choices
        return
    for name in choices:
        layer, label, err = _resolve(res.get("from_name"), name, False, ctx)
        if layer is None:
            _bad(ctx, path, f"{rw}.value.choices", err)
            continue
        msg = builders[0].add_label(layer, label)
        if msg:
            _bad(ctx, path, f"{rw}.value.choices", msg)


# ------------------------------------------------------------------ writing


def config(ctx: ExportContext) -> str:
    q = quoteattr
    out = ["<View>", '  <Header value="$title"/>', '  <Text name="text" value="$text"/>']
    for layer in ctx.schema.layers:
        if layer.kind == "span":
            out.append(f"  <Labels name={q(layer.id)} toName=\"text\">")
            out += [f"    <Label value={q(lab.id)} hint={q(lab.name)}/>" for lab in layer.labels]
            out.append("  </Labels>")
            attrs = {}
            for lab in layer.labels:
                for att in lab.attributes:
                    attrs.setdefault(att.id, [])
                    attrs[att.id] += [v for v in att.values if v not in attrs[att.id]]
            for att_id, values in attrs.items():
                out.append(f"  <Choices name={q(layer.id + '__' + att_id)} toName=\"text\" "
                           'perRegion="true" choice="single-radio">')
                out += [f"    <Choice value={q(v)}/>" for v in values]
                out.append("  </Choices>")
        else:
            choice = "multiple" if layer.kind == "multi" else "single-radio"
            out.append(f"  <Choices name={q(layer.id)} toName=\"text\" choice=\"{choice}\" "
                       'showInline="true">')
            out += [f"    <Choice value={q(lab.id)} hint={q(lab.name)}/>" for lab in layer.labels]
            out.append("  </Choices>")
    rels = [r for layer in ctx.schema.span_layers for r in layer.relations]
    if rels:
        out.append("  <Relations>")
        out += [f"    <Relation value={q(r.id)}/>" for r in rels]
        out.append("  </Relations>")
    out += ['  <TextArea name="note" toName="text" maxSubmissions="1"/>',
            '  <Choices name="flag" toName="text"><Choice value="flagged"/></Choices>',
            "</View>"]
    return "\n".join(out) + "\n"


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    dest.with_name(dest.name + ".label_config.xml").write_text(config(ctx), encoding="utf-8")
    n = 0
    with open(dest, "wb") as out:
        out.write(b"[")
        for doc in docs:
            tasks = []  # the document's tasks, encoded and written at once
            for u in doc.units:
                data = {"text": u.text, "doc_id": doc.info.id, "paragraph": u.index,
                        "title": doc.info.title}
                if u.index == doc.units[0].index:
                    data["meta"] = doc.info.meta
                anns = []
                for name in ctx.annotators:
                    ann = doc.anns.get(name, {}).get(u.index)
                    if ann is None:
                        continue
                    anns.append({"id": len(anns) + 1, "completed_by": {"email": name + EMAIL},
                                 "was_cancelled": ann.status != "done",
                                 "result": _results(ann, u.index) if ann.status == "done"
                                 else [], "created_at": ann.updated_at,
                                 "updated_at": ann.updated_at, "lead_time": ann.seconds})
                tasks.append({"id": n + len(tasks) + 1, "data": data, "annotations": anns})
            if tasks:
                # one task a line (compact JSON has no raw line break), "," between
                encoded = dumps_lines(tasks)
                out.write((b",\n" if n else b"\n") + encoded[:-1].replace(b"\n", b",\n"))
                n += len(tasks)
        out.write(b"\n]\n")
    return n


def _results(ann, index: int) -> list[dict]:
    res: list[dict] = []
    for layer_id, value in ann.labels.items():
        given = value if isinstance(value, list) else [value] if value else []
        if given:
            res.append({"id": f"{layer_id}-{index}", "type": "choices", "from_name": layer_id,
                        "to_name": "text", "value": {"choices": given}})
    region = {}
    for sp in ann.spans:
        rid = region[sp["id"]] = f"{index}-{sp['id']}"
        res.append({"id": rid, "type": "labels", "from_name": sp["layer"], "to_name": "text",
                    "value": {"start": sp["start"], "end": sp["end"], "text": sp["text"],
                              "labels": [sp["label"]]}})
        for att, val in (sp.get("attributes") or {}).items():
            res.append({"id": rid, "type": "choices", "from_name": f"{sp['layer']}__{att}",
                        "to_name": "text", "value": {"choices": [val]}})
    for rel in ann.relations:
        res.append({"type": "relation", "from_id": region[rel["from"]],
                    "to_id": region[rel["to"]], "direction": "right", "labels": [rel["label"]]})
    if ann.note:
        res.append({"id": f"note-{index}", "type": "textarea", "from_name": "note",
                    "to_name": "text", "value": {"text": [ann.note]}})
    if ann.flag:
        res.append({"id": f"flag-{index}", "type": "choices", "from_name": "flag",
                    "to_name": "text", "value": {"choices": ["flagged"]}})
    return res


_TASK_ID = re.compile(rb'\{"id":(\d+),')


def join(dest: Path, part: Path, n: int) -> None:
    """An export split over processes (formats/split.py): the tasks of `part` (numbered
    from 1) after the `n` of `dest`, numbered on, in one JSON list."""
    from annotator.formats.split import Mismatch

    with open(dest, "rb+") as out:
        out.seek(-3, 2)
        if out.read() != b"\n]\n":
            raise Mismatch(f"{dest} does not end as written here")
        out.seek(-3, 2)
        out.truncate()
        with open(part, "rb") as src:
            if src.read(1) != b"[":
                raise Mismatch(f"{part} does not start as written here")
            for k, line in enumerate(src):
                if line == b"]\n":
                    break
                if line == b"\n":
                    continue  # the line break before the first task
                m = _TASK_ID.match(line)
                if m is None or int(m.group(1)) != k:
                    raise Mismatch(f"{part}: task {k} is not numbered {k}")
                out.write((b",\n" if n or k > 1 else b"\n") + b'{"id":%d,' % (n + k)
                          + line[m.end():].rstrip(b",\n").rstrip(b"\n"))
            out.write(b"\n]\n")


SPLIT = {"join": join}
