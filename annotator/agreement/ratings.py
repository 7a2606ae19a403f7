"""Ratings: who rated which unit how, as compact numpy arrays.

Three builders fill the same structure: `build_ratings` from export records (one pass),
`ratings_from_columns` from unit-index arrays, and `from_store.ratings_from_store` from
the project store. The paragraph layers of all of them are built by `paragraph_layers`
(the decided masks, "none" on single layers), and the two that see spans read them
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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    scales: dict[str, str] = field(default_factory=dict)  # single layer -> its schema's scale

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


def paragraph_layers(
    rated: np.ndarray,
    multi_plan: Mapping[str, list],
    single_plan: Mapping[str, list],
    masks: Mapping[str, np.ndarray],
    multi_on: Callable[[str, list, np.ndarray], None],
    single_codes: Callable[[str, list, np.ndarray], None],
) -> tuple[dict[str, MultiLayer], dict[str, SingleLayer]]:
    """The paragraph layers of a Ratings, for every builder (the store's `_assemble` and
    the export's `RatingsCollector.ratings`), so they count alike: `multi_on(layer,
    labels, on)` sets on[u, a, l] where a put label l on u; `single_codes(layer,
    labels, codes)` sets codes[u, a] to the index of the label a chose. A unit counts
    on a layer where it is rated on it (`masks[layer]`, done with the layer decided;
    without a mask, `rated`): elsewhere nothing counts, and on a single layer a rated
    unit without a chosen label is the "none" category (the last)."""
    multi_layers: dict[str, MultiLayer] = {}
    for layer, labels in multi_plan.items():
        on = np.zeros((*rated.shape, len(labels)), dtype=bool)
        multi_on(layer, labels, on)
        mask = masks.get(layer)
        on &= (rated if mask is None else mask)[:, :, None]  # only rated units count
        multi_layers[layer] = MultiLayer(layer, labels, on, mask)
    single_layers: dict[str, SingleLayer] = {}
    for layer, labels in single_plan.items():
        categories: list[str | None] = [*labels, None]
        dtype = np.int16 if len(categories) < 32000 else np.int32
        codes = np.full(rated.shape, -1, dtype=dtype)
        mask = masks.get(layer)
        lay_rated = rated if mask is None else mask
        codes[lay_rated] = len(categories) - 1  # done with no label chosen: "none"
        single_codes(layer, labels, codes)
        codes[~lay_rated] = -1  # not rated on this layer (not done, or not decided)
        single_layers[layer] = SingleLayer(layer, categories, codes, mask)
    return multi_layers, single_layers


def _ratings_of(annotators: list[str], n_units: int, rated: np.ndarray,
                plans: tuple[Mapping[str, list], Mapping[str, list], Mapping[str, tuple]],
                masks: Mapping[str, np.ndarray],
                multi_on: Callable[[str, list, np.ndarray], None],
                single_codes: Callable[[str, list, np.ndarray], None],
                order: list[str], warnings: list[str]) -> Ratings:
    """The Ratings both builders end with: paragraph layers (`paragraph_layers`) and
    span layers from `plans` = (multi, single, span {layer: (labels, relations)})."""
    multi_plan, single_plan, span_plan = plans
    multi_layers, single_layers = paragraph_layers(rated, multi_plan, single_plan, masks,
                                                   multi_on, single_codes)
    return Ratings(
        annotators=list(annotators),
        n_units=n_units,
        rated=rated,
        single=single_layers,
        multi=multi_layers,
        span={layer: SpanLayer(layer, list(labels), list(rels))
              for layer, (labels, rels) in span_plan.items()},
        layer_order=order,
        warnings=warnings,
    )


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

    masks: dict[str, np.ndarray] = {}
    for layer, per in (undecided or {}).items():
        # units rated on this layer, where some done unit left it undecided
        if per and any(len(v) for v in per.values()):
            mask = masks[layer] = rated.copy()
            for a, units in per.items():
                mask[idx(units), col(a)] = False

    def multi_on(layer: str, labels: list, on: np.ndarray) -> None:
        # flat positions into the (new, contiguous) array: ~2x faster than a tuple index
        flat, stride, n_lab = on.reshape(-1), on.shape[1] * on.shape[2], on.shape[2]
        for li, lab in enumerate(labels):
            for a, units in multi.get(layer, {}).get(lab, {}).items():
                flat[idx(units) * stride + (col(a) * n_lab + li)] = True

    def single_codes(layer: str, labels: list, codes: np.ndarray) -> None:
        for ci, lab in enumerate(labels):
            for a, units in single.get(layer, {}).get(lab, {}).items():
                codes[idx(units), col(a)] = ci

    return _ratings_of(annotators, n_units, rated, (multi_plan, single_plan, span_plan),
                       masks, multi_on, single_codes, order, warnings)


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
    Records are not validated here: `annotator agreement` reads them through
    `validate.read_export`, which refuses what `annotator validate` rejects.
    """
    collector = RatingsCollector(schema)
    for rec in records:
        text = rec.get("text")
        collector.record((str(rec.get("doc_id")), int(rec.get("paragraph", 0) or 0)),
                         len(text) if isinstance(text, str) else 0,
                         rec.get("annotations") or ())
    return collector.ratings()


class RatingsCollector:
    """Annotations as flat columns while a file is read, then `ratings()` in a few numpy
    passes. The export reader (`validate.read_export`) fills the columns itself, in its
    one loop; `record()` does the same for records given as dicts (`build_ratings`). So
    agreement from a file and from a list of records cannot drift apart.

    Per record: its unit key and text length, and where its annotations start. Per
    annotation: its annotator, and per layer it labels, a code for the (layer, value)
    pair among the distinct pairs seen: a file of 200,000 units holds a few hundred
    distinct label sets, and each is decoded once, in `ratings()`."""

    def __init__(self, schema: LabelSchema | None = None) -> None:
        self.schema = schema
        self.unit_keys: list[tuple[str, int]] = []  # per record
        self.unit_lengths: list[int | None] = []  # per record (None: no text)
        self.first_ann: list[int] = []  # per record: index of its first annotation
        self.ann_name: list[object] = []  # per annotation
        self.lab_ann: list[int] = []  # per (annotation, layer): the annotation
        self.lab_code: list[int] = []  # ... and the code of its (layer, value)
        self.values: dict[tuple[object, object], int] = {}  # (layer, value key) -> code
        self.span_anns: list[tuple[int, Sequence, Sequence]] = []  # (annotation, spans, rels)
        self.not_done: list[int] = []  # annotations whose status is not "done"
        # (annotation, its `decided` list): only those layers are rated on the unit
        self.decided: list[tuple[int, Sequence]] = []
        self.skipped: list[int] = []  # annotations marked not content (status "skipped")
        # Set by the export reader, which has them anyway: the distinct raw annotator
        # names in order of appearance and each annotation's index among them, and
        # whether the unit keys are known to be distinct (the reader refuses repeats).
        self.annotator_codes: tuple[list, np.ndarray] | None = None
        self.units_unique = False
        self.pairs_unique = False  # ... and no record names an annotator twice

    def value_code(self, layer: object, key: object) -> int:
        code = self.values.get((layer, key))
        if code is None:
            code = self.values[(layer, key)] = len(self.values)
        return code

    def record(self, key: tuple[str, int], length: int | None,
               annotations: Iterable[Mapping]) -> None:
        """One record's unit and annotations (export-record dicts, unchecked)."""
        self.unit_keys.append(key)
        self.unit_lengths.append(length)
        self.first_ann.append(len(self.ann_name))
        for ann in annotations:
            g = len(self.ann_name)
            self.ann_name.append(ann.get("annotator"))
            if ann.get("status", "done") != "done":
                self.not_done.append(g)
                if ann.get("status") == "skipped":
                    self.skipped.append(g)
            decided = ann.get("decided")
            if isinstance(decided, list):
                self.decided.append((g, decided))
            for layer, value in (ann.get("labels") or {}).items():
                self.lab_ann.append(g)
                self.lab_code.append(
                    self.value_code(layer, tuple(value) if type(value) is list else value))
            spans, relations = ann.get("spans"), ann.get("relations")
            if spans or relations:
                self.span_anns.append((g, spans or (), relations or ()))

    def _index(self, rename: Mapping[object, str] | None
               ) -> tuple[list | None, list, np.ndarray, list[str], np.ndarray, np.ndarray]:
        """(unit keys per unit or None when they are the records' own, unit lengths,
        unit of each annotation, annotators, annotator of each annotation, done per
        annotation), shared by `ratings` and `skip_table`. A repeated unit key is the
        same unit (its first length kept)."""
        key = tuple(sorted(rename.items())) if rename else ()
        cached = getattr(self, "_index_cache", None)
        if cached is not None and cached[0] == key and cached[1] == len(self.ann_name):
            return cached[2]
        n_rec = len(self.unit_keys)
        unit_keys = None  # the records' keys are the units' (no repeated unit)
        if self.units_unique or len(set(self.unit_keys)) == n_rec:
            lengths_u = list(self.unit_lengths)
            rec_unit = np.arange(n_rec, dtype=np.int64)
        else:
            unit_of: dict[tuple[str, int], int] = {}
            lengths_u = []
            rec_unit = np.empty(n_rec, np.int64)
            for r, (k, length) in enumerate(zip(self.unit_keys, self.unit_lengths,
                                                strict=True)):
                u = unit_of.get(k)
                if u is None:
                    u = unit_of[k] = len(lengths_u)
                    lengths_u.append(length)
                rec_unit[r] = u
            unit_keys = list(unit_of)
        n_ann = len(self.ann_name)
        per_rec = np.diff(np.append(np.asarray(self.first_ann, np.int64), n_ann))
        all_u = np.repeat(rec_unit, per_rec)
        raw_names = self.ann_name
        if self.annotator_codes is not None and len(self.annotator_codes[1]) == n_ann:
            distinct, raw_codes = self.annotator_codes
        else:
            distinct = list(dict.fromkeys(raw_names))
            first = {raw: k for k, raw in enumerate(distinct)}
            raw_codes = np.fromiter(map(first.__getitem__, raw_names), np.int64, n_ann)
        clean = [_name(rename.get(raw, raw) if rename else raw) for raw in distinct]
        annotators = sorted(set(clean))
        # distinct raw names stay distinct once cleaned: (unit, raw name) pairs that are
        # unique stay unique (`_one_each`)
        self._names_injective = len(annotators) == len(distinct)
        a_index = {a: k for k, a in enumerate(annotators)}
        table = np.array([a_index[c] for c in clean], np.int64)
        all_a = table[raw_codes] if n_ann else np.zeros(0, np.int64)
        done = np.ones(n_ann, bool)
        done[np.asarray(self.not_done, np.int64)] = False
        out = (unit_keys, lengths_u, all_u, annotators, all_a, done)
        self._index_cache = (key, n_ann, out)
        return out

    def _one_each(self, rename: Mapping[object, str] | None) -> bool:
        """Whether each (unit, annotator) has one annotation, as the export reader found
        (no repeated unit, no record naming an annotator twice, no names merged): then
        no "last annotation counts" search is needed."""
        return self.pairs_unique and not rename and getattr(self, "_names_injective", False)

    def skip_table(self, rename: Mapping[object, str] | None = None):
        """Who decided which unit (done or skipped) and who marked it not content, for
        `skip_agreement`; a repeated (unit, annotator) pair keeps the last."""
        from .skip import SkipTable

        _, lengths_u, all_u, annotators, all_a, done = self._index(rename)
        skipped = np.zeros(len(done), bool)
        skipped[np.asarray(self.skipped, np.int64)] = True
        decided_ann = np.flatnonzero(done | skipped)
        present = np.unique(all_a[decided_ann])
        names = [annotators[int(i)] for i in present]
        col = np.full(max(len(annotators), 1), -1, np.int64)
        col[present] = np.arange(len(present))
        n_a = max(len(names), 1)
        u, a = all_u[decided_ann], col[all_a[decided_ann]]
        if self._one_each(rename):
            pick = np.arange(len(u))
        else:
            _, last = np.unique((u * n_a + a)[::-1], return_index=True)
            pick = len(u) - 1 - last  # the last annotation of each (unit, annotator)
        decided = np.zeros((len(lengths_u), len(names)), bool)
        skip = np.zeros_like(decided)
        decided[u[pick], a[pick]] = True
        skip[u[pick], a[pick]] = skipped[decided_ann[pick]]
        return SkipTable(names, decided, skip)

    def ratings(self, rename: Mapping[object, str] | None = None) -> Ratings:
        """The Ratings of everything collected. `rename` maps annotator names to the name
        they count as (`--merge-names`)."""
        schema = self.schema
        warnings: list[str] = []
        unit_keys, lengths_u, all_u, annotators, all_a, done = self._index(rename)
        n_units = len(lengths_u)
        n_ann = len(self.ann_name)
        n_a = max(len(annotators), 1)
        # A repeated (unit, annotator) pair keeps its last annotation.
        key = all_u * n_a + all_a
        keep = np.zeros(n_ann, bool)
        idx_done = np.flatnonzero(done)
        if self._one_each(rename):  # all kept
            keep[idx_done] = True
        elif len(idx_done):
            _, last = np.unique(key[idx_done][::-1], return_index=True)
            keep[idx_done[len(idx_done) - 1 - last]] = True
        names_of = self.unit_keys if unit_keys is None else unit_keys
        for i in np.flatnonzero(done & ~keep):
            doc, par = names_of[int(all_u[i])]
            warnings.append(f"{_name(doc)}#{par}: several annotations by "
                            f"{annotators[int(all_a[i])]!r}; the last counts")
        ann_u, ann_a = all_u, all_a

        # distinct (layer, value) pairs, grouped by (cleaned) layer in order of appearance
        lab_ann = np.asarray(self.lab_ann, np.int64)
        lab_code = np.asarray(self.lab_code, np.int64)
        by_layer: dict[str, list[tuple[int, object]]] = {}
        for (layer, value), code in self.values.items():
            by_layer.setdefault(_name(layer), []).append((code, value))
        code_layer = np.zeros(len(self.values), np.int64)
        for li, pairs in enumerate(by_layer.values()):
            code_layer[[c for c, _ in pairs]] = li
        row_layer = code_layer[lab_code] if len(lab_code) else lab_code
        layer_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        per_value: dict[str, list[object]] = {}
        for li, (layer, pairs) in enumerate(by_layer.items()):
            sel = np.flatnonzero(row_layer == li)
            # codes local to the layer: position among its distinct values
            local = np.zeros(len(self.values), np.int64)
            local[[c for c, _ in pairs]] = np.arange(len(pairs))
            layer_rows[layer] = (lab_ann[sel], local[lab_code[sel]])
            per_value[layer] = [value for _, value in pairs]

        kinds: dict[str, str] = {lay.id: lay.kind for lay in schema.layers} if schema else {}
        multi_values: dict[str, list[list[str]]] = {}
        single_values: dict[str, list[str | None]] = {}
        for layer, per in per_value.items():
            kind = kinds.get(layer)
            if kind is None:
                first = per[0]
                kind = kinds[layer] = "multi" if isinstance(first, tuple) else "single"
            rows_i = layer_rows[layer][0]
            if kind == "span":
                n = int(keep[rows_i].sum())
                warnings.append(f"layer {layer!r} is a span layer but {n} annotation(s) give "
                                "it paragraph labels; ignored")
                continue
            if kind == "multi":
                multi_values[layer] = [
                    list(dict.fromkeys(_name(v) for v in value)) if isinstance(value, tuple)
                    else ([] if value is None else [_name(value)])
                    for value in per
                ]
            else:
                codes = {k for k, v in enumerate(per) if isinstance(v, tuple) and len(v) > 1}
                if codes:
                    n = sum(1 for c, k in zip(layer_rows[layer][1].tolist(), keep[rows_i].tolist(),
                                              strict=True) if k and c in codes)
                    if n:
                        warnings.append(f"single layer {layer!r} has several labels in {n} "
                                        "annotation(s); the first counts")
                single_values[layer] = [
                    (_name(value[0]) if value else None) if isinstance(value, tuple)
                    else (None if value is None else _name(value))
                    for value in per
                ]

        spans = SpanRows({k: v for k, v in kinds.items()}, [])
        for i, sp, rel in self.span_anns:
            if keep[i]:
                spans.add(int(ann_u[i]), annotators[int(ann_a[i])], sp, rel)
        warnings += spans.warnings

        order, multi_plan, single_plan, span_plan, plan_warnings = _layer_plan(
            schema,
            {lay: [lab for value in vals for lab in value] for lay, vals in multi_values.items()},
            {lay: vals for lay, vals in single_values.items()},
            spans.labels,
            spans.relation_labels,
        )
        rated = np.zeros((n_units, len(annotators)), bool)
        rated[ann_u[keep], ann_a[keep]] = True
        # per paragraph layer: units rated on it, where a done unit left it undecided
        masks: dict[str, np.ndarray] = {}
        if self.decided:
            layers = paragraph_layer_ids(schema, multi_plan, single_plan)
            for i, decided in self.decided:
                if not keep[i]:
                    continue
                have = {_name(x) for x in decided}
                for layer in layers:
                    if layer not in have:
                        m = masks.get(layer)
                        if m is None:
                            m = masks[layer] = rated.copy()
                        m[ann_u[i], ann_a[i]] = False

        def kept_rows(layer: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            idx, codes = layer_rows[layer]
            k = keep[idx]
            return ann_u[idx[k]], ann_a[idx[k]], codes[k]

        def multi_on(layer: str, labels: list, on: np.ndarray) -> None:
            if layer in multi_values:
                pos = {lab: j for j, lab in enumerate(labels)}
                table = np.zeros((len(multi_values[layer]), len(labels)), bool)
                for c, value in enumerate(multi_values[layer]):
                    table[c, [pos[lab] for lab in value]] = True
                uu, aa, cc = kept_rows(layer)
                on[uu, aa] = table[cc]

        def single_codes(layer: str, labels: list, codes: np.ndarray) -> None:
            if layer in single_values:
                pos = {lab: j for j, lab in enumerate(labels)}
                table = np.array([len(labels) if v is None else pos[v]
                                  for v in single_values[layer]], np.int64)
                uu, aa, cc = kept_rows(layer)
                codes[uu, aa] = table[cc]

        ratings = _ratings_of(annotators, n_units, rated,
                              (multi_plan, single_plan, span_plan), masks, multi_on,
                              single_codes, order, warnings + plan_warnings)
        try:  # every record with its text: no loop over the units (~0.01 s at 200,000)
            lengths = np.array(lengths_u, np.int64)
        except TypeError:
            lengths = np.array([-1 if n is None else n for n in lengths_u], np.int64)
        if (lengths < 0).any():
            # A record without its text (another tool's converter): the unit is as long
            # as the furthest span end on it (docs/agreement.md, "Records").
            ends = np.zeros(n_units, np.int64)
            for u, _, _, _, _, e in spans.spans:
                ends[u] = max(ends[u], e)
            lengths = np.where(lengths < 0, ends, lengths)
        attach_spans(ratings, lengths, spans)
        return ratings


def paragraph_layer_ids(schema: LabelSchema | None, *found: Iterable[str]) -> list[str]:
    """Paragraph layers: the schema's, then those found in the data (not span layers)."""
    out = [lay.id for lay in schema.paragraph_layers] if schema is not None else []
    spans = {lay.id for lay in schema.span_layers} if schema is not None else set()
    for layers in found:
        out.extend(x for x in layers if x not in out and x not in spans)
    return out


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
