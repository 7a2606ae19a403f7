"""Ratings straight from a project store, without building export records.

The journals hand over unit keys as numpy arrays (SQL `group_concat`, parsed in C), so
1,000,000 units x 3 annotators cost no Python object per unit; only units that carry
spans are read as JSON. Gives the same Ratings as `build_ratings` over an export.
"""

from __future__ import annotations

import numpy as np

from ..schema import LabelSchema
from ..store.sqlite import SQLiteStore
from .ratings import Ratings, _assemble, attach_spans


def ratings_from_store(store: SQLiteStore, schema: LabelSchema | None) -> Ratings:
    annotators = store.annotators()
    cols = {a: store.journal(a).agreement_columns() for a in annotators}
    done_keys = [c[0] for c in cols.values()]
    units = np.unique(np.concatenate(done_keys)) if done_keys else np.zeros(0, np.int64)

    def index(keys: np.ndarray) -> np.ndarray:
        # unit keys -> dense unit indices; keys of units nobody marked done are dropped
        pos = np.searchsorted(units, keys)
        pos = np.minimum(pos, max(len(units) - 1, 0))
        return pos[units[pos] == keys] if len(units) else pos[:0]

    kinds = {lay.id: lay.kind for lay in schema.layers} if schema else {}
    done = {a: index(c[0]) for a, c in cols.items()}
    multi: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    single: dict[str, dict[str | None, dict[str, np.ndarray]]] = {}
    for a, (_, labels, _) in cols.items():
        for (layer, label), keys in labels.items():
            target = single if kinds.get(layer) == "single" else multi
            target.setdefault(layer, {}).setdefault(label, {})[a] = index(keys)

    span_rows: list[tuple[int, str, str, str, int, int]] = []
    rel_rows: list[tuple[int, str, str, int, int]] = []
    span_seen: dict[str, list[str]] = {}
    rel_seen: dict[str, list[str]] = {}
    for a, (_, _, states) in cols.items():
        if not states:
            continue
        idx = index(np.array([k for k, _ in states], dtype=np.int64))
        for u, (_, state) in zip(idx, states, strict=True):
            local: dict[str, int] = {}
            for sp in state.get("spans", []):
                layer, label = sp["layer"], sp["label"]
                if label not in span_seen.setdefault(layer, []):
                    span_seen[layer].append(label)
                local[sp["id"]] = len(span_rows)
                span_rows.append((int(u), a, layer, label, int(sp["start"]), int(sp["end"])))
            for rel in state.get("relations", []):
                src, dst = local.get(rel["from"]), local.get(rel["to"])
                if src is None or dst is None:
                    continue
                layer = span_rows[src][2]
                if rel["label"] not in rel_seen.setdefault(layer, []):
                    rel_seen[layer].append(rel["label"])
                rel_rows.append((int(u), a, rel["label"], src, dst))

    ratings = _assemble(len(units), annotators, done, multi, single, schema, span_seen,
                        rel_seen)
    keys, lengths = store.unit_lengths()
    order = np.argsort(keys)
    pos = np.searchsorted(keys, units, sorter=order)
    unit_length = np.zeros(len(units), np.int64)
    if len(keys):
        pos = order[np.minimum(pos, len(keys) - 1)]
        found = keys[pos] == units
        unit_length[found] = lengths[pos[found]]
    attach_spans(ratings, unit_length, span_rows, rel_rows)
    return ratings
