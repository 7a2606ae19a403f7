"""The agreement report (PRODUCT.md "Agreement report") and the per-unit agreement field."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np

from ..schema import LabelSchema
from .bootstrap import alpha_ci95, alpha_ci95_level
from .coefficients import (
    CountTable,
    Estimate,
    agreement_weights,
    as_float,
    cohen_kappa_binary,
    cohen_kappa_table,
    cohen_kappa_weighted,
    count_table,
    fleiss_category_kappas,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac2,
    krippendorff_alpha,
    krippendorff_alpha_level,
    masi_alpha,
    percent_agreement,
)
from .gamma import DEFAULT_SAMPLES, GAMMA_DEFINITION, gamma
from .overlap import mark_pair_overlap
from .ratings import NONE_KEY, Ratings
from .spans import (
    UNITIZED_ALPHA_DEFINITION,
    pair_relation_counts,
    pair_span_counts,
    prf,
    unitized_alpha_sections,
)

REPORT_VERSION = 1
# the weights of Gwet's AC2 and weighted kappa that match a single layer's scale
SCALE_WEIGHTS = {"ordinal": "linear", "interval": "quadratic"}


class _Obj(dict):
    """A report object that records why a value is null under "reasons"."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self["reasons"] = {}

    def put(self, key: str, value: Estimate | float | None, reason: str | None = None) -> None:
        if isinstance(value, Estimate):
            value, reason = value.value, value.reason
        value = as_float(value)
        self[key] = value
        if value is None:
            self["reasons"][key] = reason or "undefined"
        else:
            self["reasons"].pop(key, None)


def _mean(values: list[float | None]) -> float | None:
    ok = [v for v in values if v is not None]
    return float(np.mean(ok)) if ok else None


def _binary_table(n_on: np.ndarray, m: np.ndarray, base: int) -> CountTable:
    """Count rows (off, on) per distinct (on, raters) pair of one multi label, via bincount."""
    code = n_on.astype(np.int64) * base + m
    freq = np.bincount(code, minlength=base * base)
    uniq = np.flatnonzero(freq)
    on, raters = uniq // base, uniq % base
    keep = raters > 0
    rows = np.stack([raters - on, on], axis=1)[keep]
    return CountTable(rows.astype(np.int64), freq[uniq][keep].astype(np.int64))


def _no_two(n_active: int) -> str:
    return "fewer than two annotators" if n_active < 2 else "more than two annotators (see pairs)"


# ---------------------------------------------------------------- paragraph layers


def _nominal_block(
    obj: _Obj,
    t: CountTable,
    q: int,
    n_active: int,
    n_boot: int,
    seed: int,
    keys: tuple[str, ...],
    raters: int = 0,
) -> None:
    """The nominal figures of a single layer or a multi label, each with its base:
    `units` / `ratings` / `raters` (pairable units: percent, alpha, AC1's pa),
    `rated_units` (units with a rating: prevalence, shares, the chance terms of AC1 and
    of Gwet's Fleiss), `fleiss_units` / `fleiss_raters` (units rated by all)."""
    obj["units"] = t.units(2)
    pair = t.ratings_per_unit >= 2
    obj["ratings"] = int(t.weights[pair] @ t.ratings_per_unit[pair])
    obj["raters"] = raters
    obj["rated_units"] = t.units(1)
    obj.put("percent_agreement", percent_agreement(t))
    alpha = krippendorff_alpha(t)
    obj.put("krippendorff_alpha", alpha)
    if alpha.value is None:
        obj["alpha_ci95"] = None
        obj["reasons"]["alpha_ci95"] = "alpha undefined: " + (alpha.reason or "")
    else:
        ci, why = alpha_ci95(t, n_boot, seed, *keys)
        obj["alpha_ci95"] = ci
        if ci is None:
            obj["reasons"]["alpha_ci95"] = why
    obj.put("gwet_ac1", gwet_ac1(t, q))
    obj.put("fleiss_kappa", fleiss_kappa(t, n_raters=n_active))
    complete = t.ratings_per_unit == n_active
    obj["fleiss_units"] = int(t.weights[complete].sum()) if n_active >= 2 else 0
    obj["fleiss_raters"] = int(n_active)
    obj.put("fleiss_kappa_gwet", fleiss_kappa(t, missing="gwet"))


def _active_pair(active: np.ndarray) -> tuple[int, int]:
    """The two active annotators as a key of the per-pair results (a < b, like the pairs)."""
    return int(active[0]), int(active[1])


