"""Ratings: who rated which unit how, as compact numpy arrays.

Three builders fill the same structure: `build_ratings` from export records (one pass),
`ratings_from_columns` from unit-index arrays, and `from_store.ratings_from_store` from
the project store. All go through `_assemble`, and the two that see spans read them
through `SpanRows`, so the paths cannot drift apart.

Decisions (see docs/agreement.md):
- A unit counts as rated by an annotator only when the annotator marked it done, and
  on a paragraph layer only where they decided it (a state's `decided` list, the
  export's `decided` field; without one, every layer: marking a unit done with no
  labels is a statement, "none of these apply"). Units marked not content (status
  "skipped") are rated nowhere (see skip.py).
- single layers: no label chosen (null) on a done unit is its own category, "none",
  always the last category. So "nobody chose a stance" agrees with itself.
- multi layers: each label is a binary on/off decision per rated unit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..schema import LabelSchema
from ..textclean import clean_text

NONE_KEY = "(none)"  # how the "none" category of a single layer is named in output


@dataclass
class SingleLayer:
    id: str
    categories: list[str | None]  # label ids (schema order, then unknown ones), None last
    codes: np.ndarray  # int32 [U, A]: index into categories, -1 = not rated
    rated: np.ndarray | None = None  # bool [U, A] on this layer; None: Ratings.rated


@dataclass
class MultiLayer:
    id: str
    labels: list[str]
    on: np.ndarray  # bool [U, A, L]: label on; False wherever the unit is not rated
    rated: np.ndarray | None = None  # bool [U, A] on this layer; None: Ratings.rated


@dataclass
class SpanLayer:
    id: str
    labels: list[str]
    relation_labels: list[str]


@dataclass
class SpanTable:
    """All spans of all span layers, one row per span (done annotations only)."""

    unit: np.ndarray
    annotator: np.ndarray
    layer: np.ndarray  # index into Ratings.span_order
    label: np.ndarray  # index into that layer's labels
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def empty(cls) -> SpanTable:
        z = np.zeros(0, np.int64)
        return cls(z, z, z, z, z, z)

    def __len__(self) -> int:
        return len(self.unit)


@dataclass
class RelationTable:
    """Relations between spans: `src` / `dst` are rows of the SpanTable."""

    unit: np.ndarray
    annotator: np.ndarray
    layer: np.ndarray  # span layer of the `from` span
    label: np.ndarray  # index into that layer's relation_labels
    src: np.ndarray
    dst: np.ndarray

    @classmethod
    def empty(cls) -> RelationTable:
        z = np.zeros(0, np.int64)
        return cls(z, z, z, z, z, z)

    def __len__(self) -> int:
        return len(self.unit)


@dataclass
class Ratings:
    annotators: list[str]
    n_units: int
    rated: np.ndarray  # bool [U, A]: annotator marked the unit done
    single: dict[str, SingleLayer]
    multi: dict[str, MultiLayer]
    span: dict[str, SpanLayer]
    layer_order: list[str]  # paragraph and span layers in schema order, then unknown ones
    spans: SpanTable = field(default_factory=SpanTable.empty)
    relations: RelationTable = field(default_factory=RelationTable.empty)
    unit_length: np.ndarray | None = None  # int64 [U] text length in code points
    has_span_data: bool = False  # False when built from columns (spans come only via records)
    warnings: list[str] = field(default_factory=list)

    @property
    def span_order(self) -> list[str]:
        return list(self.span)

    def layer_rated(self, layer: str) -> np.ndarray:
        """bool [U, A]: units rated on this paragraph layer (done, and the layer
        decided: docs/agreement.md "What marks a unit done")."""
        lay = self.multi.get(layer) or self.single.get(layer)
        return self.rated if lay is None or lay.rated is None else lay.rated

    @property
    def active(self) -> np.ndarray:
        """Indices of annotators who rated at least one unit."""
        return np.flatnonzero(self.rated.any(axis=0))

    def single_counts(self, layer: str) -> np.ndarray:
        """Per-unit category counts n[u, c] for a single layer, in one bincount."""
        lay = self.single[layer]
        n_cat = len(lay.categories)
        u = np.broadcast_to(np.arange(self.n_units)[:, None], lay.codes.shape)
        ok = lay.codes >= 0
        flat = u[ok].astype(np.int64) * n_cat + lay.codes[ok]
        return np.bincount(flat, minlength=self.n_units * n_cat).reshape(self.n_units, n_cat)

    def multi_counts(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """(n_on[u, l], m[u]): annotators who put label l on unit u, and raters of u."""
        lay = self.multi[layer]
        dtype = np.uint8 if len(self.annotators) < 256 else np.int32
        n_on = lay.on.sum(axis=1, dtype=dtype)
        m = self.layer_rated(layer).sum(axis=1, dtype=dtype)
        return n_on, m


# ---------------------------------------------------------------- assembly


def _layer_plan(
    schema: LabelSchema | None,
    multi_labels: Mapping[str, Iterable],
    single_labels: Mapping[str, Iterable],
    span_labels: Mapping[str, Iterable] | None = None,
    relation_labels: Mapping[str, Iterable] | None = None,
) -> tuple[list[str], dict[str, list], dict[str, list], dict[str, tuple[list, list]], list[str]]:
    """Decide layer kinds and label order: schema first (unused labels included), then data."""
    order: list[str] = []
    multi: dict[str, list] = {}
    single: dict[str, list] = {}
    span: dict[str, tuple[list, list]] = {}
    warnings: list[str] = []
    if schema is not None:
        for lay in schema.layers:
            order.append(lay.id)
            labels = [lab.id for lab in lay.labels]
            if lay.kind == "multi":
                multi[lay.id] = labels
            elif lay.kind == "single":
                single[lay.id] = labels
            else:
                span[lay.id] = (labels, [rel.id for rel in lay.relations])

    def add(target: dict, layer: str, labels: Iterable, kind: str) -> None:
        if layer not in order:
            order.append(layer)
            if schema is not None:
                warnings.append(f"layer {layer!r} is not in the schema; counted as {kind}")
        if layer not in target:
            target[layer] = ([], []) if kind == "span" else []
        known = target[layer][0] if kind == "span" else target[layer]
        for lab in labels:
            if lab is None or lab in known:
                continue
            known.append(lab)
            if schema is not None and schema.layer(layer) is not None:
                warnings.append(f"label {lab!r} of layer {layer!r} is not in the schema")

    for layer, labels in multi_labels.items():
        add(multi, layer, labels, "multi")
    for layer, labels in single_labels.items():
        add(single, layer, labels, "single")
    for layer, labels in (span_labels or {}).items():
        add(span, layer, labels, "span")
    for layer, rels in (relation_labels or {}).items():
        if layer not in span:
            span[layer] = ([], [])
            if layer not in order:
                order.append(layer)
        known = span[layer][1]
        for rel in rels:
            if rel not in known:
                known.append(rel)
    return order, multi, single, span, warnings


def _assemble(
    n_units: int,
    annotators: list[str],
    done: Mapping[str, np.ndarray],
    multi: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
    single: Mapping[str, Mapping[str | None, Mapping[str, np.ndarray]]],
    schema: LabelSchema | None,
    span_labels: Mapping[str, Iterable] | None = None,
    relation_labels: Mapping[str, Iterable] | None = None,
    undecided: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> Ratings:
    """`undecided[layer][a]`: units a marked done without deciding that paragraph layer
    (rated on the others only)."""
    a_index = {a: i for i, a in enumerate(annotators)}
    if len(a_index) != len(annotators):
        raise ValueError("annotator names must be unique")

    def col(a: str) -> int:
        if a not in a_index:
            raise ValueError(f"annotator {a!r} is not in the annotators list")
        return a_index[a]

    def idx(arr: np.ndarray) -> np.ndarray:
        arr = np.asarray(arr, dtype=np.int64).ravel()
        if len(arr) and (arr.min() < 0 or arr.max() >= n_units):
            raise ValueError(f"unit index out of range 0..{n_units - 1}")
        return arr

    rated = np.zeros((n_units, len(annotators)), dtype=bool)
    for a, units in done.items():
        rated[idx(units), col(a)] = True

    order, multi_plan, single_plan, span_plan, warnings = _layer_plan(
        schema,
        {k: list(v) for k, v in multi.items()},
        {k: list(v) for k, v in single.items()},
        span_labels,
        relation_labels,
    )

    def layer_mask(layer: str) -> np.ndarray | None:
        """Units rated on this layer, where some done unit left it undecided."""
        per = (undecided or {}).get(layer)
        if not per or not any(len(v) for v in per.values()):
            return None
        mask = rated.copy()
        for a, units in per.items():
            mask[idx(units), col(a)] = False
        return mask

    multi_layers: dict[str, MultiLayer] = {}
    for layer, labels in multi_plan.items():
        on = np.zeros((n_units, len(annotators), len(labels)), dtype=bool)
        for li, lab in enumerate(labels):
            for a, units in multi.get(layer, {}).get(lab, {}).items():
                on[idx(units), col(a), li] = True
        mask = layer_mask(layer)
        on &= (rated if mask is None else mask)[:, :, None]  # only rated units count
        multi_layers[layer] = MultiLayer(layer, labels, on, mask)

    single_layers: dict[str, SingleLayer] = {}
    for layer, labels in single_plan.items():
        categories: list[str | None] = [*labels, None]
        dtype = np.int16 if len(categories) < 32000 else np.int32
        codes = np.full((n_units, len(annotators)), -1, dtype=dtype)
        mask = layer_mask(layer)
        lay_rated = rated if mask is None else mask
        codes[lay_rated] = len(categories) - 1  # done with no label chosen: "none"
        for ci, lab in enumerate(labels):
            for a, units in single.get(layer, {}).get(lab, {}).items():
                ai = col(a)
                u = idx(units)
                u = u[lay_rated[u, ai]]
                codes[u, ai] = ci
        single_layers[layer] = SingleLayer(layer, categories, codes, mask)

    span_layers = {
        layer: SpanLayer(layer, list(labels), list(rels))
        for layer, (labels, rels) in span_plan.items()
    }
    return Ratings(
        annotators=list(annotators),
        n_units=n_units,
        rated=rated,
        single=single_layers,
        multi=multi_layers,
        span=span_layers,
        layer_order=order,
        warnings=warnings,
    )


def ratings_from_columns(
    n_units: int,
    annotators: list[str],
    done: dict[str, np.ndarray],
    multi: dict[str, dict[str, dict[str, np.ndarray]]],
    single: dict[str, dict[str | None, dict[str, np.ndarray]]],
    schema: LabelSchema | None = None,
) -> Ratings:
    """Ratings from unit-index arrays (0..n_units-1), e.g. filled by SQL in the store.

    `done[a]`: units annotator a marked done (only those count as rated);
    `multi[layer][label][a]`: units where a put label on; `single[layer][label][a]`: units
    where a chose label (units done without a choice are the "none" category).
    Span layers of the schema appear without span data (spans come only via records).
    """
    return _assemble(n_units, list(annotators), done, multi, single, schema)


# ---------------------------------------------------------------- records


def _name(value: object) -> str:
    """An annotator, layer or label name read from an export file, cleaned as the schema's
    and the corpus's strings are: names are printed (table, JSON report, warnings), so
    an ESC or C1 control must not reach the terminal, and a lone surrogate ("\\ud800"
    in the file) could not even be encoded."""
    return _clean_name(str(value))


_clean_name = functools.lru_cache(maxsize=4096)(clean_text)


def build_ratings(records: Iterable[dict], schema: LabelSchema | None = None) -> Ratings:
    """Ratings from export records (PRODUCT.md "Export record"), in one pass over them.

    Without a schema, layer kinds are inferred: a list value is multi, a string or null
    is single, spans give span layers. With one, labels nobody used still appear, and
    layers or labels not in the schema are counted (never dropped) with a warning.
    """
    unit_of: dict[tuple[str, int], int] = {}
    lengths: list[int] = []
    warnings: list[str] = []
    # (unit, annotator name) -> annotation: a repeated pair keeps the last one
    chosen: dict[tuple[int, str], dict] = {}
    kinds: dict[str, str] = {}
    if schema is not None:
        kinds = {lay.id: lay.kind for lay in schema.layers}

    skipping: set[str] = set()  # annotators with units marked not content
    for rec in records:
        key = (str(rec.get("doc_id")), int(rec.get("paragraph", 0) or 0))
        text = rec.get("text") or ""
        u = unit_of.get(key)
        if u is None:
            u = unit_of[key] = len(lengths)
            lengths.append(len(text))
        for ann in rec.get("annotations") or ():
            if ann.get("status", "done") != "done":
                # not content: no rating, but the annotator is one (as in the store)
                if ann.get("status") == "skipped":
                    skipping.add(_name(ann.get("annotator")))
                continue
            name = _name(ann.get("annotator"))
            if (u, name) in chosen:
                warnings.append(
                    f"{_name(key[0])}#{key[1]}: several annotations by {name!r}; the last "
                    "counts"
                )
            chosen[(u, name)] = ann

    annotators = sorted({name for _, name in chosen} | skipping)
    n_units = len(lengths)
    done: dict[str, list[int]] = {a: [] for a in annotators}
    multi: dict[str, dict[str, dict[str, list[int]]]] = {}
    single: dict[str, dict[str | None, dict[str, list[int]]]] = {}
    spans = SpanRows(kinds, warnings)

    for (u, name), ann in chosen.items():
        done[name].append(u)
        for layer, value in (ann.get("labels") or {}).items():
            layer = _name(layer)
            kind = kinds.get(layer)
            if kind is None:
                kind = kinds[layer] = "multi" if isinstance(value, list) else "single"
            if kind == "span":
                warnings.append(
                    f"layer {layer!r} is a span layer but has paragraph labels; ignored"
                )
                continue
            if kind == "multi":
                values = value if isinstance(value, list) else ([] if value is None else [value])
                per = multi.setdefault(layer, {})
                for lab in dict.fromkeys(_name(v) for v in values):
                    per.setdefault(lab, {}).setdefault(name, []).append(u)
            else:
                if isinstance(value, list):
                    if len(value) > 1:
                        warnings.append(
                            f"single layer {layer!r} has several labels; the first counts"
                        )
                    value = value[0] if value else None
                per = single.setdefault(layer, {})
                if value is not None:
                    per.setdefault(_name(value), {}).setdefault(name, []).append(u)
        spans.add(u, name, ann.get("spans") or (), ann.get("relations") or ())

    undecided = _undecided_from_records(chosen, schema, multi, single)
    as_arr = {a: np.asarray(v, np.int64) for a, v in done.items()}
    multi_arr = {
        lay: {
            lab: {a: np.asarray(v, np.int64) for a, v in per.items()} for lab, per in labs.items()
        }
        for lay, labs in multi.items()
    }
    single_arr = {
        lay: {
            lab: {a: np.asarray(v, np.int64) for a, v in per.items()} for lab, per in labs.items()
        }
        for lay, labs in single.items()
    }
    ratings = _assemble(
        n_units, annotators, as_arr, multi_arr, single_arr, schema, spans.labels,
        spans.relation_labels, undecided,
    )
    ratings.warnings = warnings + ratings.warnings
    attach_spans(ratings, lengths, spans)
    return ratings


def paragraph_layer_ids(schema: LabelSchema | None, *found: Iterable[str]) -> list[str]:
    """Paragraph layers: the schema's, then those found in the data (not span layers)."""
    out = [lay.id for lay in schema.paragraph_layers] if schema is not None else []
    spans = {lay.id for lay in schema.span_layers} if schema is not None else set()
    for layers in found:
        out.extend(x for x in layers if x not in out and x not in spans)
    return out


