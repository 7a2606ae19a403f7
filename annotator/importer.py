"""Importing corpus files into a store: collects files, streams their documents, and
records each file's fingerprint so `annotate` can re-import only what changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from annotator.corpus import (
    Document,
    collect_files,
    document_id_for,
    file_fingerprint,
    iter_jsonl_documents,
    read_text_document,
    text_of_path,
)
from annotator.store.base import ImportStats
from annotator.store.sqlite import SQLiteStore
from annotator.textclean import safe_inline


def changed_files(store: SQLiteStore, paths: list[Path]) -> list[str]:
    """Corpus files under `paths` that are new or changed since their import (read
    only: for an annotator who may not import)."""
    return [str(f) for f, _root in collect_files(paths, [])
            if store.source_fingerprint(text_of_path(str(f.resolve()))) != file_fingerprint(f)]


def import_paths(store: SQLiteStore, paths: list[Path], project_root: Path,
                 progress: Callable[[int, int], None] | None = None,
                 only_changed: bool = False) -> ImportStats:
    """Import every corpus file under `paths` in one transaction: a file with an error
    raises InputError and nothing of this call is stored.

    progress(bytes_done, bytes_total) is called as files are read.
    """
    skipped: list[str] = []
    files = collect_files(paths, skipped)
    fingerprints: dict[str, str] = {}
    todo: list[Path] = []
    for f, _root in files:
        fp = file_fingerprint(f)
        key = text_of_path(str(f.resolve()))
        if only_changed and store.source_fingerprint(key) == fp:
            continue
        fingerprints[key] = fp
        todo.append(f)
    if not todo:
        return ImportStats(skipped=skipped)  # nothing changed: no write transaction
    total = sum(f.stat().st_size for f in todo)

    def documents() -> Iterator[Document]:
        base = 0
        for f in todo:
            size = f.stat().st_size
            if f.suffix == ".jsonl":
                def on_offset(off: int, _base: int = base) -> None:
                    if progress:
                        progress(_base + off, total)
                for doc in iter_jsonl_documents(f, on_offset):
                    if doc.units():
                        yield doc
                    else:
                        skipped.append(f"{safe_inline(str(f))}: document {doc.id!r} has no "
                                       "text; not imported")
            else:
                doc = read_text_document(f, document_id_for(f, project_root))
                if doc is None:
                    skipped.append(f"{safe_inline(str(f))}: empty file, nothing to import")
                else:
                    yield doc
            base += size
            if progress:
                progress(base, total)

    stats = store.import_documents(documents(), sources=fingerprints)
    stats.files = len(todo)
    stats.skipped = skipped
    return stats
