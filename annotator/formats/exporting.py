"""`annotator export --format F`: the store's annotations in another tool's format.

Which annotations are written comes from one small function, `choose_sources`: every
annotator's journal, one annotator's (`--annotator NAME`), or the gold journal
(`--gold`, written by adjudication; its states have the shape of any annotator's).
Writers get documents one at a time (`ExportDoc`), so memory stays flat. Output goes
to a temporary file or folder renamed into place at the end: nothing is half-written,
and nothing is left when what the format cannot carry stops the export.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from annotator.errors import InputError, UsageError
from annotator.export import document_rows, paragraph_labels
from annotator.formats import split
from annotator.formats.importing import GOLD
from annotator.formats.loss import LossReport
from annotator.formats.model import Ann, ExportContext, ExportDoc, LabelIndex
from annotator.formats.registry import get_format
from annotator.schema import LabelSchema


@dataclass
class ExportResult:
    records: int
    loss: LossReport
    out: Path | None  # None: stdout
    extra: list[Path]  # files written beside `out` (Label Studio's XML config)


def choose_sources(store, annotator: str | None = None, gold: bool = False
                   ) -> list[tuple[str, object]]:
    """(name, journal) pairs whose annotations are exported: every annotator's (the
    gold journal is not an annotator), one annotator's, or the gold journal's."""
    if gold:  # the gold is no annotator: never among annotators() or reading_journals()
        if not store.has_journal(GOLD):
            raise InputError("no gold journal: adjudicate first (`annotator adjudicate`), "
                             "then export --gold")
        return [(GOLD, store.journal(GOLD))]
    names = store.annotators()
    if annotator is not None:
        if annotator not in names:
            raise InputError(f"no journal of {annotator!r} in this project; annotators: "
                             f"{', '.join(n for n in names if n != GOLD) or 'none yet'}")
        return [(annotator, _readable(store, annotator))]
    return [(j.annotator, j) for j in store.reading_journals() if j.annotator != GOLD]


def _readable(store, name: str):
    journals, private, failed = store.readable_journals()
    if name in failed:
        raise failed[name]
    if name in private:
        raise InputError(f"cannot read {name}'s journal: annotation is blind, so each "
                         "journal is readable by its annotator only (set `blind: false` in "
                         "annotator.yaml once the round is over)")
    return next(j for j in journals if j.annotator == name)


_STATE_KEYS = {"status", "labels", "spans", "relations", "note", "flag", "rejected"}


def _ann(name: str, state: dict, updated_at: str, seconds: float | None,
         schema: LabelSchema) -> Ann | None:
    status = state.get("status")
    if status not in ("done", "skipped"):
        return None
    # a subset test in C: states rarely hold keys beyond these
    extra = {} if state.keys() <= _STATE_KEYS else {
        k: v for k, v in state.items() if k not in _STATE_KEYS}
    if status != "done":  # skipped (not content): no labels, whatever the state holds
        return Ann(name, status, {}, [], [], state.get("note"), bool(state.get("flag")),
                   updated_at[:19] + "Z", float(seconds or 0.0), extra)
    return Ann(name, "done", paragraph_labels(state, schema), list(state.get("spans", [])),
               list(state.get("relations", [])), state.get("note"),
               bool(state.get("flag")), updated_at[:19] + "Z", float(seconds or 0.0), extra)


def iter_export_docs(store, sources: list[tuple[str, object]], schema: LabelSchema,
                     loss: LossReport, progress: Callable[[int, int], None] | None = None,
                     keys: tuple[int, int] | None = None, mark: list | None = None
                     ) -> Iterator[ExportDoc]:
    """Documents in corpus order that hold at least one done or skipped unit of the
    sources, read as of one moment (`SQLiteStore.snapshot`). Annotations on a paragraph
    whose text changed since (stale) are listed as not carried: their offsets refer to
    text the store no longer holds as the unit. `keys`, `mark`: as for `iter_records`
    (a SQLite store only)."""
    journals = [j for _, j in sources]
    names = [name for name, _ in sources]
    with store.snapshot(journals):
        total = store.document_count()
        if mark is not None:
            mark.append(store.snapshot_mark(journals))
        for n, doc, units, per in _document_rows(store, sources, keys):
            if progress and n % 500 == 0:
                progress(n, total)
            if not any(per):
                continue
            shas = {u.index: u.sha for u in units}
            anns: dict[str, dict[int, Ann]] = {}
            for name, rows in zip(names, per, strict=True):
                for idx, state, updated_at, seconds, unit_sha in rows:
                    if unit_sha and unit_sha != shas.get(idx):
                        loss.lose("annotation on a paragraph whose text changed since "
                                  "(stale; see `annotator status`)",
                                  f"{doc.id} unit {idx} ({name})")
                        continue
                    ann = _ann(name, state, updated_at, seconds, schema)
                    if ann is not None:
                        anns.setdefault(name, {})[idx] = ann
            if anns:
                yield ExportDoc(doc, units, anns)
        if progress:
            progress(total, total)


def _document_rows(store, sources: list[tuple[str, object]],
                   keys: tuple[int, int] | None = None) -> Iterator[tuple]:
    """(n, document, units, one list of (unit, state, updated_at, seconds, unit_sha)
    rows, done or skipped, per source) for every document in corpus order."""
    from annotator.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        yield from document_rows(store, [(j, True) for _, j in sources], keys)
        return
    # A server store: one scan per journal in document order, merged with the corpus
    # by document key (a query per document would be a round trip each).
    streams = [j.iter_states() for _, j in sources]
    heads: list = [next(it, None) for it in streams]
    for n, doc in enumerate(store.iter_documents(), start=1):
        per = []
        for k, it in enumerate(streams):
            out = []
            head = heads[k]
            while head is not None and head[3]["doc_key"] < doc.key:
                head = next(it, None)  # a document no longer in the corpus
            while head is not None and head[3]["doc_key"] == doc.key:
                if head[2].get("status") in ("done", "skipped"):
                    info = head[3]
                    out.append((head[1], head[2], info["updated_at"], info.get("seconds"),
                                info.get("unit_sha")))
                head = next(it, None)
            heads[k] = head
            per.append(out)
        yield n, doc, store.units(doc.id) if any(per) else [], per


def export(store, schema: LabelSchema, fmt: str, out: Path | None, *,
           annotator: str | None = None, gold: bool = False, offsets: str | None = None,
           allow_loss: bool = False, progress: Callable[[int, int], None] | None = None,
           stdout: IO[str] | None = None) -> ExportResult:
    """Write the project's annotations in format `fmt` to `out` (None: stdout).
    Raises InputError (nothing written) when the format cannot carry some of them,
    unless `allow_loss`."""
    spec = get_format(fmt)
    if spec.write is None:
        raise UsageError(f"format {fmt!r} is import only")
    if offsets is not None and offsets not in spec.offset_modes:
        raise UsageError(f"--offsets {offsets} does not apply to {fmt} (it takes "
                         f"{' or '.join(spec.offset_modes) or 'none'})")
    if fmt == "jsonl" and annotator is None:
        # our own records: every annotator's with the gold on adjudicated units, or
        # (--gold) gold-only records
        return _export_records(store, schema, out, progress, stdout, gold)
    sources = choose_sources(store, annotator, gold)
    if spec.single_set and len(sources) > 1:
        raise UsageError(f"{fmt} holds one set of annotations, and this project has "
                         f"{len(sources)} annotators ({', '.join(n for n, _ in sources)}): "
                         "give --annotator NAME or --gold")
    loss = LossReport(fmt)
    ctx = ExportContext(schema, LabelIndex(schema), loss, [n for n, _ in sources],
                        offsets or spec.default_offsets, gold)
    kind = spec.output
    if kind == "auto":
        import importlib

        module = importlib.import_module(spec.write.__module__)
        kind = module.output_kind(out, ctx)
    if out is None and (kind != "file" or spec.binary):
        raise UsageError(f"{fmt} writes {'a folder' if kind != 'file' else 'binary data'}: "
                         "give --out PATH")
    if out is not None and kind in ("dir", "zip") and out.exists() and (
            not out.is_dir() or any(out.iterdir())) and kind == "dir":
        raise InputError(f"{out} exists and is not an empty folder: give a new --out "
                         "folder (an export never mixes its files with others)", out)
    ranges = split.key_ranges(store, fmt, spec)
    through = out is not None and out.exists() and not out.is_file() and kind == "file"
    parent = (out.resolve().parent if out is not None and not through
              else Path(tempfile.gettempdir()))
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name if out else 'export'}.", suffix=".part",
                                dir=parent))
    extra: list[Path] = []
    try:
        dest = tmp / "out" if kind == "file" else tmp / "dir"
        if kind != "file":
            dest.mkdir()
        got = None
        if ranges is not None:
            got = _split_write(store, spec, sources, ctx, dest, kind, tmp, ranges, annotator,
                               progress)
            if got is None:  # the parts cannot be joined: start again, in one process
                if kind == "file":
                    dest.unlink(missing_ok=True)
                else:
                    shutil.rmtree(dest)
                    dest.mkdir()
                loss = ctx.loss = LossReport(fmt)
        if got is None:
            docs = iter_export_docs(store, sources, schema, loss, progress)
            got = spec.write(docs, dest, ctx)
        n = got
        loss.check(allow_loss, "nothing was written")
        if out is None:
            if any(side.name.startswith("out.") for side in tmp.iterdir()):
                loss.change("files written beside the output (Label Studio's XML config) "
                            "need --out PATH", "stdout")
            stream = stdout or sys.stdout
            with open(dest, encoding="utf-8") as fh:
                shutil.copyfileobj(fh, stream)
            stream.flush()
        elif kind == "file":
            for side in sorted(tmp.iterdir()):
                if side.name.startswith("out") and side.name != "out":
                    target = out.with_name(out.stem + side.name[3:])
                    os.replace(side, target)
                    extra.append(target)
            _replace_file(dest, out)
        elif kind == "zip":
            zpath = tmp / "zip"
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(dest.rglob("*")):
                    if f.is_file():
                        zf.write(f, f.relative_to(dest).as_posix())
            _replace_file(zpath, out)
        else:
            if out.exists():
                out.rmdir()  # empty (checked above)
            os.replace(dest, out)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return ExportResult(n, loss, out, extra)


def _split_write(store, spec, sources: list[tuple[str, object]], ctx: ExportContext,
                 dest: Path, kind: str, tmp: Path,
                 ranges: tuple[tuple[int, int], tuple[int, int]], annotator: str | None,
                 progress: Callable[[int, int], None] | None) -> int | None:
    """Write the export in two processes (`annotator.formats.split`): this one the
    first range of documents into `dest`, a child the second, then joined. None: the
    parts could not be joined (nothing of them is left in `dest`'s place then)."""
    import importlib

    mine, theirs = ranges
    work = tmp / "part"
    work.mkdir()
    job = split.Job(store.root, store.blind, store.team, store._project_root, ctx.schema,
                    spec.name, annotator, ctx.gold, ctx.offsets, theirs,
                    work / ("out" if kind == "file" else "dir"), kind)
    started = split.start_part(job, work, mine, theirs, progress)
    if started is None:
        return None
    proc, part_progress = started
    rules = importlib.import_module(spec.write.__module__).SPLIT
    mark: list = []
    results: list[dict] = []

    def rest() -> Path:
        results.append(split.finish(proc, work, mark))
        return job.dest

    try:
        docs = iter_export_docs(store, sources, ctx.schema, ctx.loss, part_progress, mine,
                                mark)
        if rules.get("inline"):  # the writer reads the child's part itself
            ctx.rest = rest
            n = spec.write(docs, dest, ctx)
            if not results:
                raise split.Mismatch("the writer did not read the second part")
            result = results[0]
        else:
            n = spec.write(docs, dest, ctx)
            result = split.finish(proc, work, mark)
            if kind == "file":
                split.join_file(dest, job.dest, rules, n)
            else:
                split.join_dir(dest, job.dest, rules)
    except split.Mismatch:
        return None
    finally:
        ctx.rest = None
        split.stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    split.merge_loss(ctx.loss, result)
    return n + result["n"]


def _export_records(store, schema: LabelSchema, out: Path | None,
                    progress: Callable[[int, int], None] | None,
                    stdout: IO[str] | None, gold: bool = False) -> ExportResult:
    """The default export: every annotator's records, as `annotator.export` builds them
    (with the gold on adjudicated units); `gold`: gold-only records."""
    from annotator.export import iter_records, write_export_file, write_records

    records = iter_records(store, schema, progress=progress,
                           gold="only" if gold else "with")
    loss = LossReport("jsonl")
    if out is None or (out.exists() and (out.is_symlink() or not out.is_file())):
        # stdout, or a device, FIFO or link (e.g. /dev/stdout): write through it
        if out is None:
            n = write_records(records, stdout or sys.stdout)
        else:
            with open(out, "w", encoding="utf-8") as fh:
                n = write_records(records, fh)
        return ExportResult(n, loss, out, [])
    ranges = split.key_ranges(store, None)
    try:
        n = None
        if ranges is not None:
            n = _split_records(store, schema, out, ranges, progress, gold)
        if n is None:
            # mkstemp beside `out`, removed if the export fails or is killed (export.py)
            n = write_export_file(records, out)
    except OSError as exc:
        if exc.filename:
            raise
        # a failed write() names no file: say which, and that nothing was left
        raise InputError(f"could not write the export ({exc.strerror or exc}): nothing was "
                         "written", out) from None
    return ExportResult(n, loss, out, [])


def _split_records(store, schema: LabelSchema, out: Path,
                   ranges: tuple[tuple[int, int], tuple[int, int]],
                   progress: Callable[[int, int], None] | None, gold: bool) -> int | None:
    """The default export in two processes (`_split_write`); None: in one."""
    from annotator.export import iter_records, write_export_file

    mine, theirs = ranges
    out.parent.mkdir(parents=True, exist_ok=True)  # as write_export_file does
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    which = "only" if gold else "with"
    job = split.Job(store.root, store.blind, store.team, store._project_root, schema, None,
                    None, which, None, theirs, work / "out", "file")
    started = split.start_part(job, work, mine, theirs, progress)
    if started is None:
        return None
    proc, part_progress = started
    mark: list = []
    records = iter_records(store, schema, progress=part_progress, gold=which, keys=mine,
                           mark=mark)
    added: list[int] = []

    def tail(fh) -> None:
        result = split.finish(proc, work, mark)
        split.append_file(job.dest, fh)
        added.append(result["n"])

    try:
        n = write_export_file(records, out, tail)
    except split.Mismatch:
        return None
    finally:
        split.stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    return n + added[0]


def _replace_file(src: Path, out: Path) -> None:
    if out.exists() and (out.is_symlink() or not out.is_file()):
        # a device, FIFO or link (e.g. /dev/stdout): write through it, never replace it
        with open(src, "rb") as fh, open(out, "wb") as dst:
            shutil.copyfileobj(fh, dst)
        return
    os.replace(src, out)
