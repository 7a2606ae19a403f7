"""`annotator import --format F`: documents and annotations from another tool's files.

All or nothing per command: a reader parses and checks every file first (located
problems, what the format cannot carry); the documents go into the corpus in one
transaction; then each annotator's states go into their journal in one transaction
each, as `import_state` events (durable, undoable, replayed by `status --check`, each
naming the file and line it came from). If a journal write fails part way, the error
says exactly what was stored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from annotator.corpus import Document
from annotator.errors import InputError, Problem, StoreError, UsageError
from annotator.formats.loss import LossReport
from annotator.formats.model import ImportContext, LabelIndex, UnitState
from annotator.formats.registry import get_format
from annotator.jsoncodec import compact
from annotator.jsoncodec import loads as read_json
from annotator.schema import LabelSchema
from annotator.store.base import ImportStats

GOLD = "gold"  # the adjudicated journal: written by `annotator adjudicate` only


@dataclass
class ImportResult:
    stats: ImportStats
    loss: LossReport
    annotations: dict[str, int] = field(default_factory=dict)  # annotator -> events stored
    unchanged: dict[str, int] = field(default_factory=dict)  # states already as imported


def collect(paths: list[Path], suffixes: tuple[str, ...],
            ctx: ImportContext | None = None) -> list[Path]:
    """Files under `paths` ending in one of `suffixes`, sorted, recursively; a FIFO or
    device is never opened (reading one would wait forever)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found: list[tuple[tuple[str, ...], Path]] = []
            _walk(p, (), suffixes, found)
            # by path components, as Paths sort
            out.extend(f for _, f in sorted(found, key=lambda t: t[0]))
        elif p.is_file():
            out.append(p)
        elif p.exists():
            raise InputError("not a regular file or folder (a FIFO, socket or device?)", p)
        else:
            raise InputError("no such file or directory", p)
    if ctx is not None:
        ctx.files_read += len(out)
    return out


def _walk(folder: Path, rel: tuple[str, ...], suffixes: tuple[str, ...],
          found: list[tuple[tuple[str, ...], Path]]) -> None:
    """The regular files (or links to one) under `folder` ending in one of `suffixes`,
    hidden files and folders left out, links to folders not followed (as `rglob`): one
    scandir a folder, not a Path and a stat a file (100,000 articles)."""
    try:
        it = os.scandir(folder)
    except PermissionError:
        return
    with it:
        for e in it:
            if e.name.startswith("."):
                continue
            if e.is_dir(follow_symlinks=False):
                _walk(folder / e.name, (*rel, e.name), suffixes, found)
            elif e.name.endswith(suffixes) and e.is_file():
                found.append(((*rel, e.name), folder / e.name))