def _raters(r: Ratings) -> int:
    """Annotators with a rating on a pairable unit (a unit two or more rated)."""
    pair = r.rated.sum(axis=1) >= 2
    return int(r.rated[pair].any(axis=0).sum())


def _scale_block(obj: _Obj, r: Ratings, layer: str, counts: np.ndarray, active: np.ndarray,
                 n_boot: int, seed: int, scale: str) -> None:
    """Figures at an ordinal / interval level. "(none)" has no place on the scale: those
    ratings are left out of these figures (`scale_units`, `scale_ratings` say what is
    left); `krippendorff_alpha` and `alpha_ci95` are then at the layer's level and the
    nominal alpha stays under `krippendorff_alpha_nominal`."""
    t = count_table(counts[:, :-1])
    pair = t.ratings_per_unit >= 2
    obj["krippendorff_alpha_nominal"] = obj["krippendorff_alpha"]
    if "krippendorff_alpha" in obj["reasons"]:
        obj["reasons"]["krippendorff_alpha_nominal"] = obj["reasons"]["krippendorff_alpha"]
    obj["alpha_level"] = scale
    obj["scale_units"] = int(t.weights[pair].sum())
    obj["scale_ratings"] = int(t.weights[pair] @ t.ratings_per_unit[pair])
    alpha = krippendorff_alpha_level(t, scale)
    obj.put("krippendorff_alpha", alpha)
    if alpha.value is None:
        obj["alpha_ci95"] = None
        obj["reasons"]["alpha_ci95"] = "alpha undefined: " + (alpha.reason or "")
    else:
        ci, why = alpha_ci95_level(t, scale, n_boot, seed, layer)
        obj["alpha_ci95"] = ci
        if ci is None:
            obj["reasons"]["alpha_ci95"] = why
        else:
            obj["reasons"].pop("alpha_ci95", None)
    kind = SCALE_WEIGHTS[scale]
    weights = agreement_weights(kind, t.n_categories)
    obj["weights"] = kind
    obj.put("gwet_ac2", gwet_ac2(t, weights))
    if len(active) == 2:
        obj.put("cohen_kappa_weighted", _weighted_pair_kappa(r, layer, *_active_pair(active)))
    else:
        obj.put("cohen_kappa_weighted", None, _no_two(len(active)))


def _weighted_pair_kappa(r: Ratings, layer: str, a: int, b: int) -> Estimate:
    """Cohen's weighted kappa of a pair on an ordered single layer ("(none)" left out)."""
    lay = r.single[layer]
    q = len(lay.categories) - 1
    both = r.rated[:, a] & r.rated[:, b]
    ca = lay.codes[both, a].astype(np.int64)
    cb = lay.codes[both, b].astype(np.int64)
    ok = (ca < q) & (cb < q)
    table = np.bincount(ca[ok] * q + cb[ok], minlength=q * q).reshape(q, q)
    return cohen_kappa_weighted(table, agreement_weights(SCALE_WEIGHTS[_scale_of(r, layer)], q))


def _scale_of(r: Ratings, layer: str) -> str:
    return r.scales.get(layer, "nominal")


def _single_layer(
    r: Ratings,
    layer: str,
    active: np.ndarray,
    n_boot: int,
    seed: int,
    pair_kappa: dict[tuple[int, int], Estimate],
    scale: str = "nominal",
) -> dict:
    """The layer's report object; `pair_kappa`: Cohen's kappa of every annotator pair."""
    lay = r.single[layer]
    counts = r.single_counts(layer)
    t = count_table(counts)
    obj = _Obj(kind="single")
    # AC1's q: the layer's labels, plus "none" only when someone chose no label, so a
    # layer where every unit gets a label has the scale its schema defines.
    q = len(lay.categories) - (0 if counts[:, -1].any() else 1)
    raters = _raters(r)
    _nominal_block(obj, t, q, len(active), n_boot, seed, (layer,), raters)
    if len(active) == 2:
        obj.put("cohen_kappa", pair_kappa[_active_pair(active)])
        a, b = _active_pair(active)
        obj["cohen_units"] = int((r.rated[:, a] & r.rated[:, b]).sum())
    else:
        obj.put("cohen_kappa", None, _no_two(len(active)))
    obj["scale"] = scale
    if scale != "nominal":
        _scale_block(obj, r, layer, counts, active, n_boot, seed, scale)
    total = counts.sum()
    cat_kappas = fleiss_category_kappas(t, n_raters=len(active))
    cats = {}
    for ci, cat in enumerate(lay.categories):
        c = _Obj()
        c.put("share", counts[:, ci].sum() / total if total else None, "no ratings")
        c.put("fleiss_kappa", cat_kappas[ci])
        cats[NONE_KEY if cat is None else cat] = c
    obj["categories"] = cats
    return obj


