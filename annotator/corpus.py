"""Reading corpora: `.txt`, `.md` and `.jsonl` files into `Document`s.

Readers only parse; they never write. A file with any error raises `InputError`
naming the file and line (or byte offset) before the store sees one document of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotator.errors import InputError, Problem
from annotator.textclean import clean_json, clean_text, normalize, safe_inline, visible

SUFFIXES = (".txt", ".md", ".jsonl")


@dataclass
class Document:
    """A document read from a corpus file: title and paragraphs."""

    id: str
    title: str | None
    paragraphs: list[str]
    meta: dict = field(default_factory=dict)
    source: str = ""

    def units(self) -> list[tuple[int, str]]:
        """(unit index, text): unit 0 is the title when there is one, body is 1..N."""
        out = [(0, self.title)] if self.title is not None else []
        out.extend((i, p) for i, p in enumerate(self.paragraphs, start=1))
        return out

    def content_hash(self, unit_hashes: list[str] | None = None) -> str:
        """Hash of everything stored for the document; built from the unit hashes so
        import hashes each paragraph once."""
        if unit_hashes is None:
            unit_hashes = [unit_hash(t) for _, t in self.units()]
        h = hashlib.blake2b(digest_size=16)
        h.update(b"T" if self.title is not None else b"-")
        h.update("".join(unit_hashes).encode())
        if self.meta:
            h.update(json.dumps(self.meta, ensure_ascii=False, sort_keys=True).encode())
        return h.hexdigest()


def unit_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank (whitespace-only) lines; each is stripped."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current).strip())
            current = []
    if current:
        paragraphs.append("\n".join(current).strip())
    return paragraphs


def decode_utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(Problem(
            path, line, col,
            f"invalid UTF-8 at byte offset {exc.start} (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8")) from None


def _clean_unit(text: str) -> str:
    """clean_text of a piece of normalized text (a line, a paragraph), without
    normalizing it again: NFC and newlines hold for the piece, so only a BOM that now
    leads it is left to drop, and its controls to make visible."""
    return visible(text.removeprefix("\ufeff"))


def clean_paragraphs(text: str) -> list[str]:
    """Split on blank lines first (a line of tabs is blank), then make controls visible."""
    return [_clean_unit(p) for p in split_paragraphs(normalize(text))]


def read_text_document(path: Path, doc_id: str) -> Document | None:
    """A `.txt`/`.md` article: first non-empty line is the title. None when empty."""
    spath = safe_inline(str(path))  # a file name may hold ESC: stored as the source
    text = normalize(decode_utf8(path.read_bytes(), spath))
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            title = line.strip()
            if path.suffix == ".md":
                title = title.lstrip("#").strip() or title
            body = clean_paragraphs("\n".join(lines[i + 1:]))
            return Document(doc_id, _clean_unit(title), body, {}, spath)
    return None


_JSONL_KEYS = {"id", "title", "text", "paragraphs", "meta"}


def _jsonl_document(obj: object, path: str, lineno: int) -> Document:
    def bad(msg: str) -> InputError:
        return InputError(Problem(path, lineno, 1, msg))

    if not isinstance(obj, dict):
        raise bad("expected a JSON object per line")
    unknown = set(obj) - _JSONL_KEYS
    if unknown:
        raise bad(f"unknown key(s) {', '.join(sorted(map(repr, unknown)))}; "
                  f"allowed: {', '.join(sorted(_JSONL_KEYS))}")
    doc_id = obj.get("id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise bad("'id' must be a non-empty string")
    title = obj.get("title")
    if title is not None and not isinstance(title, str):
        raise bad("'title' must be a string")
    if ("text" in obj) == ("paragraphs" in obj):
        raise bad("give exactly one of 'text' or 'paragraphs'")
    if "text" in obj:
        if not isinstance(obj["text"], str):
            raise bad("'text' must be a string")
        paragraphs = clean_paragraphs(obj["text"])
    else:
        paras = obj["paragraphs"]
        if not isinstance(paras, list) or not all(isinstance(p, str) for p in paras):
            raise bad("'paragraphs' must be a list of strings")
        paragraphs = [_clean_unit(normalize(p).strip()) for p in paras]
    meta = obj.get("meta", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise bad("'meta' must be an object")
    # Exported and printed as given otherwise: a lone surrogate could not be stored,
    # and C1 / ESC in a value would reach the terminal of whoever prints the export.
    meta = clean_json(meta)
    if title is not None:
        title = clean_text(title).strip() or None  # "" is no title, not an empty unit 0
    return Document(clean_text(doc_id.strip()), title, paragraphs, meta, path)


def iter_jsonl_documents(path: Path, on_offset: Callable[[int], None] | None = None
                         ) -> Iterator[Document]:
    """Stream documents from a JSONL file; the first bad line raises InputError.

    Callers that must import nothing from a bad file run this inside a transaction
    they roll back on error (the store's import does).
    """
    spath = safe_inline(str(path))  # a file name may hold ESC: stored as the source
    seen: set[str] = set()
    from annotator.jsonl import iter_json_lines  # JSONL corpora only

    for lineno, offset, obj in iter_json_lines(path):
        if isinstance(obj, Problem):
            raise InputError(obj)
        doc = _jsonl_document(obj, spath, lineno)
        if on_offset is not None and lineno % 1000 == 0:
            on_offset(offset)
        if doc.id in seen:
            raise InputError(Problem(spath, lineno, 1,
                                     f"duplicate document id {doc.id!r} in this file"))
        seen.add(doc.id)
        yield doc


def collect_files(paths: list[Path], skipped: list[str] | None = None
                  ) -> list[tuple[Path, Path]]:
    """(file, root) pairs for every corpus file under `paths`, sorted, recursively.

    In a folder, what is not a regular file (a FIFO, a socket, a device, a dangling
    link) is skipped, noted in `skipped`: reading a FIFO would wait forever."""
    out: list[tuple[Path, Path]] = []
    for p in paths:
        if p.is_dir():
            other: dict[str, int] = {}  # files of other types, by suffix: said, not read
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    f = Path(dirpath) / name
                    if f.suffix not in SUFFIXES and not name.startswith("."):
                        kind = f.suffix or "no extension"
                        other[kind] = other.get(kind, 0) + 1
                    if f.suffix in SUFFIXES:
                        if f.is_file():
                            out.append((f, p))
                        elif skipped is not None:
                            skipped.append(f"{safe_inline(str(f))}: not a regular file; "
                                           "skipped")
            if other and skipped is not None:
                kinds = ", ".join(f"{n} {safe_inline(k)}" for k, n in sorted(
                    other.items(), key=lambda kv: (-kv[1], kv[0]))[:6])
                skipped.append(f"{safe_inline(str(p))}: {sum(other.values())} file(s) of "
                               f"other types skipped ({kinds}): a corpus folder is read "
                               f"for {', '.join(SUFFIXES)} files")
        elif p.is_file():
            if p.suffix not in SUFFIXES:
                raise InputError(f"unsupported file type {p.suffix!r}: use "
                                 f"{', '.join(SUFFIXES)}", p)
            out.append((p, p.parent))
        elif p.exists():
            raise InputError("not a regular file or folder (a FIFO, socket or device?)", p)
        else:
            raise InputError("no such file or directory", p)
    return out


def document_id_for(path: Path, project_root: Path) -> str:
    """A stable id from the path: relative to the project when inside it, no suffix."""
    resolved = path.resolve()
    try:
        rel = resolved.relative_to(project_root.resolve())
    except ValueError:
        rel = Path(resolved.name)
    # A file name can hold ESC and friends: ids are shown on screen, so clean them too;
    # and bytes that are not UTF-8 (kept by Python as surrogates) as \xNN.
    return clean_text(text_of_path(rel.with_suffix("").as_posix()))


def text_of_path(name: str) -> str:
    """A file name as text that can be stored: undecodable bytes as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_fingerprint(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
