"""Export records: one JSON object per unit that any annotator marked done or not
content (status "skipped").

Streams document by document, so memory stays flat as the corpus grows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from annotator.jsoncodec import dumps_lines
from annotator.schema import LabelSchema
from annotator.store.base import GOLD, DocInfo, Unit
from annotator.store.sqlite import SQLiteStore

# What a gold decision adds to an annotation (actions.py, "The gold journal").
GOLD_DECISION_KEYS = ("decided_by", "decided_by_layer", "overrode", "auto", "curator")


def _paragraph_layers(schema: LabelSchema) -> tuple[tuple[str, bool], ...]:
    """(layer id, multi?) of the schema's paragraph layers, cached per schema: asked
    once per exported annotation."""
    hit = _PARA_LAYERS.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = (schema, tuple((lay.id, lay.kind == "multi") for lay in schema.paragraph_layers))
        if len(_PARA_LAYERS) > 16:
            _PARA_LAYERS.clear()
        _PARA_LAYERS[id(schema)] = hit
    return hit[1]


_PARA_LAYERS: dict[int, tuple[LabelSchema, tuple[tuple[str, bool], ...]]] = {}


def paragraph_labels(state: dict, schema: LabelSchema) -> dict[str, Any]:
    """One key per paragraph-level layer: a list for multi, an id or None for single.
    Layers the schema no longer has are kept as stored, never dropped."""
    stored = state.get("labels", {})
    out: dict[str, Any] = {}
    for layer_id, multi in _paragraph_layers(schema):
        value = stored.get(layer_id)
        if multi:
            out[layer_id] = list(value) if isinstance(value, list) else ([value] if value else [])
        else:
            out[layer_id] = value[0] if isinstance(value, list) and value else (
                value if isinstance(value, str) else None)
    if stored:
        for layer_id, value in stored.items():
            if layer_id not in out:
                out[layer_id] = value
    return out


def annotation_record(annotator: str, state: dict, info: dict, schema: LabelSchema,
                      current_sha: str, old_text: str | None) -> dict:
    skipped = state.get("status") == "skipped"
    # Not content: the decision itself, with no labels, spans or relations (those kept
    # in the state come back if the mark is cleared, but are no annotation meanwhile).
    rec = {
        "annotator": annotator,
        "status": "skipped" if skipped else "done",
        "labels": {} if skipped else paragraph_labels(state, schema),
        "spans": [] if skipped else state.get("spans", []),
        "relations": [] if skipped else state.get("relations", []),
        "note": state.get("note"),
        "flag": bool(state.get("flag")),
        "updated_at": info["updated_at"][:19] + "Z",
        "seconds": round(float(info.get("seconds") or 0.0), 1),
    }
    if "decided" in state and not skipped:
        # The paragraph layers decided (a label toggled, or enter: then the key is
        # absent, as in journals from before): only those are rated (docs/agreement.md).
        rec["decided"] = [layer for layer in state["decided"]
                          if (lay := schema.layer(layer)) is None or lay.kind != "span"]
    if state.get("rejected") or state.get("rejected_sources"):
        rejected = {kind: [list(pair) for pair in state.get(key) or []]
                    for kind, key in (("quotes", "rejected"), ("sources", "rejected_sources"))}
        # Proposals the annotator turned down (offsets into the unit's text): what the
        # tool suggested and a person refused is part of the record.
        rec["rejected_proposals"] = {k: v for k, v in rejected.items() if v}
    if info.get("unit_sha") and info["unit_sha"] != current_sha:
        # The paragraph changed on re-import after this annotation was made: kept and
        # flagged, never re-aligned. Span offsets refer to `original_text`.
        rec["stale"] = True
        rec["original_text"] = old_text
    return rec


def gold_record(state: dict, info: dict, schema: LabelSchema, current_sha: str,
                old_text: str | None) -> dict:
    """The gold of a unit as one annotation by annotator `gold`, with what it sided
    with (`decided_by`: annotators whose whole unit equals it; `decided_by_layer`;
    `overrode`: it equals nobody's; `auto`: the merge strategy that filled it, null once
    a curator decided; `curator`)."""
    rec = annotation_record(GOLD, state, info, schema, current_sha, old_text)
    for key in GOLD_DECISION_KEYS:
        rec[key] = state.get(key, [] if key == "decided_by" else {} if key ==
                             "decided_by_layer" else False if key == "overrode" else None)
    return rec


def _gold_field(rec: dict) -> dict:
    """The export record's `gold`: the gold annotation without the per-annotator keys
    (and without `decided`: the gold decides every layer it holds; a curator's span
    edits leave `decided: []` in its state, which the record schema's gold has no
    place for)."""
    return {k: v for k, v in rec.items()
            if k not in ("annotator", "status", "seconds", "decided")}


def document_rows(store: SQLiteStore, sources: list[tuple[object, bool]],
                  keys: tuple[int, int] | None = None
                  ) -> Iterator[tuple[int, DocInfo, list[Unit], list]]:
    """Every document in corpus order as (n from 1, document, its units, one list per
    source journal of its (unit, state, updated_at, seconds, unit_sha) rows marked done,
    or done or skipped where the source's flag is true). The units are read only for
    documents with rows (else []). `keys`: the documents whose key is in [first, last]
    (a SQLite store only). Call inside `store.snapshot`.

    A SQLite store's journals are read as plain tuples (`SQLiteJournal.done_rows`).
    (Batches of documents in one `IN (...)` query each were no faster: the cost is
    per row, not per query.)"""
    plain = isinstance(store, SQLiteStore)
    docs = store.iter_documents(keys) if keys is not None else store.iter_documents()
    for n, d in enumerate(docs, start=1):
        if plain:
            per = [j.done_rows(d.id, skipped) for j, skipped in sources]  # type: ignore[attr-defined]
        else:
            per = [[(unit, state, info["updated_at"], info.get("seconds"),
                     info.get("unit_sha"))
                    for unit, state, info in j.done_states(d.id, skipped=skipped)]  # type: ignore[attr-defined]
                   for j, skipped in sources]
        yield n, d, store.units(d.id) if any(per) else [], per


def iter_records(store: SQLiteStore, schema: LabelSchema,
                 progress: Callable[[int, int], None] | None = None,
                 with_agreement: bool = True, gold: str = "with",
                 keys: tuple[int, int] | None = None, mark: list | None = None
                 ) -> Iterator[dict]:
    """Export records in document order.

    `gold`: "with" adds `"gold"` to every adjudicated unit (gold marked done), and
    exports units that only the gold has; "only" writes gold-only records (one
    annotation, by annotator `gold`, no `agreement`); "none" leaves the gold out.

    The corpus and every journal are read as of one moment (`SQLiteStore.snapshot`),
    held for the whole iteration: annotators may go on working meanwhile, and each
    one's records are their annotations as they stood at that moment, never half of
    an action or a mix of before and after. A journal kept private (blind
    annotation) is an error, not a silently missing annotator.

    `keys`: only the documents whose key is in [first, last]; `mark`: gets
    `store.snapshot_mark` of the snapshot read (both for an export split over
    processes, `annotator.formats.split`)."""
    if gold == "only":
        with_agreement = False
    if with_agreement:
        from annotator.agreement import unit_agreement
    journals = [] if gold == "only" else store.reading_journals()
    gold_journal = store.journal(GOLD, schema) if gold != "none" and store.has_journal(
        GOLD) else None
    read = journals + ([gold_journal] if gold_journal is not None else [])
    schema_ref = {"id": schema.id, "version": schema.version, "sha256": schema.sha256}
    # A with-block inside the generator: the read transactions end when the iteration
    # does, also when the consumer stops early (the generator is closed).
    with store.snapshot(read):
        total = store.document_count()
        if mark is not None:
            mark.append(store.snapshot_mark(read))
        sources = [(j, True) for j in journals] + (
            [(gold_journal, False)] if gold_journal is not None else [])
        for n, doc, unit_list, per in document_rows(store, sources, keys):
            if progress and n % 200 == 0:
                progress(n, total)
            per_unit: dict[int, list[tuple[str, dict, dict]]] = {}
            for j, rows in zip(journals, per, strict=False):
                for unit, state, ts, seconds, unit_sha in rows:
                    per_unit.setdefault(unit, []).append((j.annotator, state, {
                        "updated_at": ts, "seconds": seconds, "unit_sha": unit_sha}))
            golds = {unit: (state, {"updated_at": ts, "seconds": seconds, "unit_sha": unit_sha})
                     for unit, state, ts, seconds, unit_sha in per[-1]
                     } if gold_journal is not None else {}
            if not per_unit and not golds:
                continue
            units = {u.index: u for u in unit_list}
            for idx in sorted(per_unit.keys() | golds.keys()):
                u = units.get(idx)
                text = u.text if u else ""
                sha = u.sha if u else ""
                annotations = []
                for name, state, info in per_unit.get(idx, ()):
                    old = None
                    if info.get("unit_sha") != sha:
                        old = store.old_text(doc.id, idx, info["unit_sha"])
                    annotations.append(annotation_record(name, state, info, schema, sha, old))
                gold_rec = None
                if idx in golds:
                    state, info = golds[idx]
                    old = None if info.get("unit_sha") == sha else store.old_text(
                        doc.id, idx, info["unit_sha"])
                    gold_rec = gold_record(state, info, schema, sha, old)
                if gold == "only":
                    annotations = [gold_rec]
                record = {
                    "doc_id": doc.id,
                    "paragraph": idx,
                    "text": text,
                    "title": doc.title,
                    "meta": doc.meta,
                    "schema": schema_ref,
                    "annotations": annotations,
                }
                if with_agreement:
                    record["agreement"] = unit_agreement(annotations, schema)
                if gold_rec is not None and gold == "with":
                    record["gold"] = _gold_field(gold_rec)
                yield record
    if progress:
        progress(total, total)


def write_records(records: Iterator[dict], out: IO[str]) -> int:
    return _write_lines(records, lambda data: out.write(data.decode()))


def _write_lines(records: Iterator[dict], write: Callable[[bytes], object]) -> int:
    """Records as JSON lines, encoded a batch at a time (one encoder call and one
    write per 256 records rather than two each)."""
    n = 0
    batch: list[dict] = []
    for rec in records:
        batch.append(rec)
        if len(batch) == 256:
            write(dumps_lines(batch))  # compact, safe bytes for a terminal (jsoncodec.py)
            n += len(batch)
            batch = []
    if batch:
        write(dumps_lines(batch))
        n += len(batch)
    return n


class Killed(Exception):
    """SIGTERM or SIGHUP arrived while an export file was being written."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise Killed (SIGINT raises KeyboardInterrupt anyway), so a
    killed export still runs its clean-up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise Killed(signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def write_export_file(records: Iterator[dict], out: Path,
                      tail: Callable[[IO[bytes]], None] | None = None) -> int:
    """Write records to `out` through a temporary file made by `mkstemp` beside it
    (O_EXCL: a name nobody planted, never a symlink), renamed over `out` once whole.
    The temporary file is removed if the export fails or is killed (SIGTERM, SIGHUP,
    SIGINT): nothing half-written is left. `tail(file)` may write more before the
    rename."""
    # The first record before any file: a store that cannot be read (a private journal)
    # is said as such, and nothing is created.
    import itertools

    first = next(records, None)
    records = itertools.chain([first] if first is not None else [], records)
    out.parent.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0)
    os.umask(umask)
    with signals_raise():
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        try:
            os.fchmod(fd, 0o666 & ~umask)  # what open() would have given the file
            with os.fdopen(fd, "wb") as fh:
                n = _write_lines(records, fh.write)
                if tail is not None:
                    fh.flush()
                    tail(fh)  # more bytes after the records (a split export's part)
            os.replace(tmp, out)  # nothing half-written under the real name
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    return n
