"""`brat`: standoff `.txt` + `.ann` files and an `annotation.conf` from the schema.

Offsets are code points of the `.txt` as brat reads it (UTF-8, universal newlines, a
BOM is character 0). The `.txt` is a document in this tool's corpus layout (title on
line 1, paragraphs separated by blank lines), so `--paragraphs blank` (the default)
reads it back to the same units.

Convention for what brat has no notion of (docs/formats.md):
- an annotated unit is a `Paragraph` text-bound annotation covering the whole unit
  (one fragment per line of it); its attributes carry the paragraph labels: a binary
  attribute `<layer>_<label>` for each label of a multi layer, `<layer>` with the label
  as value for a single layer, `Skipped` (not content) and `Flagged`; an
  `AnnotatorNotes` comment on it is the unit's note.
- a span is a `T` of its label's type (`<layer>_<label>` when two span layers share a
  label id), its attributes `A` lines, relations `R` lines (Arg1 = from, Arg2 = to).
  Names are brat's storage form ([A-Za-z0-9_-], other characters as `_`).
A `.ann` with no `Paragraph` at all (any other brat project) is a document annotated
as a whole: all its units are imported as annotated. Events (E), normalizations (N),
equivalences (*) and discontinuous spans cannot be carried (listed, not dropped).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from annotator.corpus import document_id_for
from annotator.errors import InputError
from annotator.formats.articles import layout, read_article
from annotator.formats.model import (
    ExportContext,
    ExportDoc,
    ImportContext,
    ReadItem,
    StateBuilder,
    UnitState,
    safe_file_part,
)
from annotator.formats.offsets import OffsetError
from annotator.schema import LabelSchema
from annotator.textclean import safe_inline

DEFAULT_PARAGRAPHS = "blank"
PARAGRAPH_MODES = ("blank", "lines")
OUTPUT = "dir"
# An export split over processes (formats/split.py): one .txt and .ann per document;
# annotation.conf is the same in every part.
SPLIT: dict = {}
PARAGRAPH = "Paragraph"
SKIPPED = "Skipped"
FLAGGED = "Flagged"


def storage(name: str) -> str:
    """brat's storage form of a type or attribute name (projectconfig.py)."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name.replace(" ", "_"))


class Names:
    """The brat names of the schema's labels and attributes, both ways."""

    def __init__(self, schema: LabelSchema):
        self.span: dict[tuple[str, str], str] = {}
        self.flag_attr: dict[tuple[str, str], str] = {}  # (multi layer, label) -> binary
        self.value_attr: dict[str, str] = {}  # single layer -> attribute
        self.value: dict[tuple[str, str], str] = {}  # (single layer, label) -> value
        counts: dict[str, int] = {}
        for layer in schema.span_layers:
            for lab in layer.labels:
                counts[lab.id] = counts.get(lab.id, 0) + 1
        used: dict[str, str] = {PARAGRAPH: "the paragraph marker"}
        for layer in schema.layers:
            for lab in layer.labels:
                if layer.kind == "span":
                    name = storage(lab.id if counts[lab.id] == 1 else f"{layer.id}_{lab.id}")
                    self._claim(used, name, f"{layer.id}:{lab.id}")
                    self.span[(layer.id, lab.id)] = name
                elif layer.kind == "multi":
                    name = storage(f"{layer.id}_{lab.id}")
                    self._claim(used, "A:" + name, f"{layer.id}:{lab.id}")
                    self.flag_attr[(layer.id, lab.id)] = name
                else:
                    self.value[(layer.id, lab.id)] = storage(lab.id)
            if layer.kind == "single":
                self._claim(used, "A:" + storage(layer.id), layer.id)
                self.value_attr[layer.id] = storage(layer.id)
        self.span_back = {v: k for k, v in self.span.items()}
        self.flag_back = {v: k for k, v in self.flag_attr.items()}
        self.value_attr_back = {v: k for k, v in self.value_attr.items()}
        self.value_back = {(lay, v): lab for (lay, lab), v in self.value.items()}
        self.relations = {storage(r.id): r.id for lay in schema.span_layers
                          for r in lay.relations}

    @staticmethod
    def _claim(used: dict[str, str], name: str, what: str) -> None:
        if name in used:
            raise InputError(f"brat: {what} and {used[name]} have the same brat name "
                             f"{name.removeprefix('A:')!r}: rename one in the schema")
        used[name] = what