def _single_pair_kappa(r: Ratings, layer: str, a: int, b: int) -> Estimate:
    lay = r.single[layer]
    both = r.layer_rated(layer)[:, a] & r.layer_rated(layer)[:, b]
    n_cat = len(lay.categories)
    ca = lay.codes[both, a].astype(np.int64)
    cb = lay.codes[both, b].astype(np.int64)
    table = np.bincount(ca * n_cat + cb, minlength=n_cat * n_cat).reshape(n_cat, n_cat)
    return cohen_kappa_table(table)


def _multi_pair_kappas(r: Ratings, layer: str, a: int, b: int) -> np.ndarray:
    """Cohen's kappa per label of a multi layer for annotators a, b (NaN where undefined)."""
    on = r.multi[layer].on
    both = r.layer_rated(layer)[:, a] & r.layer_rated(layer)[:, b]
    x = on[:, a, :][both]
    y = on[:, b, :][both]
    n = np.full(on.shape[2], both.sum())
    return cohen_kappa_binary(
        np.count_nonzero(x & y, axis=0), np.count_nonzero(x, axis=0), np.count_nonzero(y, axis=0), n
    )


def _multi_all_pair_kappas(r: Ratings, layer: str, pairs: list[tuple[int, int]]
                           ) -> dict[tuple[int, int], np.ndarray]:
    """`_multi_pair_kappas` of every pair at once. With up to 8 annotators each unit's
    raters and, per label, who put it on are one byte each (packbits); one bincount per
    label of (raters, on) patterns then gives every pair's 2x2 counts as sums over
    patterns, instead of gathering each pair's rows of the [U, A, L] array (3 pairs:
    ~3x faster at 1,000,000 units)."""
    on = r.multi[layer].on
    n_annot, n_lab = on.shape[1], on.shape[2]
    if n_annot > 8 or not pairs:
        return {p: _multi_pair_kappas(r, layer, *p) for p in pairs}
    size = 1 << n_annot
    rated = r.layer_rated(layer).view(np.uint8)
    rp = np.zeros(len(on), np.int64)  # the unit's raters, a bit each
    for a in range(n_annot):
        rp |= rated[:, a].astype(np.int64) << (n_annot + a)
    # [L, U]: who put the label on, a bit each; label-major so each label's row is
    # contiguous for its bincount
    v = on.view(np.uint8).transpose(1, 2, 0)
    pat = v[0].copy()
    for a in range(1, n_annot):
        pat |= v[a] << a
    hist = np.empty((n_lab, size, size), np.int64)  # [label, raters pattern, on pattern]
    for li in range(n_lab):
        hist[li] = np.bincount(rp + pat[li], minlength=size * size).reshape(size, size)
    bits = (np.arange(size)[:, None] >> np.arange(n_annot)) & 1  # [pattern, annotator]
    out = {}
    for a, b in pairs:
        both = (bits[:, a] & bits[:, b]).astype(np.int64)
        per = np.einsum("r,lrp->lp", both, hist)  # [label, on pattern] over units rated by both
        n = per.sum(axis=1)
        out[(a, b)] = cohen_kappa_binary(per @ (bits[:, a] & bits[:, b]), per @ bits[:, a],
                                         per @ bits[:, b], n)
    return out


def _kappa_reason(n_both: int) -> str:
    if n_both == 0:
        return "no unit rated by both annotators"
    return "no variation: both annotators made the same single choice throughout"