def _undecided_from_records(chosen: Mapping[tuple[int, str], dict],
                            schema: LabelSchema | None, multi: Mapping, single: Mapping
                            ) -> dict[str, dict[str, list[int]]]:
    """{layer: {annotator: units}} of done annotations whose `decided` list (optional:
    absent means every layer) leaves that paragraph layer out."""
    layers = None
    out: dict[str, dict[str, list[int]]] = {}
    for (u, name), ann in chosen.items():
        decided = ann.get("decided")
        if not isinstance(decided, list):
            continue
        if layers is None:
            layers = paragraph_layer_ids(schema, multi, single)
        have = {_name(x) for x in decided}
        for layer in layers:
            if layer not in have:
                out.setdefault(layer, {}).setdefault(name, []).append(u)
    return {lay: {a: np.asarray(v, np.int64) for a, v in per.items()}
            for lay, per in out.items()}


@dataclass
class SpanRows:
    """Spans and relations of done annotations as read, for `attach_spans`. Export records
    and the store both go through `add`, so they read spans alike.

    `kinds` (layer -> kind) and `warnings` are shared with the caller: a layer first seen
    with spans becomes a span layer, and warnings keep the order of the input."""

    kinds: dict[str, str]
    warnings: list[str]
    spans: list[tuple[int, str, str, str, int, int]] = field(default_factory=list)
    relations: list[tuple[int, str, str, int, int]] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)  # span layer -> its labels
    relation_labels: dict[str, list[str]] = field(default_factory=dict)

    def add(self, u: int, name: str, spans: Iterable[dict], relations: Iterable[dict]) -> None:
        """One annotation's spans (rows: unit, annotator, layer, label, start, end) and
        relations (rows: unit, annotator, label, source row, target row)."""
        local: dict[str, int] = {}
        for sp in spans:
            layer = _name(sp.get("layer"))
            if self.kinds.setdefault(layer, "span") != "span":
                self.warnings.append(f"span in non-span layer {layer!r}; ignored")
                continue
            label = _name(sp.get("label"))
            labels = self.labels.setdefault(layer, [])
            if label not in labels:
                labels.append(label)
            local[str(sp.get("id"))] = len(self.spans)
            self.spans.append(
                (u, name, layer, label, int(sp.get("start") or 0), int(sp.get("end") or 0))
            )
        for rel in relations:
            src, dst = local.get(str(rel.get("from"))), local.get(str(rel.get("to")))
            if src is None or dst is None:
                self.warnings.append(
                    f"relation {_name(rel.get('label'))!r} points to a missing span; ignored"
                )
                continue
            layer = self.spans[src][2]
            label = _name(rel.get("label"))
            rels = self.relation_labels.setdefault(layer, [])
            if label not in rels:
                rels.append(label)
            self.relations.append((u, name, label, src, dst))


