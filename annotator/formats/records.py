"""Shared by the JSON record formats (doccano, Prodigy, Label Studio): which unit a
record is, and its offsets mapped into the unit's stored text.

A record written by this tool names its unit (`doc_id`, `paragraph`) and holds the
unit's stored text: its offsets are the unit's. Any other record is a document of its
own with one unit (paragraph 1, no title) whose text is the record's text, cleaned as
stored text is (NFC, `\\n`, controls made visible: offsets are remapped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from annotator.corpus import Document
from annotator.formats.model import ImportContext
from annotator.formats.offsets import CleanMap, OffsetError, Utf16, split_units
from annotator.textclean import clean_json, clean_text


@dataclass
class RecordUnit:
    doc_id: str
    unit: int
    text: str  # the unit's stored text
    source_text: str  # the record's text, as its offsets count
    _clean: CleanMap | None = None
    _units: object = None
    _utf16: Utf16 | None = None

    def span(self, start: int, end: int, utf16: bool = False) -> tuple[int, int]:
        """Record offsets -> offsets in the unit's text. Raises OffsetError."""
        if utf16:
            if self._utf16 is None:
                self._utf16 = Utf16(self.source_text)
            start, end = self._utf16.to_cp(start), self._utf16.to_cp(end)
        if not 0 <= start < end <= len(self.source_text):
            raise OffsetError(f"offsets [{start}, {end}) outside the text (length "
                              f"{len(self.source_text)})")
        if self._clean is None:  # a unit of ours: offsets are the unit's
            return start, end
        s, e = self._clean.map(start), self._clean.map(end)
        loc = self._units.locate(s, e)  # type: ignore[attr-defined]
        if loc is None:
            raise OffsetError(f"offsets [{start}, {end}) hold only whitespace")
        return loc[1], loc[2]


class RecordDocs:
    """The documents the records of one import belong to."""

    def __init__(self, ctx: ImportContext, prefix: str):
        self.ctx = ctx
        self.prefix = prefix
        self.ours: dict[str, dict[int, str]] = {}  # doc_id -> unit -> text (not stored)
        self.titles: dict[str, str | None] = {}
        self.metas: dict[str, dict] = {}
        self.foreign: dict[str, str] = {}  # doc_id -> text
        self.where: dict[str, tuple[str, int]] = {}

    def unit(self, rec: dict, meta: dict, text: object, key: object, path: str, line: int
             ) -> RecordUnit | None:
        """The record's unit, or None (a problem was reported)."""
        ctx = self.ctx
        if not isinstance(text, str):
            ctx.problem(path, line, "the record has no 'text' string")
            return None
        doc_id, para = meta.get("doc_id"), meta.get("paragraph")
        if isinstance(doc_id, str) and isinstance(para, int) and not isinstance(para, bool):
            return self._ours(doc_id, para, text, meta, path, line)
        ident = key if isinstance(key, str | int) and not isinstance(key, bool) else \
            hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        doc_id = clean_text(f"{self.prefix}-{ident}")
        if doc_id in self.foreign and self.foreign[doc_id] != text:
            ctx.problem(path, line, f"record {ident!r} has another text than at "
                                    f"{self.where[doc_id][0]}:{self.where[doc_id][1]}")
            return None
        self.foreign.setdefault(doc_id, text)
        self.where.setdefault(doc_id, (path, line))
        clean = CleanMap(text)
        units = split_units(clean.normalized, "whole", title=False)
        if not units.units:
            ctx.problem(path, line, "the record's text is empty")
            return None
        return RecordUnit(doc_id, 1, units.units[0].text, text, clean, units)

    def _ours(self, doc_id: str, para: int, text: str, meta: dict, path: str, line: int
              ) -> RecordUnit | None:
        doc_id = clean_text(doc_id)
        stored = self.ctx.stored_document(doc_id)
        if stored is not None:
            texts = {u.index: u.text for u in stored[1]}
            if texts.get(para) != text:
                self.ctx.problem(path, line, f"document {doc_id!r} paragraph {para}: "
                                 + ("no such paragraph in this project" if para not in texts
                                    else "its text differs from the text in this project"))
                return None
            return RecordUnit(doc_id, para, text, text)
        units = self.ours.setdefault(doc_id, {})
        if units.get(para, text) != text:
            self.ctx.problem(path, line, f"document {doc_id!r} paragraph {para} has two texts")
            return None
        if clean_text(text) != text or (para > 0 and text != text.strip()):
            self.ctx.problem(path, line, "the text of a paragraph written by this tool is "
                                         "stored text (NFC, no controls): this one is not")
            return None
        units[para] = text
        self.where.setdefault(doc_id, (path, line))
        title = meta.get("title")
        self.titles.setdefault(doc_id, clean_text(title) if isinstance(title, str) else None)
        self.metas.setdefault(doc_id, clean_json(meta.get("doc_meta") or {}))
        return RecordUnit(doc_id, para, text, text)

    def documents(self) -> Iterator[Document]:
        for doc_id, text in self.foreign.items():
            if self.ctx.stored_document(doc_id) is None:
                clean = CleanMap(text)
                units = split_units(clean.normalized, "whole", title=False)
                yield Document(doc_id, None, units.paragraphs, {},
                               f"{self.where[doc_id][0]}:{self.where[doc_id][1]}")
        for doc_id, units in self.ours.items():
            body = sorted(i for i in units if i > 0)
            missing = [i for i in range(1, (body[-1] if body else 0) + 1) if i not in units]
            path, line = self.where[doc_id]
            if missing or not body:
                self.ctx.problem(path, line, (
                    f"document {doc_id!r} is not in this project and these files lack its "
                    f"paragraph(s) {', '.join(map(str, missing[:10])) or '1'}: import the "
                    "corpus first, then the annotations"))
                continue
            title = units.get(0, self.titles.get(doc_id))
            yield Document(doc_id, title, [units[i] for i in body], self.metas[doc_id],
                           f"{path}:{line}")