def _multi_layer(
    r: Ratings,
    layer: str,
    active: np.ndarray,
    n_boot: int,
    seed: int,
    pair_kappas: dict[tuple[int, int], np.ndarray],
) -> dict:
    """The layer's report object; `pair_kappas`: per-label kappas of every annotator pair."""
    lay = r.multi[layer]
    n_on, m = r.multi_counts(layer)
    base = len(r.annotators) + 1
    cohen = None
    if len(active) == 2:
        a, b = _active_pair(active)
        cohen = pair_kappas[(a, b)]
        n_both = int((r.layer_rated(layer)[:, a] & r.layer_rated(layer)[:, b]).sum())
    total_ratings = int(m.sum())
    raters = _raters(r)
    labels = {}
    for li, label in enumerate(lay.labels):
        t = _binary_table(n_on[:, li], m, base)
        obj = _Obj()
        obj.put(
            "prevalence",
            float(n_on[:, li].sum()) / total_ratings if total_ratings else None,
            "no ratings",
        )
        _nominal_block(obj, t, 2, len(active), n_boot, seed, (layer, label), raters)
        obj["prevalence_ratings"] = total_ratings
        if cohen is None:
            obj.put("cohen_kappa", None, _no_two(len(active)))
        else:
            obj.put("cohen_kappa", cohen[li], _kappa_reason(n_both))
        labels[label] = obj
    macro = _Obj()
    defined = {}
    for key in (
        "percent_agreement",
        "krippendorff_alpha",
        "gwet_ac1",
        "fleiss_kappa",
        "cohen_kappa",
    ):
        vals = [lab[key] for lab in labels.values()]
        macro.put(key, _mean(vals), "undefined for every label" if labels else "no labels")
        defined[key] = sum(v is not None for v in vals)
    macro["labels_defined"] = defined
    units = int((m >= 2).sum())
    out = _Obj(kind="multi", units=units, raters=raters, rated_units=int((m >= 1).sum()))
    out["labels"], out["macro"] = labels, macro
    masi, masi_units = masi_alpha(lay.on, r.rated)
    out.put("masi_alpha", masi)
    out["masi_units"] = masi_units
    return out


# ---------------------------------------------------------------- span layers

_SPAN_KEYS = (
    "f1_exact",
    "f1_overlap",
    "precision_exact",
    "recall_exact",
    "precision_overlap",
    "recall_overlap",
)


def _span_metrics(counts: dict[str, int]) -> dict[str, float | None]:
    """precision/recall/f1 _exact and _overlap from pair_span_counts' {"a", "b", "exact", "overlap"}."""
    return {
        f"{key}_{kind}": value
        for kind in ("exact", "overlap")
        for key, value in prf(counts[kind], counts["a"], counts["b"]).items()
    }


_NO_SPAN_DATA = "span annotations are read only from export records"


def _null_span_pair(n_both: int, why: str) -> _Obj:
    entry = _Obj(units=n_both)
    for key in ("f1_exact", "f1_overlap", "unitized_alpha"):
        entry.put(key, None, why)
    return entry


def _null_gamma(obj: _Obj, why: str, samples: int, seed: int) -> None:
    obj.put("gamma", None, why)
    obj["gamma_definition"] = GAMMA_DEFINITION
    obj.update(gamma_units=0, gamma_spans=0, gamma_samples=0, gamma_seed=int(seed))
    for key in ("gamma_observed_disorder", "gamma_expected_disorder",
                "gamma_expected_disorder_se"):
        obj.put(key, None, why)


def _gamma_block(obj: _Obj, r: Ratings, li: int, observers: list[int], units_mask: np.ndarray,
                 length: np.ndarray, samples: int, seed: int) -> None:
    """Mathet et al.'s gamma over the units every active annotator marked done (the base
    of alpha_U): each unit its own continuum for the best alignment; spans of length
    zero (after clipping to the unit's text) have no position to compare and are left
    out (`gamma_spans` counts what is used)."""
    sp = r.spans
    sel = np.flatnonzero((sp.layer == li) & units_mask[sp.unit]) if len(sp) else np.zeros(0, int)
    pos = {a: k for k, a in enumerate(observers)}
    sel = sel[np.isin(sp.annotator[sel], observers)]
    u = sp.unit[sel]
    s = np.clip(sp.start[sel], 0, length[u])
    e = np.clip(sp.end[sel], 0, length[u])
    ok = e > s
    sel, u, s, e = sel[ok], u[ok], s[ok], e[ok]
    ann = np.array([pos[int(a)] for a in sp.annotator[sel]], np.int64)
    base = np.flatnonzero(units_mask)  # the units laid end to end for the chance model
    res = gamma(ann, s, e, sp.label[sel], len(observers), section=np.searchsorted(base, u),
                section_length=length[base], samples=samples, seed=seed)
    obj.put("gamma", res.gamma, res.reason)
    obj["gamma_definition"] = GAMMA_DEFINITION
    obj.update(gamma_units=int(units_mask.sum()), gamma_spans=int(len(sel)),
               gamma_samples=res.samples, gamma_seed=int(seed))
    obj.put("gamma_observed_disorder", res.observed_disorder, res.reason)
    obj.put("gamma_expected_disorder", res.expected_disorder, res.reason)
    obj.put("gamma_expected_disorder_se", res.expected_disorder_se,
            res.reason or "one random continuum: no standard error")


