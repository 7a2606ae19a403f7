"""Ratings straight from a project store, without building export records.

The journals hand over unit keys as numpy arrays (SQL `group_concat`, parsed in C), so
1,000,000 units x 3 annotators cost no Python object per unit; only units that carry
spans are read as JSON. Gives the same Ratings as `build_ratings` over an export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..schema import LabelSchema
from .ratings import Ratings, SpanRows, _assemble, attach_spans, paragraph_layer_ids

if TYPE_CHECKING:  # the store is not imported for agreement from an export file
    from ..store.sqlite import SQLiteJournal, SQLiteStore


class _Numbering:
    """A numbering of the corpus's units, read once and shared by the ratings and the
    skip table, so that mapping unit keys (doc_key * base + unit) to unit indices is
    gathers from one table instead of a binary search per key (~10x faster on 10
    million label rows). Where the key space is not much larger than the corpus
    (documents of similar length, the usual case) the keys index the table directly;
    otherwise a dense numbering (document offset + unit) does, at the price of a
    division per key."""

    def __init__(self, store: SQLiteStore, base: int) -> None:
        doc_keys, n_units = store.document_sizes()
        self.base = base
        self.n_units = np.full(int(doc_keys.max(initial=0)) + 1, -1, np.int64)
        self.n_units[doc_keys] = n_units  # -1: no such document
        offsets = np.zeros(int(doc_keys.max(initial=0)) + 2, np.int64)
        offsets[doc_keys] = n_units + 1  # +1: unit numbers run to n_units without a title
        self.offsets = np.concatenate(([0], np.cumsum(offsets)))
        dense_size = int(self.offsets[-1])
        key_space = len(self.n_units) * base
        self.direct = key_space <= 4 * dense_size + (1 << 20)
        self.size = key_space if self.direct else dense_size  # the slot of unknown keys

    def dense(self, keys: np.ndarray) -> np.ndarray:
        """Each key's number in the table (`size` for a key that cannot be a unit)."""
        # native int64 (no copy when it is already): a store may hand over other widths
        # or byte orders, which the unsigned view below would misread
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        if self.direct:
            # as unsigned, a negative key is past the end too: one pass
            return np.minimum(keys.view(np.uint64), np.uint64(self.size)).view(np.int64)
        # keys of documents not in the corpus (negative, or past the last) -> the size slot
        offsets, base = self.offsets, self.base
        doc = np.clip(keys // base, 0, len(offsets) - 2)
        d = offsets[doc] + keys % base
        return np.where((keys >= base) & (d < offsets[doc + 1]), d, self.size)

    def units(self, dense: list[np.ndarray]) -> tuple[int, np.ndarray]:
        """(number of units, lookup): the distinct units among these numbers that are
        still in the corpus, in key order, and lookup[number] = their index (-1 for a
        unit not among them)."""
        # a mark per table slot, not a sort: the table is in key order already
        seen = np.zeros(self.size + 1, bool)
        for d in dense:
            seen[d] = True
        units = np.flatnonzero(seen[:self.size])
        if self.direct:  # only units still in the corpus count, as in an export
            docs = units // self.base
            units = units[self.n_units[docs] >= units - docs * self.base]
        lookup = np.full(self.size + 1, -1, np.int64)
        lookup[units] = np.arange(len(units))
        return len(units), lookup


def read_columns(journals: list[SQLiteJournal], base: int) -> dict[str, tuple]:
    """{annotator: (agreement columns, skip columns, decided columns)} of every journal
    (`agreement_and_skip_columns`), read in parallel: SQLite releases the GIL while it
    steps."""
    from concurrent.futures import ThreadPoolExecutor  # here: an export file needs no pool

    with ThreadPoolExecutor(max_workers=min(4, len(journals) or 1)) as pool:
        return dict(zip([j.annotator for j in journals],
                        pool.map(lambda j: j.agreement_and_skip_columns(base), journals),
                        strict=True))


def ratings_from_store(store: SQLiteStore, schema: LabelSchema | None) -> Ratings:
    """Ratings of every annotator, read from the corpus and the journals as of one
    moment (`SQLiteStore.snapshot`): annotators may go on working meanwhile. A journal
    kept private (blind annotation) is an error, not a silently missing annotator."""
    journals = store.reading_journals()
    with store.snapshot(journals):
        base = store.key_base()
        return _ratings(store, schema, journals, read_columns(journals, base),
                        _Numbering(store, base))


def _ratings(store: SQLiteStore, schema: LabelSchema | None, journals: list[SQLiteJournal],
             read: dict[str, tuple], numbering: _Numbering) -> Ratings:
    annotators = [j.annotator for j in journals]
    base = numbering.base
    cols = {a: c[0] for a, c in read.items()}
    done_dense = {a: numbering.dense(c[0]) for a, c in cols.items()}
    n_units, lookup = numbering.units(list(done_dense.values()))

    def positions(keys: np.ndarray) -> np.ndarray:
        return lookup[numbering.dense(keys)]

    def index(keys: np.ndarray) -> np.ndarray:
        pos = positions(keys)
        return pos[pos >= 0]

    kinds = {lay.id: lay.kind for lay in schema.layers} if schema else {}
    done = {}
    for a, d in done_dense.items():
        pos = lookup[d]
        done[a] = pos[pos >= 0]
    multi: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    single: dict[str, dict[str | None, dict[str, np.ndarray]]] = {}
    for a, (_, labels, _) in cols.items():
        for (layer, label), keys in labels.items():
            target = single if kinds.get(layer) == "single" else multi
            target.setdefault(layer, {}).setdefault(label, {})[a] = index(keys)

    spans = SpanRows(dict(kinds), [])
    for a, (_, _, states) in cols.items():
        if not states:
            continue
        idx = positions(np.array([k for k, _ in states], dtype=np.int64))
        for u, (_, state) in zip(idx, states, strict=True):
            if u < 0:
                continue  # its document is no longer in the corpus
            spans.add(int(u), a, state.get("spans") or (), state.get("relations") or ())

    undecided = _undecided({a: c[2] for a, c in read.items()}, index, schema, multi, single)
    ratings = _assemble(n_units, annotators, done, multi, single, schema, spans.labels,
                        spans.relation_labels, undecided)
    ratings.warnings = spans.warnings + ratings.warnings
    unit_length = np.zeros(n_units, np.int64)
    if ratings.span:  # lengths only matter to span agreement: skip the text scan otherwise
        keys, lengths = store.unit_lengths(base)
        pos = positions(keys)
        found = pos >= 0
        unit_length[pos[found]] = lengths[found]
    attach_spans(ratings, unit_length, spans)
    return ratings


def _undecided(decided_columns: dict[str, tuple], index, schema: LabelSchema | None,
               multi: dict, single: dict) -> dict[str, dict[str, np.ndarray]]:
    """{layer: {annotator: unit indices}}: units that track decided layers (actions.py
    "decided") and left this paragraph layer undecided, as the export's `decided` says.
    `decided_columns`: {annotator: `decided_columns`}."""
    layers = paragraph_layer_ids(schema, multi, single)
    out: dict[str, dict[str, np.ndarray]] = {}
    for annotator, (partial, decided) in decided_columns.items():
        if not len(partial):
            continue
        for layer in layers:
            keys = np.setdiff1d(partial, decided.get(layer, partial[:0]), assume_unique=True)
            if len(keys):
                out.setdefault(layer, {})[annotator] = index(keys)
    return out
