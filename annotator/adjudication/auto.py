"""The whole-corpus view of adjudication, vectorised: which units have versions, which
disagree, and the automatic merge (`--auto`) of 1,000,000 units x 3 annotators in
seconds.

Like agreement/from_store.py it reads the journals' label tables as numpy arrays
(`SQLiteJournal.agreement_columns`), so it costs no Python object per unit until the
gold events are written. Each annotator's version of a paragraph layer becomes one
64-bit signature per unit (a label's random 64-bit code, summed over the labels it
has; a single layer's label code), so "do they agree" is a comparison of integers;
only units with spans are compared as Python values (`merge.layer_value`). The
merge of units with spans goes through `merge.merged`, the per-unit definition; a
test checks the vectorised path against it on random data.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotator.adjudication.merge import gold_value, layer_value, merged
from annotator.adjudication.stamp import merge_stamp, record, up_to_date
from annotator.schema import LabelSchema
from annotator.store.base import GOLD, Progress


def _code(layer: str, label: str) -> np.uint64:
    """A random-looking 64-bit code per label (stable across runs): sums of distinct
    label sets collide with probability ~2^-64."""
    h = zlib.crc32(f"{layer}\x00{label}".encode()) | (zlib.crc32(f"{label}\x01{layer}".encode()) << 32)
    return np.uint64(h | 1)


def _sorted_unique(arrays: list[np.ndarray]) -> np.ndarray:
    if not arrays:
        return np.zeros(0, np.int64)
    keys = np.sort(np.concatenate(arrays))
    if len(keys) == 0:
        return keys
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


def _member(units: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """bool [len(units)]: which of the (sorted, unique) units are in `keys`."""
    out = np.zeros(len(units), bool)
    if len(keys) and len(units):
        pos = np.searchsorted(units, keys)
        inside = pos < len(units)
        pos, k = pos[inside], keys[inside]
        out[pos[units[pos] == k]] = True
    return out


@dataclass
class Scan:
    """Every unit at least one annotator marked done, with each one's versions."""

    base: int
    annotators: list[str]
    units: np.ndarray  # int64 [U] unit keys (doc_key * base + unit), sorted
    rated: np.ndarray  # bool [U, A]
    sigs: dict[str, np.ndarray]  # layer -> uint64 [U, A] (0 where not rated or empty)
    span_values: dict[str, dict[Any, int]] = field(default_factory=dict)  # interned
    span_states: list[dict[int, dict]] = field(default_factory=list)  # per annotator
    gold_done: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # bool [U]
    on: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # bool [U, A]
    names: dict[tuple[str, int], str] = field(default_factory=dict)  # (layer, code) -> label

    @property
    def n_rated(self) -> np.ndarray:
        return self.rated.sum(axis=1)

    def disagree(self) -> np.ndarray:
        """bool [U]: two or more annotators, and some layer where they differ."""
        out = np.zeros(len(self.units), bool)
        big = np.uint64(np.iinfo(np.uint64).max)
        for sig in self.sigs.values():
            lo = np.where(self.rated, sig, big).min(axis=1)
            hi = np.where(self.rated, sig, np.uint64(0)).max(axis=1)
            out |= lo != hi
        return out & (self.n_rated >= 2)


def scan(store: Any, schema: LabelSchema, journals: list | None = None) -> Scan:
    """Read every annotator's journal (and the gold's done units) into a Scan."""
    journals = store.reading_journals() if journals is None else journals
    gold = store.journal(GOLD, schema)
    base = store.key_base()
    with store.snapshot([*journals, gold]):
        cols = [j.agreement_columns(base) for j in journals]
        gold_keys = gold.agreement_columns(base)[0]
    units = _sorted_unique([c[0] for c in cols])
    n, a = len(units), len(journals)
    rated = np.zeros((n, a), bool)
    for i, c in enumerate(cols):
        rated[:, i] = _member(units, c[0])
    s = Scan(base, [j.annotator for j in journals], units, rated, {},
             gold_done=_member(units, gold_keys))
    for layer in schema.paragraph_layers:
        sig = np.zeros((n, a), np.uint64)
        for i, c in enumerate(cols):
            for (lay, label), keys in c[1].items():
                if lay != layer.id:
                    continue
                on = _member(units, keys) & rated[:, i]
                s.names[(lay, int(_code(lay, label)))] = label
                if layer.kind == "multi":
                    s.on.setdefault((lay, label), np.zeros((n, a), bool))[:, i] = on
                # wrapping sum of codes: a set's signature (single: one code)
                sig[:, i] += np.where(on, _code(lay, label), np.uint64(0))
        s.sigs[layer.id] = sig
    for layer in schema.span_layers:
        empty = layer_value({}, layer)
        values = s.span_values[layer.id] = {empty: 0}
        sig = np.zeros((n, a), np.uint64)
        for i, c in enumerate(cols):
            states = c[2]
            if not states:
                continue
            keys = np.array([k for k, _ in states], np.int64)
            pos = np.searchsorted(units, keys)
            for p, (_, state) in zip(pos, states, strict=True):
                v = layer_value(state, layer)
                sig[p, i] = values.setdefault(v, len(values))
        s.sigs[layer.id] = sig
    s.span_states = [{int(np.searchsorted(units, k)): st for k, st in c[2]} for c in cols]
    return s