def _span_layer(r: Ratings, layer: str, active: np.ndarray, gamma_samples: int = DEFAULT_SAMPLES,
                seed: int = 0) -> tuple[dict, dict]:
    """The layer's report object, and per-pair results {(a, b): {...}} for `pairs`."""
    sl = r.span[layer]
    li = r.span_order.index(layer)
    obj = _Obj(kind="span")
    obj["unitized_alpha_definition"] = UNITIZED_ALPHA_DEFINITION
    per_pair: dict = {}
    labels = {lab: _Obj() for lab in sl.labels}
    rel_obj = _Obj()
    rel_labels = {lab: _Obj() for lab in sl.relation_labels}
    rel_obj["labels"] = rel_labels
    obj["units"] = int((r.rated.sum(axis=1) >= 2).sum())
    if not r.has_span_data:
        why = _NO_SPAN_DATA
        for key in (*_SPAN_KEYS, "unitized_alpha"):
            obj.put(key, None, why)
        obj["spans"] = 0
        obj["unitized_alpha_units"] = 0
        _null_gamma(obj, why, gamma_samples, seed)
        for lab in labels.values():
            lab["spans"] = 0
            for key in (*_SPAN_KEYS, "unitized_alpha"):
                lab.put(key, None, why)
        rel_obj["relations"] = 0
        rel_obj.put("f1", None, why)
        for rl in rel_labels.values():
            rl["relations"] = 0
            rl.put("f1", None, why)
        obj["labels"], obj["relations"] = labels, rel_obj
        for a, b in combinations(range(len(r.annotators)), 2):
            per_pair[(a, b)] = _null_span_pair(int((r.rated[:, a] & r.rated[:, b]).sum()), why)
        return obj, per_pair

    sp = r.spans
    sel = np.flatnonzero(sp.layer == li)
    length = r.unit_length if r.unit_length is not None else np.zeros(r.n_units, np.int64)
    obj["spans"] = int(len(sel))
    obj["f1_pairs"] = int(sum(bool((r.rated[:, a] & r.rated[:, b]).any())
                              for a, b in combinations(range(len(r.annotators)), 2)))
    span_count = Counter(sp.label[sel].tolist())
    rows_by_annot: dict[int, list[tuple[int, int, int, int]]] = {}
    for i in sel:
        rows_by_annot.setdefault(int(sp.annotator[i]), []).append(
            (int(sp.unit[i]), int(sp.label[i]), int(sp.start[i]), int(sp.end[i]))
        )
    rl = r.relations
    rsel = np.flatnonzero(rl.layer == li) if len(rl) else np.zeros(0, np.int64)
    rel_count = Counter(rl.label[rsel].tolist()) if len(rsel) else Counter()

    def endpoint(row: int) -> tuple[int, int, int, int]:
        return (int(sp.layer[row]), int(sp.label[row]), int(sp.start[row]), int(sp.end[row]))

    rels_by_annot: dict[int, list] = {}
    for i in rsel:
        rels_by_annot.setdefault(int(rl.annotator[i]), []).append(
            (int(rl.unit[i]), int(rl.label[i]), endpoint(int(rl.src[i])), endpoint(int(rl.dst[i])))
        )

    pair_label_metrics: dict[int, list[dict]] = {k: [] for k in range(len(sl.labels))}
    pair_overall: list[dict] = []
    rel_pair_f1: dict[int, list[float | None]] = {k: [] for k in range(len(sl.relation_labels))}
    rel_pair_overall: list[float | None] = []
    any_shared = False
    for a, b in combinations(range(len(r.annotators)), 2):
        both = r.rated[:, a] & r.rated[:, b]
        n_both = int(both.sum())
        if n_both == 0:
            per_pair[(a, b)] = _null_span_pair(0, "no unit marked done by both annotators")
            continue
        entry = per_pair[(a, b)] = _Obj(units=n_both)
        any_shared = True
        sa = [s for s in rows_by_annot.get(a, ()) if both[s[0]]]
        sb = [s for s in rows_by_annot.get(b, ()) if both[s[0]]]
        counts = pair_span_counts(sa, sb)
        tot = {"a": 0, "b": 0, "exact": 0, "overlap": 0}
        for lab_i, c in counts.items():
            pair_label_metrics[lab_i].append(_span_metrics(c))
            for k in tot:
                tot[k] += c[k]
        for lab_i in range(len(sl.labels)):
            if lab_i not in counts:
                pair_label_metrics[lab_i].append(
                    _span_metrics({"a": 0, "b": 0, "exact": 0, "overlap": 0})
                )
        overall = _span_metrics(tot)
        pair_overall.append(overall)
        for key in ("f1_exact", "f1_overlap"):
            entry.put(key, overall[key], "no spans from either annotator on shared units")
        ua = _unitized(r, layer, li, [a, b], both, length)
        entry.put("unitized_alpha", ua["alpha"])
        ra = [x for x in rels_by_annot.get(a, ()) if both[x[0]]]
        rb = [x for x in rels_by_annot.get(b, ()) if both[x[0]]]
        rc = pair_relation_counts(ra, rb)
        ta = sum(c["a"] for c in rc.values())
        tb = sum(c["b"] for c in rc.values())
        tm = sum(c["matched"] for c in rc.values())
        rel_pair_overall.append(prf(tm, ta, tb)["f1"])
        for k in range(len(sl.relation_labels)):
            c = rc.get(k)
            rel_pair_f1[k].append(prf(c["matched"], c["a"], c["b"])["f1"] if c else None)

    no_pairs = "no unit marked done by two annotators" if not any_shared else None
    for key in _SPAN_KEYS:
        obj.put(
            key,
            _mean([p[key] for p in pair_overall]),
            no_pairs or "no spans on units two annotators marked done",
        )
    for lab_i, lab in enumerate(sl.labels):
        o = labels[lab]
        o["spans"] = int(span_count.get(lab_i, 0))
        for key in _SPAN_KEYS:
            o.put(
                key,
                _mean([p[key] for p in pair_label_metrics[lab_i]]),
                no_pairs or "no spans of this label on units two annotators marked done",
            )

    # unitized alpha over the units every active annotator marked done
    observers = [int(x) for x in active]
    if len(observers) < 2:
        ua = {"alpha": Estimate(None, "fewer than two annotators"), "categories": {}}
        n_units = 0
    else:
        all_done = r.rated[:, observers].all(axis=1)
        n_units = int(all_done.sum())
        if n_units == 0:
            ua = {
                "alpha": Estimate(
                    None, f"no unit was marked done by all {len(observers)} annotators"
                ),
                "categories": {},
            }
        else:
            ua = _unitized(r, layer, li, observers, all_done, length)
    obj.put("unitized_alpha", ua["alpha"])
    obj["unitized_alpha_units"] = n_units
    if n_units == 0:
        _null_gamma(obj, ua["alpha"].reason or "no units", gamma_samples, seed)
    else:
        _gamma_block(obj, r, li, observers, all_done, length, gamma_samples, seed)
    for lab_i, lab in enumerate(sl.labels):
        cat = ua["categories"].get(lab_i)
        labels[lab].put(
            "unitized_alpha", cat["alpha"] if cat else Estimate(None, ua["alpha"].reason)
        )

    rel_obj["relations"] = int(len(rsel))
    rel_obj.put(
        "f1",
        _mean(rel_pair_overall),
        no_pairs or "no relations on units two annotators marked done",
    )
    for k, lab in enumerate(sl.relation_labels):
        rel_labels[lab]["relations"] = int(rel_count.get(k, 0))
        rel_labels[lab].put(
            "f1", _mean(rel_pair_f1[k]), no_pairs or "no relations of this label on shared units"
        )
    obj["labels"], obj["relations"] = labels, rel_obj
    return obj, per_pair