def attach_spans(
    ratings: Ratings, lengths: Sequence[int] | np.ndarray, collected: SpanRows
) -> None:
    """Fill the span and relation tables of `ratings` (built by `_assemble` with the span
    labels of `collected`) from the rows collected."""
    span_rows, rel_rows = collected.spans, collected.relations
    ratings.unit_length = np.asarray(lengths, np.int64)
    ratings.has_span_data = True
    a_index = {a: i for i, a in enumerate(ratings.annotators)}
    span_order = {lay: i for i, lay in enumerate(ratings.span)}
    label_index = {
        (lay, lab): i for lay, sl in ratings.span.items() for i, lab in enumerate(sl.labels)
    }
    if span_rows:
        rows = np.array(
            [
                (u, a_index[a], span_order[lay], label_index[(lay, lab)], s, e)
                for u, a, lay, lab, s, e in span_rows
            ],
            dtype=np.int64,
        )
        ratings.spans = SpanTable(*(rows[:, i].copy() for i in range(6)))
    if rel_rows:
        rows = np.array(
            [
                (
                    u,
                    a_index[a],
                    ratings.spans.layer[src],
                    ratings.span[span_rows[src][2]].relation_labels.index(lab),
                    src,
                    dst,
                )
                for u, a, lab, src, dst in rel_rows
            ],
            dtype=np.int64,
        )
        ratings.relations = RelationTable(*(rows[:, i].copy() for i in range(6)))