def import_files(store, schema: LabelSchema, fmt: str, paths: list[Path], project_root: Path,
                 annotator: str | None = None, paragraphs: str | None = None,
                 offsets: str | None = None, allow_loss: bool = False,
                 progress: Callable[[int, int | None], None] | None = None,
                 default_annotator: Callable[[], str] | None = None) -> ImportResult:
    """Import `paths` in format `fmt` into `store`. Raises InputError (nothing stored)
    for any problem in any file, or for annotations the format cannot carry unless
    `allow_loss`; UsageError for options that do not fit."""
    from annotator.store.sqlite import check_annotator_name

    spec = get_format(fmt)
    if spec.read is None:
        raise UsageError(f"format {fmt!r} is export only")
    if paragraphs is not None and paragraphs not in spec.paragraph_modes:
        raise UsageError(f"--paragraphs {paragraphs} does not apply to {fmt} (it takes "
                         f"{' or '.join(spec.paragraph_modes) or 'none'})")
    if offsets is not None and offsets not in spec.offset_modes:
        raise UsageError(f"--offsets {offsets} does not apply to {fmt} (it takes "
                         f"{' or '.join(spec.offset_modes) or 'none'})")
    if annotator is not None:
        check_annotator_name(annotator)
        if annotator == GOLD:
            raise UsageError("'gold' is the adjudicated journal, written by `annotator "
                             "adjudicate` only: import as another name")
    loss = LossReport(fmt)
    ctx = ImportContext(schema=schema, labels=LabelIndex(schema), loss=loss,
                        project_root=project_root,
                        paragraphs=paragraphs or spec.default_paragraphs,
                        offsets=offsets or spec.default_offsets, store=store)
    # (annotator or None, doc_id, unit, state as JSON, source): JSON keeps a million
    # states small until they are written
    states: list[tuple[str | None, str, int, str, str]] = []
    journals: dict[str, object] = {}
    seen: dict[tuple[str | None, str, int], str] = {}

    def documents() -> Iterator[Document]:
        for n, item in enumerate(spec.read(paths, ctx), start=1):
            if isinstance(item, Document):
                yield item
            else:
                _take(item, states, seen, ctx)
            if progress is not None and n % 1000 == 0:
                progress(n, None)
        if ctx.problems:
            raise InputError(ctx.problems)
        names = {s[0] for s in states}
        named = sorted(n for n in names if n is not None)
        if annotator is not None and len(named) > 1:
            raise UsageError(f"these files hold the annotations of {len(named)} annotators "
                             f"({', '.join(named[:5])}{', ...' if len(named) > 5 else ''}): "
                             "--as would merge them into one; leave it out")
        mapping = {n: annotator or n or (default_annotator() if default_annotator else
                                          "annotator") for n in names}
        for raw, name in mapping.items():
            check_annotator_name(name)
            if name == GOLD:
                raise UsageError("these files name the annotator 'gold', the adjudicated "
                                 "journal: give --as NAME")
            if raw is not None and raw != name:
                loss.change(f"annotator name made a valid journal name: {raw!r} -> {name!r}",
                            "names")
        states[:] = [(mapping[a], d, u, s, src) for a, d, u, s, src in states]
        loss.check(allow_loss, "nothing was imported")
        # Every journal is opened before anything is stored: one this user may not
        # write stops the import here.
        for name in sorted(set(mapping.values())):
            j = store.journal(name, schema)
            if j.readonly:
                raise StoreError(f"{name}'s journal belongs to another user: annotations "
                                 "cannot be imported into it; nothing was imported", j.path)
            journals[name] = j

    stats = store.import_documents(documents())
    stats.files = ctx.files_read
    result = ImportResult(stats, loss)
    by_annotator: dict[str, list[tuple[str, int, str, str]]] = {}
    for name, doc_id, unit, state, src in states:
        by_annotator.setdefault(name, []).append((doc_id, unit, state, src))
    done: list[str] = []
    for name in sorted(by_annotator):
        items = by_annotator[name]

        def actions(items: list = items) -> Iterator[tuple[str, int, dict]]:
            for doc_id, unit, state, src in items:
                yield doc_id, unit, {"type": "import_state", "state": read_json(state),
                                     "source": src}
        lost = "nothing of this import was stored in this journal"
        # a journal with no events yet (a fresh import) takes the states set-wise:
        # the same rows, without the per-unit reads of the general path
        fresh = getattr(journals[name], "import_fresh", None)
        try:
            stored = fresh(items, progress, lost=lost) if fresh is not None else None
            if stored is None:
                stored = journals[name].apply_many(actions(), progress, chunk=None,
                                                   skip_unchanged=True, lost=lost)
        except (StoreError, InputError) as exc:
            raise StoreError(_partial(stats, result, name, sorted(by_annotator), done, exc),
                             getattr(journals[name], "path", "")) from None
        result.annotations[name] = stored
        result.unchanged[name] = len(items) - stored
        done.append(name)
    return result


def _take(item: UnitState, states: list, seen: dict, ctx: ImportContext) -> None:
    key = (item.annotator, item.doc_id, item.unit)
    if key in seen:
        ctx.problems.append(Problem("", 0, 0, f"{item.source}: document {item.doc_id!r} unit "
                                              f"{item.unit} is annotated twice by the same "
                                              f"annotator (also at {seen[key]})"))
        return
    seen[key] = item.source
    states.append((item.annotator, item.doc_id, item.unit,
                   compact(item.state), item.source))


def _partial(stats: ImportStats, result: ImportResult, failed: str, names: list[str],
             done: list[str], exc: Exception) -> str:
    stored = "; ".join(f"{n}: {result.annotations[n]:,} unit(s)" for n in done) or "none"
    rest = [n for n in names if n not in done and n != failed]
    why = "; ".join(str(p) for p in getattr(exc, "problems", [])) or str(exc)
    return (f"the documents were imported ({stats.new} new, {stats.changed} changed, "
            f"{stats.unchanged} unchanged); annotations stored for {stored}; NOT stored "
            f"for {failed} ({why})"
            + (f" nor for {', '.join(rest)} (not attempted)" if rest else "")
            + ". Running the same import again stores what is missing (states already "
              "imported are left as they are)")
