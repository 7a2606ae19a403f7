"""Article files shared by the SemEval, PTC and brat formats: reading `.txt` articles
into units with the offset maps their standoff files need, and writing a document
back as one text whose offsets the writers know."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from annotator.corpus import Document, decode_utf8
from annotator.formats.offsets import CleanMap, Units, split_units
from annotator.store.base import Unit
from annotator.textclean import safe_inline


@dataclass
class Article:
    path: Path
    source: str  # as the tools count offsets: BOM kept, universal newlines
    clean: CleanMap
    units: Units

    def document(self, doc_id: str, meta: dict) -> Document:
        return Document(doc_id, self.units.title, self.units.paragraphs, meta,
                        safe_inline(str(self.path)))


ARTICLE = re.compile(r"^article(\d+)\.txt$")  # SemEval and PTC: ids as in the file names


def iter_articles(files: list[Path], ctx, seen: set[str]) -> Iterator[tuple[str, Article]]:
    """(id, article) for each `article<ID>.txt` among `files`; an id given twice, an
    unreadable or an empty article is a located problem."""
    from annotator.errors import InputError

    for path in files:
        m = ARTICLE.match(path.name)
        if not m:
            continue
        art_id = m.group(1)
        if art_id in seen:
            ctx.problem(path, 0, f"article {art_id} is given twice")
            continue
        seen.add(art_id)
        try:
            art = read_article(path, ctx.paragraphs)
        except InputError as exc:
            ctx.problems.extend(exc.problems)
            continue
        if not art.units.units:
            ctx.problem(path, 0, "the article is empty")
            continue
        yield art_id, art


def read_article(path: Path, mode: str) -> Article:
    """Read an article as brat and the SemEval tools do (UTF-8, universal newlines: a
    `\\r\\n` counts as one character, a BOM as character 0); raises InputError naming
    the byte offset of invalid UTF-8."""
    text = decode_utf8(path.read_bytes(), safe_inline(str(path)))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    clean = CleanMap(text)
    return Article(path, text, clean, split_units(clean.normalized, mode))


@dataclass
class Layout:
    """A document written as one text: each unit's start offset in it and its lines."""

    text: str
    starts: dict[int, int]  # unit index -> offset of its first character
    lines: dict[int, list[int]]  # unit index -> 1-based line numbers


def layout(units: list[Unit], line_numbers: dict[int, list[int]] | None = None,
           blank_lines: bool = True) -> Layout:
    """The document as text: the title on line 1, then the body paragraphs, each
    preceded by a blank line (`blank_lines`) or one per line after one blank line.
    `line_numbers` (from an import) puts every unit's lines back where they were."""
    parts: list[str] = []
    starts: dict[int, int] = {}
    lines: dict[int, list[int]] = {}
    if line_numbers and all(len(line_numbers.get(u.index, [])) ==
                            u.text.count("\n") + 1 for u in units):
        by_line: dict[int, tuple[int, str, int]] = {}
        for u in units:
            offset = 0
            for k, (n, piece) in enumerate(zip(line_numbers[u.index], u.text.split("\n"),
                                               strict=True)):
                by_line[n] = (u.index, piece, offset if k else 0)
                offset += len(piece) + 1
        pos, last = 0, max(by_line)
        for n in range(1, last + 1):
            idx, piece, _ = by_line.get(n, (None, "", 0))
            if idx is not None:
                starts.setdefault(idx, pos)
                lines.setdefault(idx, []).append(n)
            parts.append(piece)
            pos += len(piece) + 1
        return Layout("\n".join(parts) + "\n", starts, lines)
    pos, line = 0, 1
    for i, u in enumerate(units):
        if i:
            gap = 1 if (blank_lines or (i == 1 and units[0].index == 0)) else 0
            parts.append("\n" * gap)
            pos += gap
            line += gap
        starts[u.index] = pos
        n = u.text.count("\n") + 1
        lines[u.index] = list(range(line, line + n))
        parts.append(u.text + "\n")
        pos += len(u.text) + 1
        line += n
    return Layout("".join(parts), starts, lines)