# ------------------------------------------------------------------ reading


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    from annotator.formats.importing import collect

    names = Names(ctx.schema)
    files = collect(paths, (".txt", ".ann"), ctx)
    txts = sorted({f.with_suffix(".txt") for f in files})
    for txt in txts:
        ann = txt.with_suffix(".ann")
        if not txt.is_file():
            ctx.problem(ann, 0, "no .txt beside this .ann")
            continue
        try:
            art = read_article(txt, ctx.paragraphs)
        except InputError as exc:
            ctx.problems.extend(exc.problems)
            continue
        if not art.units.units:
            continue
        doc_id = document_id_for(txt, ctx.project_root)
        yield art.document(doc_id, {})
        if ann.is_file():
            yield from _read_ann(ann, art, doc_id, names, ctx)


def _read_ann(path: Path, art, doc_id: str, names: Names, ctx: ImportContext
              ) -> Iterator[UnitState]:
    spath = safe_inline(str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.problem(path, 0, f"invalid UTF-8 at byte offset {exc.start}")
        return
    builders: dict[int, StateBuilder] = {}
    marked: set[int] = set()
    tb: dict[str, tuple] = {}  # T id -> ("para", unit) | ("span", unit, span dict, layer)
    pending: list[tuple[int, str, str]] = []  # A, R, # lines after the T lines
    for n, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        ident, tab, rest = raw.partition("\t")
        where = f"{spath}:{n}"
        if not tab or not re.match(r"^([A-Za-z]+|#[A-Za-z]*)[0-9]+", ident) and ident != "*":
            ctx.problem(spath, n, "not a brat annotation line (ID<TAB>...)")
            continue
        kind = ident[0]
        if kind == "T":
            _text_bound(ident, rest, spath, n, where, art, names, ctx, builders, marked, tb)
        elif kind in "AMR#":
            pending.append((n, ident, rest))
        elif kind == "E":
            ctx.loss.lose("brat event (E)", where)
        elif kind == "N":
            ctx.loss.lose("brat normalization (N)", where)
        elif kind == "*":
            ctx.loss.lose("brat equivalence (*)", where)
        else:
            ctx.problem(spath, n, f"unknown annotation kind {ident!r}")
    for n, ident, rest in pending:
        where = f"{spath}:{n}"
        data, _, tail = rest.partition("\t")
        parts = data.split()
        if ident[0] in "AM":
            if len(parts) not in (2, 3):
                ctx.problem(spath, n, "an attribute is NAME TARGET [VALUE]")
                continue
            _attribute(parts, spath, n, where, names, ctx, builders, tb)
        elif ident[0] == "R":
            m = re.match(r"^(\S+) Arg1:(\S+) Arg2:(\S+)$", data.strip())
            if m is None:
                ctx.problem(spath, n, "a relation is TYPE Arg1:ID Arg2:ID")
                continue
            rtype, a1, a2 = m.groups()
            rel = names.relations.get(rtype) or (rtype if rtype in ctx.labels.relations else None)
            if rel is None:
                ctx.problem(spath, n, f"no relation {rtype!r} in schema {ctx.schema.id!r}")
                continue
            ends = [tb.get(a) for a in (a1, a2)]
            if any(e is None for e in ends):
                if any(a.startswith("E") or a not in tb for a in (a1, a2)) and \
                        all(a.startswith(("T", "E")) for a in (a1, a2)):
                    ctx.loss.lose("relation to an event or a span that could not be carried",
                                  where)
                else:
                    ctx.problem(spath, n, "a relation end is no span of this file")
                continue
            if ends[0][0] != "span" or ends[1][0] != "span" or ends[0][1] != ends[1][1]:
                ctx.loss.lose("relation between spans of different paragraphs", where)
                continue
            builders[ends[0][1]].add_relation(rel, ends[0][2]["id"], ends[1][2]["id"])
        else:  # '#': a comment
            if len(parts) != 2:
                ctx.problem(spath, n, "a note is TYPE TARGET<TAB>TEXT")
                continue
            target = tb.get(parts[1])
            note = tail.lstrip("\t")
            if target is not None and target[0] == "para" and parts[0] == "AnnotatorNotes":
                builders[target[1]].note = note
            else:
                ctx.loss.lose("note on an annotation other than a paragraph", where)
    # no Paragraph marker at all: a document annotated as a whole
    units = sorted(set(builders)) if marked else [u.index for u in art.units.units]
    for idx in units:
        b = builders.get(idx) or StateBuilder(art.units.by_index(idx).text)
        if b.status == "skipped":
            b.labels, b.spans, b.relations = {}, [], []
        yield UnitState(doc_id, idx, None, b.state(), f"{spath}")


def _text_bound(ident, rest, spath, n, where, art, names, ctx, builders, marked, tb):
    data, _, text = rest.partition("\t")
    typ, _, offs = data.partition(" ")
    frags = []
    try:
        for frag in offs.split(";"):
            a, b = frag.split()
            frags.append((int(a), int(b)))
    except ValueError:
        ctx.problem(spath, n, "offsets must be START END pairs separated by ';'")
        return
    src = art.source
    for a, b in frags:
        if not 0 <= a < b <= len(src):
            ctx.problem(spath, n, f"offsets [{a}, {b}) outside the text (length {len(src)})")
            return
    given = " ".join(src[a:b] for a, b in frags)
    if text != given:
        ctx.problem(spath, n, f"the span's text {text!r} is not the text's {given!r} there")
        return
    # fragments separated only by a newline are one stretch (how brat cuts a selection
    # at line ends)
    merged = [frags[0]]
    for a, b in frags[1:]:
        if src[merged[-1][1]:a].strip() == "":
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    try:
        s, e = art.clean.map(merged[0][0]), art.clean.map(merged[-1][1])
    except OffsetError as exc:
        ctx.problem(spath, n, str(exc))
        return
    if typ == PARAGRAPH:
        loc = art.units.locate(s, e)
        if loc is None or loc[1] != 0 or loc[2] != len(loc[0].text):
            ctx.problem(spath, n, "a Paragraph annotation must cover one whole paragraph")
            return
        builders.setdefault(loc[0].index, StateBuilder(loc[0].text))
        marked.add(loc[0].index)
        tb[ident] = ("para", loc[0].index)
        return
    key = names.span_back.get(typ)
    if key is None:
        layer, label, err = ctx.labels.span(typ)
        if layer is None:
            ctx.problem(spath, n, f"type {typ!r}: {err}")
            return
    else:
        layer, label = ctx.schema.layer(key[0]), key[1]
    if len(merged) > 1:
        ctx.loss.lose("discontinuous span (fragments ';')", where)
        return
    loc = art.units.locate(s, e)
    if loc is None:
        ctx.loss.lose("span across paragraphs (a span here lies in one paragraph)", where)
        return
    u, us, ue = loc
    if ue - us != e - s:
        ctx.loss.change("whitespace at a span's edge or line end left out (not in the "
                        "stored paragraph)", where)
    b = builders.setdefault(u.index, StateBuilder(u.text))
    tb[ident] = ("span", u.index, b.add_span(layer, label, us, ue), layer)


def _attribute(parts, spath, n, where, names, ctx, builders, tb):
    name, target = parts[0], parts[1]
    value = parts[2] if len(parts) == 3 else None
    t = tb.get(target)
    if t is None:
        if target.startswith("E") or target.startswith("T"):
            ctx.loss.lose("attribute of an event or of a span that could not be carried",
                          where)
        else:
            ctx.problem(spath, n, f"attribute target {target!r} is no annotation here")
        return
    if t[0] == "para":
        b = builders[t[1]]
        if name == SKIPPED and value is None:
            b.status = "skipped"
        elif name == FLAGGED and value is None:
            b.flag = True
        elif name in names.flag_back and value is None:
            layer_id, label = names.flag_back[name]
            b.add_label(ctx.schema.layer(layer_id), label)
        elif name in names.value_attr_back and value is not None:
            layer_id = names.value_attr_back[name]
            label = names.value_back.get((layer_id, value))
            if label is None:
                ctx.problem(spath, n, f"no label {value!r} in layer {layer_id!r}")
                return
            msg = b.add_label(ctx.schema.layer(layer_id), label)
            if msg:
                ctx.problem(spath, n, msg)
        else:
            ctx.problem(spath, n, f"unknown paragraph attribute {name!r}")
        return
    span, layer = t[2], t[3]
    lab = layer.label(span["label"])
    att = next((a for a in lab.attributes if storage(a.id) == name), None)
    if att is None:
        ctx.problem(spath, n, f"label {span['label']!r} has no attribute {name!r}")
        return
    if value is None and len(att.values) == 1:
        value = storage(att.values[0])  # a binary brat attribute: the one value
    val = next((v for v in att.values if storage(v) == value), None)
    if val is None:
        ctx.problem(spath, n, f"attribute {att.id!r} has no value {value!r}")
        return
    span["attributes"][att.id] = val


# ------------------------------------------------------------------ writing


def conf(schema: LabelSchema, names: Names) -> str:
    out = ["# annotation.conf for brat, written from the label schema "
           f"{schema.id!r} version {schema.version}", "", "[entities]", PARAGRAPH]
    out += [name for name in names.span.values()]
    out += ["", "[relations]",
            "<OVERLAP> Arg1:<ENTITY>, Arg2:<ENTITY>, <OVL-TYPE>:<ANY>"]
    for layer in schema.span_layers:
        for r in layer.relations:
            src = "|".join(names.span[(layer.id, s)] for s in r.sources)
            dst = "|".join(names.span[(layer.id, t)] for t in r.targets)
            out.append(f"{storage(r.id)} Arg1:{src}, Arg2:{dst}")
    out += ["", "[events]", "", "[attributes]", f"{SKIPPED} Arg:{PARAGRAPH}",
            f"{FLAGGED} Arg:{PARAGRAPH}"]
    out += [f"{name} Arg:{PARAGRAPH}" for name in names.flag_attr.values()]
    for layer_id, name in names.value_attr.items():
        vals = "|".join(v for (lay, _), v in names.value.items() if lay == layer_id)
        out.append(f"{name} Arg:{PARAGRAPH}, Value:{vals}")
    attrs: dict[str, tuple[list[str], list[str]]] = {}
    for layer in schema.span_layers:
        for lab in layer.labels:
            for att in lab.attributes:
                args, vals = attrs.setdefault(storage(att.id), ([], []))
                args.append(names.span[(layer.id, lab.id)])
                vals.extend(storage(v) for v in att.values if storage(v) not in vals)
    for name, (args, vals) in attrs.items():
        out.append(f"{name} Arg:{'|'.join(args)}, Value:{'|'.join(vals)}")
    return "\n".join(out) + "\n"


def _fragments(text: str, start: int, end: int) -> tuple[str, str]:
    """brat offsets (one fragment per line) and text of [start, end) of `text`."""
    piece = text[start:end]
    if "\n" not in piece:  # the common case: one fragment
        return (f"{start} {end}", piece) if piece else ("", "")
    frags, pos = [], start
    for piece in text[start:end].split("\n"):
        if piece:
            frags.append((pos, pos + len(piece)))
        pos += len(piece) + 1
    return ";".join(f"{a} {b}" for a, b in frags), " ".join(text[a:b] for a, b in frags)


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    names = Names(ctx.schema)
    (dest / "annotation.conf").write_text(conf(ctx.schema, names), encoding="utf-8")
    per_annotator = len(ctx.annotators) > 1
    layers: dict = {}  # layer by id, as schema.layer finds it, asked once per label
    for layer in ctx.schema.layers:
        layers.setdefault(layer.id, layer)
    made: set[str] = {str(dest)}  # folders made (a document id with '/' is a path)
    n = 0
    for doc in docs:
        lay = layout(doc.units, blank_lines=True)
        texts = {u.index: u.text for u in doc.units}
        for name in ctx.annotators:
            anns = doc.anns.get(name)
            if not anns:
                continue
            # plain strings, not Path objects: two files for each of 100,000 documents
            base = os.path.join(os.path.join(str(dest), safe_file_part(name)) if per_annotator
                                else str(dest), safe_file_part(doc.info.id))
            parent = os.path.dirname(base)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            with open(base + ".txt", "w", encoding="utf-8", newline="\n") as fh:
                fh.write(lay.text)
            lines: list[str] = []
            counter = {"T": 0, "A": 0, "R": 0, "#": 0}

            def new(kind: str, counter: dict = counter) -> str:
                counter[kind] += 1
                return f"{kind}{counter[kind]}"

            for idx, ann in sorted(anns.items()):
                at = lay.starts[idx]
                text = texts.get(idx, "")
                if not text:
                    continue
                offs, frag_text = _fragments(lay.text, at, at + len(text))
                pt = new("T")
                lines.append(f"{pt}\t{PARAGRAPH} {offs}\t{frag_text}")
                if ann.status == "skipped":
                    lines.append(f"{new('A')}\t{SKIPPED} {pt}")
                if ann.flag:
                    lines.append(f"{new('A')}\t{FLAGGED} {pt}")
                for layer_id, value in ann.labels.items():
                    layer = layers.get(layer_id)
                    given = value if isinstance(value, list) else [value] if value else []
                    for label in given:
                        if layer is None or layer.label(label) is None:
                            ctx.loss.lose("label not in the schema", f"{doc.info.id} unit "
                                                                     f"{idx} ({name})")
                        elif layer.kind == "multi":
                            lines.append(f"{new('A')}\t{names.flag_attr[(layer_id, label)]} {pt}")
                        else:
                            lines.append(f"{new('A')}\t{names.value_attr[layer_id]} {pt} "
                                         f"{names.value[(layer_id, label)]}")
                if ann.note:
                    lines.append(f"{new('#')}\tAnnotatorNotes {pt}\t"
                                 f"{ann.note.replace(chr(10), ' ')}")
                    if "\n" in ann.note:
                        ctx.loss.change("line breaks of a note written as spaces",
                                        f"{doc.info.id} unit {idx} ({name})")
                ids: dict[str, str] = {}
                for sp in ann.spans:
                    tname = names.span.get((sp["layer"], sp["label"]))
                    if tname is None:
                        ctx.loss.lose("span label not in the schema",
                                      f"{doc.info.id} unit {idx} ({name})")
                        continue
                    offs, frag_text = _fragments(lay.text, at + sp["start"], at + sp["end"])
                    tid = ids[sp["id"]] = new("T")
                    lines.append(f"{tid}\t{tname} {offs}\t{frag_text}")
                    for att, val in (sp.get("attributes") or {}).items():
                        lines.append(f"{new('A')}\t{storage(att)} {tid} {storage(val)}")
                for rel in ann.relations:
                    if rel["from"] in ids and rel["to"] in ids:
                        lines.append(f"{new('R')}\t{storage(rel['label'])} "
                                     f"Arg1:{ids[rel['from']]} Arg2:{ids[rel['to']]}\t")
            with open(base + ".ann", "w", encoding="utf-8", newline="\n") as fh:
                fh.write("".join(x + "\n" for x in lines))
            n += 1
    return n