@dataclass
class MergeResult:
    merged: int = 0  # units pre-filled
    considered: int = 0  # units with 2+ annotators and no gold yet
    disagreeing: int = 0  # of those, units left for the curator
    scan: Scan | None = None  # what was read (the screen reuses it: one scan per session)
    skipped: bool = False  # nothing changed since the last merge: nothing read


def auto_merge(store: Any, schema: LabelSchema, strategy: str = "unanimous",
               curator: str | None = None, progress: Progress | None = None,
               journals: list | None = None) -> MergeResult:
    """Pre-fill the gold of every unit the strategy decides and that has no gold yet:
    one `set_gold` event per unit (marked `auto`), written in transactions of 250,000
    units (the journal's `apply_fresh`), each whole: a killed merge keeps the chunks it
    committed, and the next run merges the units still without gold."""
    result = MergeResult()
    if strategy == "none":
        return result
    journals = store.reading_journals() if journals is None else journals
    gold = store.journal(GOLD, schema)
    stamp = merge_stamp(strategy, journals, store)
    if up_to_date(gold, stamp):
        # No annotator's journal changed since the last merge with this strategy: there
        # is nothing new to merge (and a unit whose automatic gold a curator undid stays
        # open), so the million-unit read is not paid again at every start.
        result.skipped = True
        return result
    s = result.scan = scan(store, schema, journals)
    n_rated = s.n_rated
    todo = (n_rated >= 2) & ~s.gold_done
    result.considered = int(todo.sum())
    a = len(s.annotators)
    weights = (np.uint64(1) << np.arange(a, dtype=np.uint64))
    ok = todo.copy()
    holders: dict[str, np.ndarray] = {}
    rep: dict[str, np.ndarray] = {}
    for layer_id, sig in s.sigs.items():
        # for each annotator, how many rated annotators share its version
        same = np.zeros(sig.shape, np.int32)
        for j in range(a):
            same += (sig == sig[:, j : j + 1]) & s.rated[:, j : j + 1]
        same = np.where(s.rated, same, 0)
        best = same.argmax(axis=1)
        count = same[np.arange(len(best)), best]
        if strategy == "unanimous":
            ok &= count == n_rated
        else:
            ok &= 2 * count > n_rated
        rep[layer_id] = best
        best_sig = sig[np.arange(len(best)), best]
        holds = s.rated & (sig == best_sig[:, None])
        holders[layer_id] = (holds.astype(np.uint64) * weights).sum(axis=1)
    idx = np.flatnonzero(ok)
    result.merged = len(idx)
    result.disagreeing = result.considered - result.merged
    if not len(idx):
        record(gold, stamp)
        return result
    whole = np.full(len(idx), np.uint64((1 << a) - 1) if a < 64 else np.uint64(0))
    for h in holders.values():
        whole &= h[idx]
    has_spans = np.zeros(len(s.units), bool)
    for states in s.span_states:
        if states:
            has_spans[list(states)] = True
    names = s.annotators

    def who(mask: int) -> list[str]:
        return [names[i] for i in range(a) if mask >> i & 1]

    # Paragraph layers: the gold label set per unit, by the representative's signature;
    # distinct (signature, holders) combinations are few, so each one's action part is
    # built once.
    para = list(schema.paragraph_layers)
    sig_of = {lay.id: s.sigs[lay.id][idx, rep[lay.id][idx]] for lay in para}
    label_sets: dict[tuple[str, int], Any] = {}
    for lay in para:
        uniq, first = np.unique(sig_of[lay.id], return_index=True)
        for sv, f in zip(uniq.tolist(), first.tolist(), strict=True):
            u, r = int(idx[f]), int(rep[lay.id][idx[f]])
            label_sets[(lay.id, sv)] = _version(s, schema, u, r)["labels"][lay.id]
    doc_ids = {d.key: d.id for d in store.iter_documents()}
    base = s.base
    # One row per unit of what its action depends on; the distinct rows are few, so
    # each distinct action is built once and the loop below only picks it.
    cols = [whole] + [sig_of[lay.id] for lay in para] + [holders[lay.id][idx]
                                                         for lay in schema.layers]
    _, first, combo = np.unique(np.stack(cols, axis=1), axis=0, return_index=True,
                                return_inverse=True)
    plain: list[dict] = []
    for f in first.tolist():
        u = int(idx[f])
        plain.append({
            "type": "set_gold",
            "labels": {lay.id: label_sets[(lay.id, int(sig_of[lay.id][f]))] for lay in para},
            "spans": [], "relations": [], "decided_by": who(int(whole[f])),
            "decided_by_layer": {lay.id: who(int(holders[lay.id][u])) for lay in schema.layers},
            "overrode": False, "auto": strategy, **_by(curator)})
    keys = s.units[idx]
    docs, units = keys // base, keys % base
    with_spans = has_spans[idx]
    combo = combo.ravel()

    def spans_action(n: int) -> dict:
        # spans: compared and merged as Python values, by the per-unit definition
        u = int(idx[n])
        versions = {names[i]: _version(s, schema, u, i) for i in range(a) if s.rated[u, i]}
        m = merged(versions, schema, strategy)
        assert m is not None
        part, held = m
        decided = [x for x in versions if all(x in v for v in held.values())]
        return {"type": "set_gold", **part, "decided_by": decided,
                "decided_by_layer": dict(held), "overrode": False, "auto": strategy,
                **_by(curator)}

    # Units without spans and without a gold state: the bulk write (the distinct
    # actions are few: each is encoded once, the rows go in set-wise). Units with
    # spans, or whose gold has a state already (a note, a unit done then undone),
    # go one action each through `apply_many`, the same events `apply` would write.
    plain_at = np.flatnonzero(~with_spans)
    done_before = 0

    def report(n: int, total: int | None) -> None:
        if progress is not None:
            progress(done_before + n, total)

    bulk = getattr(gold, "apply_fresh", None)
    one_by_one: list[tuple[int, int, dict]] = []  # (doc_key, unit, action)
    if bulk is not None:
        applied, skipped = bulk(docs[plain_at].tolist(), units[plain_at].tolist(),
                                combo[plain_at].tolist(), plain, progress=report)
        done_before = applied
        if skipped:
            where = {(int(d), int(u)): int(c) for d, u, c in zip(
                docs[plain_at].tolist(), units[plain_at].tolist(),
                combo[plain_at].tolist(), strict=True)}
            one_by_one += [(d, u, plain[where[(d, u)]]) for d, u in skipped]
    else:  # a store without a bulk write: one action each
        one_by_one += [(int(docs[n]), int(units[n]), plain[int(combo[n])])
                       for n in plain_at.tolist()]
    one_by_one += [(int(docs[n]), int(units[n]), spans_action(n))
                   for n in np.flatnonzero(with_spans).tolist()]
    one_by_one.sort(key=lambda row: (row[0], row[1]))  # one corpus read per document

    def actions() -> Iterator[tuple[str, int, dict]]:
        for dk, unit, action in one_by_one:
            doc_id = doc_ids.get(dk)
            if doc_id is not None:  # else its document is no longer in the corpus
                yield doc_id, unit, action

    gold.apply_many(actions(), progress=report)
    record(gold, stamp)
    return result


def _by(curator: str | None) -> dict:
    return {"curator": curator} if curator else {}


def _version(s: Scan, schema: LabelSchema, u: int, i: int) -> dict:
    """Annotator i's done version of unit u as far as merging needs it."""
    state = s.span_states[i].get(u) or {}
    labels: dict[str, Any] = {}
    for lay in schema.paragraph_layers:
        if lay.kind == "multi":
            labels[lay.id] = gold_value(lay, {lab for (ly, lab), m in s.on.items()
                                              if ly == lay.id and m[u, i]})
        else:
            code = int(s.sigs[lay.id][u, i])
            labels[lay.id] = s.names[(lay.id, code)] if code else None
    return {"status": "done", "labels": labels, "spans": state.get("spans") or [],
            "relations": state.get("relations") or []}