def _unitized(
    r: Ratings,
    layer: str,
    li: int,
    observers: list[int],
    units_mask: np.ndarray,
    length: np.ndarray,
) -> dict:
    """alpha_U over the units in `units_mask`, laid end to end (each unit its own section)."""
    units = np.flatnonzero(units_mask)
    lens = length[units]
    sp = r.spans
    sel = np.flatnonzero((sp.layer == li) & units_mask[sp.unit] if len(sp) else np.zeros(0, bool))
    categories = list(range(len(r.span[layer].labels)))
    if not len(sel):
        # No spans: the result is the same for one stretch of the same total length as
        # for a million sections, without building a million Python tuples (3.5 s on a
        # 1,000,000-unit store whose schema has a span layer nobody used).
        total = int(lens.sum())
        return unitized_alpha_sections([[] for _ in observers], [(0, total)] if total else [],
                                       categories=categories)
    offset = np.zeros(r.n_units, np.int64)
    offset[units] = np.concatenate([[0], np.cumsum(lens)[:-1]])
    sections = [(int(o), int(o + n)) for o, n in zip(offset[units], lens, strict=True)]
    per_obs: list[list[tuple[int, int, int]]] = []
    for a in observers:
        rows = sel[sp.annotator[sel] == a]
        u = sp.unit[rows]
        s = np.clip(sp.start[rows], 0, length[u]) + offset[u]
        e = np.clip(sp.end[rows], 0, length[u]) + offset[u]
        per_obs.append(list(zip(s.tolist(), e.tolist(), sp.label[rows].tolist(), strict=True)))
    return unitized_alpha_sections(per_obs, sections, categories=categories)


