"""`ptc`: the Propaganda Techniques Corpus / SemEval-2020 Task 11 files.

- Articles `article<ID>.txt` (title on line 1); units by blank line by default
  (`--paragraphs lines` for one unit per line).
- `.labels` files: TC rows `<ID>\\t<technique>\\t<start>\\t<end>`, SI rows
  `<ID>\\t<start>\\t<end>`; offsets in code points of the whole article as Python
  reads it (a BOM is character 0, a newline counts 1); technique names hold commas
  ("Name_Calling,Labeling"). TC spans become spans of the schema's span label of that
  id; SI spans carry no technique, so they are imported only when the schema's span
  layer has exactly one label.

Export writes a folder: articles/article<ID>.txt, labels-TC.labels (every span with
its technique), labels-SI.labels (the spans' union per article: the SI scorer refuses
overlapping spans), propaganda-techniques-names.txt (the scorer's -p list) and ids.tsv.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from annotator.formats.articles import iter_articles, layout
from annotator.formats.model import (
    ExportContext,
    ExportDoc,
    ImportContext,
    ReadItem,
    StateBuilder,
    UnitState,
)
from annotator.formats.offsets import OffsetError
from annotator.formats.semeval2023_t3 import article_id
from annotator.textclean import safe_inline

DEFAULT_PARAGRAPHS = "blank"
PARAGRAPH_MODES = ("blank", "lines")
OUTPUT = "dir"
# split over processes (formats/split.py): the label files appended (ids.tsv without
# its header), article ids distinct across the parts or no split
SPLIT = {"append": {"labels-TC.labels": 0, "labels-SI.labels": 0, "ids.tsv": 1},
         "distinct": ("ids.tsv", 1)}
SINGLE_SET = True
META = "ptc"


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    from annotator.formats.importing import collect

    files = collect(paths, (".txt", ".labels"), ctx)
    rows: dict[str, list] = {}
    for f in files:
        if f.name.endswith(".labels"):
            _rows(f, ctx, rows)
    si_layer = None
    if ctx.schema.span_layers and len(ctx.schema.span_layers[0].labels) == 1:
        si_layer = ctx.schema.span_layers[0]
    seen: set[str] = set()
    for art_id, art in iter_articles(files, ctx, seen):
        yield art.document(art_id, {META: {"article": art_id}})
        builders: dict[int, StateBuilder] = {}
        sources: dict[int, str] = {}
        for where, spath, n, name, start, end in rows.get(art_id, []):
            if name is None:
                if si_layer is None:
                    ctx.loss.lose("SI span without a technique (the schema's span layer "
                                  "has more than one label)", where)
                    continue
                layer, label = si_layer, si_layer.labels[0].id
            else:
                layer, label, err = ctx.labels.span(name)
                if layer is None:
                    ctx.problem(spath, n, err)
                    continue
            try:
                if end > len(art.source):
                    raise OffsetError(f"offsets [{start}, {end}) outside article {art_id} "
                                      f"(length {len(art.source)})")
                s, e = art.clean.map(start), art.clean.map(end)
            except OffsetError as exc:
                ctx.problem(spath, n, str(exc))
                continue
            loc = art.units.locate(s, e)
            if loc is None:
                ctx.loss.lose("span across paragraphs (a span here lies in one paragraph; "
                              "try --paragraphs blank)", where)
                continue
            u, us, ue = loc
            if ue - us != e - s:
                ctx.loss.change("whitespace at a span's edge left out", where)
            b = builders.setdefault(u.index, StateBuilder(u.text))
            sources.setdefault(u.index, where)
            b.add_span(layer, label, us, ue)
        # an article with labels was annotated as a whole: every unit is done
        if art_id in rows:
            for u in art.units.units:
                b = builders.get(u.index) or StateBuilder(u.text)
                yield UnitState(art_id, u.index, None, b.state(),
                                sources.get(u.index, rows[art_id][0][0]))
    for art_id in sorted(set(rows) - seen):
        _w, spath, n, *_ = rows[art_id][0]
        ctx.problem(spath, n, f"article {art_id}: no article{art_id}.txt among the given files")


def _rows(path: Path, ctx: ImportContext, rows: dict) -> None:
    spath = safe_inline(str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.problem(path, 0, f"invalid UTF-8 at byte offset {exc.start}")
        return
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) not in (3, 4):
            ctx.problem(spath, n, f"expected <ID>TAB<technique>TAB<start>TAB<end> (TC) or "
                                  f"<ID>TAB<start>TAB<end> (SI), found {len(cols)} column(s)")
            continue
        name = cols[1] if len(cols) == 4 else None
        try:
            start, end = int(cols[-2]), int(cols[-1])
        except ValueError:
            ctx.problem(spath, n, "start and end must be integers")
            continue
        if not 0 <= start < end:
            ctx.problem(spath, n, f"offsets must satisfy 0 <= start < end (got {start}, {end})")
            continue
        rows.setdefault(cols[0].strip(), []).append((f"{spath}:{n}", spath, n, name, start,
                                                     end))


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    name = ctx.annotators[0] if ctx.annotators else ""
    (dest / "articles").mkdir()
    used: set[str] = set()
    n = 0
    with open(dest / "labels-TC.labels", "w", encoding="utf-8", newline="\n") as tc, \
            open(dest / "labels-SI.labels", "w", encoding="utf-8", newline="\n") as si, \
            open(dest / "ids.tsv", "w", encoding="utf-8", newline="\n") as ids:
        ids.write("article_id\tdoc_id\n")
        for doc in docs:
            aid = article_id(doc, used)
            lay = layout(doc.units, blank_lines=True)
            (dest / "articles" / f"article{aid}.txt").write_text(lay.text, encoding="utf-8",
                                                                 newline="\n")
            ids.write(f"{aid}\t{doc.info.id}\n")
            anns = doc.anns.get(name, {})
            found: list[tuple[int, int, str]] = []
            for u in doc.units:
                ann = anns.get(u.index)
                where = f"{doc.info.id} unit {u.index} ({name})"
                if ann is None or ann.status != "done":
                    ctx.loss.lose("paragraph not annotated (or not content), written as "
                                  "'no propaganda'", where)
                    continue
                for layer_id, value in ann.labels.items():
                    if value:
                        ctx.loss.lose(f"paragraph label of layer {layer_id!r} (PTC holds "
                                      "spans only)", where)
                if ann.relations:
                    ctx.loss.lose("relation (PTC holds spans only)", where, len(ann.relations))
                for sp in ann.spans:
                    start = lay.starts[u.index] + sp["start"]
                    found.append((start, start + sp["end"] - sp["start"], sp["label"]))
                    if sp.get("attributes"):
                        ctx.loss.lose("span attribute", where)
            for a, b, label in sorted(found):
                tc.write(f"{aid}\t{label}\t{a}\t{b}\n")
                n += 1
            merged: list[list[int]] = []
            for a, b, _label in sorted(found):
                if merged and a < merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b)
                else:
                    merged.append([a, b])
            if len(merged) < len(found):
                ctx.loss.change("overlapping spans merged in the SI file (its scorer refuses "
                                "overlaps)", doc.info.id)
            for a, b in merged:
                si.write(f"{aid}\t{a}\t{b}\n")
    layers = ctx.schema.span_layers
    (dest / "propaganda-techniques-names.txt").write_text(
        "".join(lab.id + "\n" for lay in layers for lab in lay.labels), encoding="utf-8")
    return n
