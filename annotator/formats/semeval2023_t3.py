"""`semeval2023-t3`: SemEval-2023 Task 3 files.

- Articles `article<ID>.txt`: each non-empty line is a paragraph numbered by its line
  (1-based; empty and whitespace-only lines are skipped), the title is paragraph 1.
  Imported in line mode (`--paragraphs lines`, the default): the title becomes unit 0,
  each further non-empty line a unit; the line numbers are kept in the document's
  meta (`semeval2023_t3.lines`) so an export writes the same paragraph numbers.
- Subtask 3 labels `<ID>\\t<paragraph>\\t<T1,T2,...>` (third column empty for none):
  paragraph labels of the schema's techniques layer.
- Subtask 2 frames `<ID>\\t<F1,F2>`: written on export from a `frames` layer (the
  union over the article's paragraphs); article-level, so not imported.
- Spans `<ID>\\t<technique>\\t<start>\\t<end>`: whole-article code points (a BOM is
  character 0, a newline counts 1). Imported as spans where the schema has a span
  label of that id, else as the paragraph labels of every paragraph the span touches
  (the organisers' own projection).

Export writes a folder: articles/, labels-subtask-3.txt (a row for every paragraph of
the template, as the official scorer requires), labels-subtask-3.template,
labels-subtask-3-spans.txt, labels-subtask-2.txt, techniques_subtask3.txt,
frames_subtask2.txt (the label lists the scorer's -f takes) and ids.tsv (article id,
document id).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from annotator.formats.articles import ARTICLE, iter_articles, layout
from annotator.formats.model import (
    ExportContext,
    ExportDoc,
    ImportContext,
    ReadItem,
    StateBuilder,
    UnitState,
)
from annotator.formats.offsets import OffsetError
from annotator.schema import Layer
from annotator.textclean import safe_inline

DEFAULT_PARAGRAPHS = "lines"
PARAGRAPH_MODES = ("lines", "blank")
OUTPUT = "dir"
# split over processes (formats/split.py): the label files appended (ids.tsv without
# its header), article ids distinct across the parts or no split
SPLIT = {"append": {"labels-subtask-3.txt": 0, "labels-subtask-3.template": 0,
                    "labels-subtask-3-spans.txt": 0, "labels-subtask-2.txt": 0,
                    "ids.tsv": 1},
         "distinct": ("ids.tsv", 1)}
SINGLE_SET = True
META = "semeval2023_t3"


# ------------------------------------------------------------------ reading


def _label_rows(path: Path, ctx: ImportContext, rows: dict) -> None:
    """Parse one labels file into rows[(article, kind)] -> list of (line, cols)."""
    spath = safe_inline(str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        ctx.problem(path, 0, f"invalid UTF-8 at byte offset {exc.start}")
        return
    kind = None
    crlf = "\r" in text
    for n, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r") if crlf else raw
        if not line or line.isspace():
            continue
        cols = line.split("\t")
        if len(cols) == 3 and (cols[1].isdigit() or cols[1].strip().isdigit()):
            k = "labels"
        elif len(cols) == 4 and cols[2].strip().lstrip("-").isdigit():
            k = "spans"
        elif len(cols) == 2:
            k = "frames"
        else:
            ctx.problem(spath, n, f"expected <ID>TAB<paragraph>TAB<techniques>, "
                                  f"<ID>TAB<frames> or <ID>TAB<technique>TAB<start>TAB<end> "
                                  f"(found {len(cols)} tab-separated column(s))")
            continue
        if kind is None:
            kind = k
        elif k != kind:
            ctx.problem(spath, n, f"a {k} row in a file of {kind} rows")
            continue
        rows.setdefault((cols[0].strip(), k), []).append((f"{spath}:{n}", spath, n, cols))


def read(paths: list[Path], ctx: ImportContext) -> Iterator[ReadItem]:
    from annotator.formats.importing import collect

    files = collect(paths, (".txt", ".template"), ctx)
    articles = [f for f in files if ARTICLE.match(f.name)]
    rows: dict[tuple[str, str], list] = {}
    for f in files:
        if f.name.endswith(".template") or ARTICLE.match(f.name):
            continue
        _label_rows(f, ctx, rows)
    seen: set[str] = set()
    for art_id, art in iter_articles(articles, ctx, seen):
        lines = [u.lines for u in art.units.units]
        yield art.document(art_id, {META: {"article": art_id, "lines": lines}})
        texts = {u.index: u.text for u in art.units.units}
        by_line = {n: u.index for u in art.units.units for n in u.lines}
        yield from _states(art_id, texts, by_line, rows, ctx, art)
        for kind in ("labels", "frames", "spans"):
            # done with: a 100,000-article import would otherwise hold every row to
            # the end (measured 2.6 GB at its peak)
            rows.pop((art_id, kind), None)
    for art_id, kind in sorted({k for k in rows}):
        if art_id in seen:
            continue
        stored = ctx.stored_document(art_id)
        meta = stored[0].meta.get(META) if stored else None
        if not stored or not meta or kind == "spans":
            _w, spath, n, _c = rows[(art_id, kind)][0]
            ctx.problem(spath, n, f"article {art_id} is not among the given files"
                        + (" (spans need the article file)" if stored and kind == "spans"
                           else " nor imported in this format before"))
            continue
        texts = {u.index: u.text for u in stored[1]}
        by_line = {n: i for i, ls in enumerate(meta["lines"]) for n in ls}
        if texts and min(texts) > 0:  # no title: units start at 1
            by_line = {n: i + 1 for n, i in by_line.items()}
        yield from _states(art_id, texts, by_line, {(art_id, kind): rows[(art_id, kind)]},
                           ctx, None)


def _states(art_id: str, texts: dict[int, str], by_line: dict[int, int], rows: dict,
            ctx: ImportContext, art) -> Iterator[UnitState]:
    builders: dict[int, StateBuilder] = {}
    sources: dict[int, str] = {}
    labelled: set[int] = set()
    seen_rows: dict[int, str] = {}
    for where, spath, n, cols in rows.get((art_id, "labels"), []):
        para = int(cols[1])
        if para in seen_rows:
            ctx.problem(spath, n, f"paragraph {para} of article {art_id} already at "
                                  f"{seen_rows[para]}")
            continue
        seen_rows[para] = where
        unit = by_line.get(para)
        if unit is None:
            ctx.problem(spath, n, f"article {art_id} has no paragraph {para} (line {para} "
                                  "is empty or past the end)")
            continue
        b = builders.setdefault(unit, StateBuilder(texts[unit]))
        sources.setdefault(unit, where)
        labelled.add(unit)
        names = cols[2].strip()
        for name in names.split(",") if names else []:
            layer, label, err = ctx.labels.paragraph(name)
            if layer is None:
                ctx.problem(spath, n, err)
                continue
            msg = b.add_label(layer, label)
            if msg:
                ctx.problem(spath, n, msg)
    for where, _spath, _n, cols in rows.get((art_id, "frames"), []):
        frames = [f for f in cols[1].strip().split(",") if f]
        if frames:
            ctx.loss.lose("subtask-2 frame of a whole article (labels here are per "
                          "paragraph)", where, len(frames))
    for where, spath, n, cols in rows.get((art_id, "spans"), []):
        name = cols[1]
        try:
            start, end = int(cols[2]), int(cols[3])
            if not 0 <= start < end:
                raise OffsetError(f"offsets must satisfy 0 <= start < end (got {start}, {end})")
            s, e = art.clean.map(start), art.clean.map(end)
        except (ValueError, OffsetError) as exc:
            ctx.problem(spath, n, str(exc) if isinstance(exc, OffsetError)
                        else "start and end must be integers")
            continue
        span_layer, label, _err = ctx.labels.span(name)
        if span_layer is not None:
            loc = art.units.locate(s, e)
            if loc is None:
                ctx.loss.lose("span across paragraphs (a span here lies in one paragraph)",
                              where)
                continue
            u, us, ue = loc
            if ue - us != e - s:
                ctx.loss.change("whitespace at a span's edge left out (not in the stored "
                                "paragraph)", where)
            b = builders.setdefault(u.index, StateBuilder(u.text))
            sources.setdefault(u.index, where)
            b.add_span(span_layer, label, us, ue)
            continue
        layer, label, err = ctx.labels.paragraph(name)
        if layer is None:
            ctx.problem(spath, n, err)
            continue
        for u in art.units.units_touching(s, e):
            if u.index in labelled:
                continue  # the labels file says what this paragraph holds
            b = builders.setdefault(u.index, StateBuilder(u.text))
            sources.setdefault(u.index, where)
            b.add_label(layer, label)
    for unit in sorted(builders):
        yield UnitState(art_id, unit, None, builders[unit].state(), sources[unit])


# ------------------------------------------------------------------ writing


def techniques_layer(ctx: ExportContext) -> Layer | None:
    multi = [la for la in ctx.schema.paragraph_layers if la.kind == "multi" and la.id != "frames"]
    named = [la for la in multi if la.id == "techniques"]
    return named[0] if named else (multi[0] if len(multi) == 1 else None)


def article_id(doc: ExportDoc, used: set[str]) -> str:
    metas = doc.info.meta if isinstance(doc.info.meta, dict) else {}
    given = [(metas.get(k) or {}).get("article") for k in (META, "ptc")
             if isinstance(metas.get(k), dict)]
    for cand in (*given, doc.info.id, str(doc.info.key)):
        if isinstance(cand, str) and cand.isdigit() and cand.isascii() and cand not in used:
            used.add(cand)
            return cand
    n = doc.info.key
    while str(n) in used:
        n += 1_000_000_000
    used.add(str(n))
    return str(n)


def write(docs: Iterator[ExportDoc], dest: Path, ctx: ExportContext) -> int:
    name = ctx.annotators[0] if ctx.annotators else ""
    tech = techniques_layer(ctx)
    frames = ctx.schema.layer("frames")
    frames = frames if frames is not None and frames.kind == "multi" else None
    (dest / "articles").mkdir()
    stack = contextlib.ExitStack()
    files = {k: stack.enter_context(open(dest / f, "w", encoding="utf-8", newline="\n"))  # noqa: SIM115
             for k, f in (
        ("labels", "labels-subtask-3.txt"), ("template", "labels-subtask-3.template"),
        ("spans", "labels-subtask-3-spans.txt"), ("frames", "labels-subtask-2.txt"),
        ("ids", "ids.tsv"))}
    used: set[str] = set()
    rows = 0
    try:
        files["ids"].write("article_id\tdoc_id\n")
        for doc in docs:
            aid = article_id(doc, used)
            meta = doc.info.meta.get(META) if isinstance(doc.info.meta, dict) else None
            line_numbers = None
            if meta and isinstance(meta.get("lines"), list) and \
                    len(meta["lines"]) == len(doc.units):
                line_numbers = {u.index: list(ls) for u, ls in zip(doc.units, meta["lines"],
                                                                   strict=True)}
            lay = layout(doc.units, line_numbers, blank_lines=False)
            (dest / "articles" / f"article{aid}.txt").write_text(lay.text, encoding="utf-8",
                                                                 newline="\n")
            files["ids"].write(f"{aid}\t{doc.info.id}\n")
            anns = doc.anns.get(name, {})
            doc_frames: list[str] = []
            for u in doc.units:
                ann = anns.get(u.index)
                where = f"{doc.info.id} unit {u.index} ({name})"
                labels: list[str] = []
                if ann is None:
                    ctx.loss.lose("paragraph not annotated, written as 'no technique' (the "
                                  "scorer needs every paragraph of the template)", where)
                elif ann.status != "done":
                    ctx.loss.lose("paragraph marked not content (skipped), written as 'no "
                                  "technique'", where)
                else:
                    labels = _labels(ann, tech, frames, doc_frames, where, ctx)
                    _spans(ann, u.index, lay, aid, files["spans"], where, ctx)
                    if ann.relations:
                        ctx.loss.lose("relation (no relations in SemEval files)", where,
                                      len(ann.relations))
                    if ann.note or ann.flag:
                        ctx.loss.change("note or flag left out (no place for them)", where)
                pieces = u.text.split("\n")
                if len(pieces) > 1:
                    ctx.loss.change("paragraph with line breaks written as one SemEval "
                                    "paragraph per line, each with the paragraph's labels",
                                    where)
                for n, piece in zip(lay.lines[u.index], pieces, strict=True):
                    files["labels"].write(f"{aid}\t{n}\t{','.join(labels)}\n")
                    files["template"].write(f"{aid}\t{n}\t{piece}\n")
                    rows += 1
            if frames is not None:
                files["frames"].write(f"{aid}\t{','.join(doc_frames)}\n")
    finally:
        stack.close()
    if tech is not None:
        (dest / "techniques_subtask3.txt").write_text(
            "".join(lab.id + "\n" for lab in tech.labels), encoding="utf-8")
    else:
        (dest / "labels-subtask-3.txt").unlink()
    if frames is not None:
        (dest / "frames_subtask2.txt").write_text(
            "".join(lab.id + "\n" for lab in frames.labels), encoding="utf-8")
    else:
        (dest / "labels-subtask-2.txt").unlink()
    if not (dest / "labels-subtask-3-spans.txt").stat().st_size:
        (dest / "labels-subtask-3-spans.txt").unlink()
    return rows


def _labels(ann, tech: Layer | None, frames: Layer | None, doc_frames: list[str],
            where: str, ctx: ExportContext) -> list[str]:
    out: list[str] = []
    for layer_id, value in ann.labels.items():
        given = value if isinstance(value, list) else [value] if value else []
        if not given:
            continue
        if tech is not None and layer_id == tech.id:
            for label in given:
                if "," in label or "\t" in label or "\n" in label:
                    ctx.loss.lose("label whose id holds a comma or tab (the labels column "
                                  "is comma-separated)", where)
                else:
                    out.append(label)
        elif frames is not None and layer_id == frames.id:
            doc_frames.extend(f for f in given if f not in doc_frames)
            ctx.loss.change("frames of a paragraph written as its article's frames "
                            "(subtask 2 is per article)", where)
        else:
            ctx.loss.lose(f"label of layer {layer_id!r} (SemEval files hold the techniques "
                          "and frames layers)", where, len(given))
    return out


def _spans(ann, index: int, lay, aid: str, out, where: str, ctx: ExportContext) -> None:
    for sp in ann.spans:
        label = sp["label"]
        if "\t" in label or "\n" in label:
            ctx.loss.lose("span label holding a tab", where)
            continue
        start = lay.starts[index] + sp["start"]
        out.write(f"{aid}\t{label}\t{start}\t{start + sp['end'] - sp['start']}\n")
        if sp.get("attributes"):
            ctx.loss.lose("span attribute (no attributes in SemEval files)", where,
                          len(sp["attributes"]))