# ---------------------------------------------------------------- report


def compute_report(
    ratings: Ratings, schema: LabelSchema | None = None, bootstrap: int = 1000, seed: int = 0,
    gamma_samples: int = DEFAULT_SAMPLES,
) -> dict:
    """The agreement report as a JSON-safe dict (PRODUCT.md "Agreement report").

    `bootstrap` resamples of units give alpha's 95% percentile interval (0 disables it);
    `gamma_samples` random continua estimate gamma's expected disorder; `seed` makes
    both reproducible. Null values carry a reason under "reasons".
    """
    r = ratings
    if schema is not None:
        r.scales = {lay.id: lay.scale for lay in schema.layers if lay.kind == "single"}
    active = r.active
    report: dict = {
        "annotators": list(r.annotators),
        "units": int(r.rated.any(axis=1).sum()),
        "units_pairable": int((r.rated.sum(axis=1) >= 2).sum()),
        "layers": {},
        "pairs": [],
        "report_version": REPORT_VERSION,
        "bootstrap": {
            "resamples": int(max(bootstrap, 0)),
            "seed": int(seed),
            "interval": "percentile",
        },
        "warnings": list(r.warnings),
    }
    if schema is not None:
        report["schema"] = {"id": schema.id, "version": schema.version, "sha256": schema.sha256}
    pairs = list(combinations(range(len(r.annotators)), 2))
    # Per-pair results of each layer, computed once: the `pairs` section reads them, and
    # with exactly two annotators so does the layer's own cohen_kappa.
    per_pair: dict[str, dict] = {}
    layers_out = report["layers"]
    for layer in r.layer_order:
        if layer in r.single:
            per_pair[layer] = {p: _single_pair_kappa(r, layer, *p) for p in pairs}
            layers_out[layer] = _single_layer(r, layer, active, bootstrap, seed, per_pair[layer],
                                              _scale_of(r, layer))
        elif layer in r.multi:
            per_pair[layer] = _multi_all_pair_kappas(r, layer, pairs)
            layers_out[layer] = _multi_layer(r, layer, active, bootstrap, seed, per_pair[layer])
        elif layer in r.span:
            layers_out[layer], per_pair[layer] = _span_layer(r, layer, active, gamma_samples,
                                                             seed)

    for a, b in pairs:
        both = r.rated[:, a] & r.rated[:, b]
        n_both = int(both.sum())
        pair = _Obj(a=r.annotators[a], b=r.annotators[b], units=n_both)
        layers: dict = {}
        summary: list[float | None] = []
        for layer in r.layer_order:
            lay_both = r.layer_rated(layer)[:, a] & r.layer_rated(layer)[:, b] if (
                layer in r.single or layer in r.multi) else both
            n_lay = int(lay_both.sum())  # units both rated on this layer
            if layer in r.single:
                o = _Obj(units=n_lay)
                o.put("cohen_kappa", per_pair[layer][(a, b)])
                if _scale_of(r, layer) != "nominal":
                    o.put("cohen_kappa_weighted", _weighted_pair_kappa(r, layer, a, b))
                layers[layer] = o
                summary.append(o["cohen_kappa"])
            elif layer in r.multi:
                kappas = per_pair[layer][(a, b)]
                o = _Obj(units=n_lay)
                per = {}
                for li, label in enumerate(r.multi[layer].labels):
                    per[label] = _Obj()
                    per[label].put("cohen_kappa", kappas[li], _kappa_reason(n_lay))
                o["labels"] = per
                o.put(
                    "cohen_kappa",
                    _mean([x["cohen_kappa"] for x in per.values()]),
                    _kappa_reason(n_lay),
                )
                layers[layer] = o
                summary.append(o["cohen_kappa"])
            elif layer in r.span:
                layers[layer] = per_pair[layer][(a, b)]
        pair["layers"] = layers
        why = (
            "no unit rated by both annotators"
            if n_both == 0
            else "undefined in every paragraph layer"
        )
        pair.put("cohen_kappa", _mean(summary), why if summary else "no paragraph layers")
        report["pairs"].append(pair)
    mark_pair_overlap(report)  # units each pair shares: too few for a kappa is a warning
    return _plain(report)


def _plain(x: object) -> object:
    """Deep-convert to plain JSON types (the _Obj helper and numpy scalars disappear)."""
    if isinstance(x, dict):
        # "reasons" last: the values read first, their explanations after
        out = {str(k): _plain(v) for k, v in x.items() if k != "reasons"}
        if "reasons" in x:
            out["reasons"] = _plain(x["reasons"])
        return out
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return as_float(x)
    return x


# ---------------------------------------------------------------- per-unit field


# Per schema: (kind of each paragraph layer, rank of each label in schema order).
# unit_agreement runs once per exported unit; building these each time was a third of
# its cost.
_RANKS: dict[int, tuple[object, dict[str, str], dict[str, dict[str, int]]]] = {}
_EMPTY: dict = {}


def _layer_ranks(schema: LabelSchema | None
                 ) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    if schema is None:
        return {}, {}
    hit = _RANKS.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = (schema, {lay.id: lay.kind for lay in schema.paragraph_layers},
               {lay.id: {lab.id: i for i, lab in enumerate(lay.labels)}
                for lay in schema.paragraph_layers})
        if len(_RANKS) > 16:
            _RANKS.clear()
        _RANKS[id(schema)] = hit
    return hit[1], hit[2]


def unit_agreement(annotations: list[dict], schema: LabelSchema | None = None) -> dict:
    """The export record's `agreement` field for one unit.

    {"annotators": n, "labels": {layer: {label: share}}}: for multi layers, per label any
    annotator used, the share of annotators on the majority side of on/off (labels nobody
    used are left out: everyone agrees they are off); for single layers, one entry keyed
    by the majority choice ("(none)" when that is no label) with its share. Only
    annotations marked done count. Shares are rounded to 4 decimals.
    """
    done = [a for a in annotations if a.get("status", "done") == "done"]
    n_done = len(done)
    out: dict = {"annotators": n_done, "labels": {}}
    if n_done == 0:
        return out
    # Runs once per exported unit (a million at a time): plain dicts, no Counter, and
    # the `deciding` filter only when some annotation tracks decided layers.
    kinds, ranks = _layer_ranks(schema)
    labels_of = [ann.get("labels") or _EMPTY for ann in done]
    extra = None
    for stored in labels_of:
        for layer, value in stored.items():
            if layer not in kinds and (extra is None or layer not in extra) and (
                    schema is None or schema.layer(layer) is None):
                if extra is None:
                    extra = dict(kinds)
                extra[layer] = "multi" if isinstance(value, list) else "single"
    tracked = any(isinstance(ann.get("decided"), list) for ann in done)
    result = out["labels"]
    for layer, kind in (extra or kinds).items():
        if tracked:
            values = [stored.get(layer) for ann, stored in zip(done, labels_of, strict=True)
                      if not isinstance(ann.get("decided"), list) or layer in ann["decided"]]
            if not values:
                continue
        else:
            values = [stored.get(layer) for stored in labels_of]
        n = len(values)
        rank = ranks.get(layer, _EMPTY)
        if kind == "multi":
            on: dict[str, int] = {}
            for v in values:
                if v is None:
                    continue
                if not isinstance(v, list):
                    v = [v]
                for lab in (set(map(str, v)) if len(v) > 1 else map(str, v)):
                    on[lab] = on.get(lab, 0) + 1
            if len(on) > 1:
                size = len(rank)
                ordered = sorted(on, key=lambda lab: (rank.get(lab, size), lab))
            else:
                ordered = list(on)
            result[layer] = {lab: round(max(on[lab], n - on[lab]) / n, 4) for lab in ordered}
        else:
            picks: dict[str | None, int] = {}
            for v in values:
                if isinstance(v, list):
                    v = v[0] if v else None
                key = None if v is None else str(v)
                picks[key] = picks.get(key, 0) + 1
            # ties: a label before "none", then schema order, then alphabetical
            size = len(rank)
            best = min(picks, key=lambda lab: (-picks[lab], lab is None,
                                               rank.get(lab, size), str(lab))
                       ) if len(picks) > 1 else next(iter(picks))
            result[layer] = {NONE_KEY if best is None else best: round(picks[best] / n, 4)}
    return out
