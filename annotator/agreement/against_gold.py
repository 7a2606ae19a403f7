"""Each annotator's agreement with the adjudicated gold (`agreement --against gold`).

Read from export records that carry `gold` (the store's export, or an export file):
for every annotator, over the units they marked done that have a gold,
- single layers: accuracy and Cohen's kappa over the layer's labels ("none" is a
  category, as in the main report), and per label the same for "label or not";
- multi layers: per label accuracy and Cohen's kappa of the binary on/off decision;
  for the layer, exact-match accuracy (the whole label set) and the labels' mean kappa;
- span layers: precision, recall and F1 against the gold with exact and with overlap
  matching (the report's `pair_span_counts`), per label and for the layer;
  relations: F1 (the report's `pair_relation_counts`).
The annotator is "a", the gold "b": precision is the share of the annotator's spans
found in the gold, recall the share of the gold's spans the annotator found.

95% intervals: percentile bootstrap over the units, seeded per (annotator, layer,
label, figure) like the main report, so they are reproducible and independent of
which other labels exist. Resamples are drawn as multinomial counts over the distinct
per-unit count rows (the same distribution as drawing units), so B resamples cost one
(B x rows) matrix product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..schema import LabelSchema
from ..textclean import clean_text
from .bootstrap import percentile_ci, rng_for
from .coefficients import Estimate, as_float, cohen_kappa_table
from .spans import pair_relation_counts, pair_span_counts, prf

_EPS = 1e-12


def _kappas(tables: np.ndarray) -> np.ndarray:
    """Cohen's kappa of many q x q tables [B, q, q] (NaN where undefined)."""
    n = tables.sum(axis=(1, 2))
    po = np.trace(tables, axis1=1, axis2=2) / np.where(n > 0, n, 1)
    pe = np.einsum("bi,bi->b", tables.sum(axis=2), tables.sum(axis=1)) / np.where(
        n > 0, n * n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (po - pe) / (1 - pe)
    return np.where((n > 0) & (1 - pe > _EPS), k, np.nan)


def _resample(rows: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """[B, k] column sums of `n_boot` bootstrap resamples of the rows (units)."""
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    n = int(counts.sum())
    picks = rng.multinomial(n, counts / n, size=n_boot).astype(np.float64)
    return picks @ uniq.astype(np.float64)


def _ci(rows: np.ndarray, stat: Callable[[np.ndarray], np.ndarray], n_boot: int,
        seed: int, *keys: str) -> tuple[list[float] | None, str | None]:
    if n_boot <= 0:
        return None, "bootstrap disabled (0 resamples)"
    if len(rows) == 0:
        return None, "no unit"
    ci = percentile_ci(stat(_resample(rows, n_boot, rng_for(seed, "gold", *keys))))
    if isinstance(ci, Estimate):
        return None, ci.reason
    return [float(ci[0]), float(ci[1])], None


class _Out(dict):
    """A JSON object whose null figures carry a reason under "reasons"."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self["reasons"] = {}

    def put(self, key: str, value: Any, reason: str | None = None) -> None:
        if isinstance(value, Estimate):
            value, reason = value.value, value.reason
        if isinstance(value, list):  # an interval
            self[key] = value
        else:
            value = as_float(value)
            self[key] = value
        if value is None:
            self["reasons"][key] = reason or "undefined"


def _nominal(out: _Out, codes_a: np.ndarray, codes_g: np.ndarray, q: int, n_boot: int,
             seed: int, *keys: str) -> None:
    """accuracy and Cohen's kappa (with intervals) of paired category codes."""
    cells = codes_a * q + codes_g
    n = len(cells)
    table = np.bincount(cells, minlength=q * q).reshape(q, q)
    out.put("accuracy", np.trace(table) / n if n else None, "no unit")
    out.put("cohen_kappa", cohen_kappa_table(table))
    rows = np.zeros((n, q * q), np.int64)
    rows[np.arange(n), cells] = 1
    diag = np.arange(q) * (q + 1)

    def acc(sums: np.ndarray) -> np.ndarray:
        return sums[:, diag].sum(axis=1) / sums.sum(axis=1)

    def kap(sums: np.ndarray) -> np.ndarray:
        return _kappas(sums.reshape(-1, q, q))

    for key, stat in (("accuracy_ci95", acc), ("kappa_ci95", kap)):
        ci, why = _ci(rows, stat, n_boot, seed, *keys, key)
        out.put(key, ci, why)


def _span_scores(out: _Out, per_unit: list[dict[int, dict[str, int]]], label: int | None,
                 n_boot: int, seed: int, *keys: str) -> None:
    """precision / recall / F1, exact and overlap, from per-unit pair_span_counts."""
    rows = np.array([[sum(c["a"] for lab, c in u.items() if label in (None, lab)),
                      sum(c["b"] for lab, c in u.items() if label in (None, lab)),
                      sum(c["exact"] for lab, c in u.items() if label in (None, lab)),
                      sum(c["overlap"] for lab, c in u.items() if label in (None, lab))]
                     for u in per_unit], np.int64).reshape(-1, 4)
    a, b, exact, overlap = (int(x) for x in rows.sum(axis=0)) if len(rows) else (0, 0, 0, 0)
    out["spans"], out["gold_spans"] = a, b
    for name, m, col in (("exact", exact, 2), ("overlap", overlap, 3)):
        s = prf(m, a, b)
        out.put(f"precision_{name}", s["precision"], "the annotator marked no span")
        out.put(f"recall_{name}", s["recall"], "the gold has no span")
        out.put(f"f1_{name}", s["f1"], "neither has a span")

        def f1(sums: np.ndarray, col: int = col) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return 2 * sums[:, col] / (sums[:, 0] + sums[:, 1])

        ci, why = _ci(rows, f1, n_boot, seed, *keys, f"f1_{name}")
        out.put(f"f1_{name}_ci95", ci, why)


def _relation_scores(out: _Out, per_unit: list[dict[int, dict[str, int]]], label: int | None,
                     n_boot: int, seed: int, *keys: str) -> None:
    rows = np.array([[sum(c[k] for lab, c in u.items() if label in (None, lab))
                      for k in ("a", "b", "matched")] for u in per_unit],
                    np.int64).reshape(-1, 3)
    a, b, m = (int(x) for x in rows.sum(axis=0)) if len(rows) else (0, 0, 0)
    s = prf(m, a, b)
    out["relations"], out["gold_relations"] = a, b
    out.put("precision", s["precision"], "the annotator made no relation")
    out.put("recall", s["recall"], "the gold has no relation")
    out.put("f1", s["f1"], "neither has a relation")

    def f1(sums: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2 * sums[:, 2] / (sums[:, 0] + sums[:, 1])

    ci, why = _ci(rows, f1, n_boot, seed, *keys, "f1")
    out.put("f1_ci95", ci, why)


def _labels_of(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value] if value else []


def _single(value: Any) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def against_gold(records: Iterable[dict], schema: LabelSchema, bootstrap: int = 1000,
                 seed: int = 0) -> dict:
    """The `against_gold` section of the agreement report, from export records."""
    pairs: dict[str, list[tuple[int, dict, dict]]] = {}  # annotator -> (unit, ann, gold)
    n_gold = 0
    for u, rec in enumerate(r for r in records if r.get("gold")):
        n_gold += 1
        for ann in rec.get("annotations") or ():
            if ann.get("status", "done") == "done" and ann.get("annotator") != "gold":
                pairs.setdefault(str(ann["annotator"]), []).append((u, ann, rec["gold"]))
    out: dict[str, Any] = {"gold_units": n_gold, "annotators": {}}
    for name in sorted(pairs):
        items = pairs[name]
        per: dict[str, Any] = {"units": len(items), "layers": {}}
        for layer in schema.layers:
            o = _Out(kind=layer.kind, units=len(items))
            labels = [lab.id for lab in layer.labels]
            if layer.kind == "single":
                cats: list[str | None] = [*labels, None]
                extra = sorted({v for _, a, g in items for v in (
                    _single(a["labels"].get(layer.id)), _single(g["labels"].get(layer.id)))
                    if v is not None and v not in labels})
                cats[-1:-1] = extra
                index = {c: i for i, c in enumerate(cats)}
                ca = np.array([index[_single(a["labels"].get(layer.id))] for _, a, _ in items],
                              np.int64)
                cg = np.array([index[_single(g["labels"].get(layer.id))] for _, _, g in items],
                              np.int64)
                _nominal(o, ca, cg, len(cats), bootstrap, seed, name, layer.id)
                o["labels"] = {}
                for c in [*labels, *extra]:
                    lo = _Out()
                    _nominal(lo, (ca == index[c]).astype(np.int64),
                             (cg == index[c]).astype(np.int64), 2, bootstrap, seed, name,
                             layer.id, c)
                    o["labels"][c] = lo
            elif layer.kind == "multi":
                sets_a = [set(_labels_of(a["labels"].get(layer.id))) for _, a, _ in items]
                sets_g = [set(_labels_of(g["labels"].get(layer.id))) for _, _, g in items]
                extra = sorted(set().union(*sets_a, *sets_g) - set(labels))
                eq = np.array([x == y for x, y in zip(sets_a, sets_g, strict=True)], np.int64)
                o.put("exact_match", eq.mean() if len(eq) else None, "no unit")
                # rows (match, 1): a resample's share is its first sum over its second
                ci, why = _ci(np.stack([eq, np.ones_like(eq)], axis=1),
                              lambda s: s[:, 0] / s[:, 1], bootstrap, seed, name, layer.id,
                              "exact_match")
                o.put("exact_match_ci95", ci, why)
                o["labels"] = {}
                for c in [*labels, *extra]:
                    lo = _Out()
                    _nominal(lo, np.array([c in x for x in sets_a], np.int64),
                             np.array([c in x for x in sets_g], np.int64), 2, bootstrap, seed,
                             name, layer.id, c)
                    o["labels"][c] = lo
                ks = [x["cohen_kappa"] for x in o["labels"].values()
                      if x["cohen_kappa"] is not None]
                o.put("macro_kappa", float(np.mean(ks)) if ks else None,
                      "kappa undefined for every label")
            else:
                span_units, rel_units = [], []
                lab_index = {c: i for i, c in enumerate(labels)}
                rel_index = {r.id: i for i, r in enumerate(layer.relations)}
                for _, a, g in items:
                    sa, ra = _span_rows(a, layer.id, lab_index, rel_index)
                    sg, rg = _span_rows(g, layer.id, lab_index, rel_index)
                    span_units.append(pair_span_counts(sa, sg))
                    rel_units.append(pair_relation_counts(ra, rg))
                _span_scores(o, span_units, None, bootstrap, seed, name, layer.id)
                o["labels"] = {}
                for c, i in lab_index.items():
                    lo = _Out()
                    _span_scores(lo, span_units, i, bootstrap, seed, name, layer.id, c)
                    o["labels"][c] = lo
                rel = _Out()
                _relation_scores(rel, rel_units, None, bootstrap, seed, name, layer.id,
                                 "relations")
                rel["labels"] = {}
                for r_id, i in rel_index.items():
                    lo = _Out()
                    _relation_scores(lo, rel_units, i, bootstrap, seed, name, layer.id,
                                     "relations", r_id)
                    rel["labels"][r_id] = lo
                o["relation_scores"] = rel
            per["layers"][layer.id] = o
        out["annotators"][name] = per
    return _plain(out)


def _span_rows(ann: dict, layer_id: str, lab_index: dict[str, int],
               rel_index: dict[str, int]) -> tuple[list[tuple], list[tuple]]:
    """(spans as (unit 0, label, start, end), relations as (0, label, src, dst)) of one
    annotation's layer, for pair_span_counts / pair_relation_counts (one unit)."""
    spans, ends = [], {}
    for s in ann.get("spans") or ():
        if s.get("layer") != layer_id:
            continue
        lab = lab_index.setdefault(s["label"], len(lab_index))
        spans.append((0, lab, int(s["start"]), int(s["end"])))
        ends[s["id"]] = (layer_id, lab, int(s["start"]), int(s["end"]))
    rels = []
    for r in ann.get("relations") or ():
        if r.get("from") in ends and r.get("to") in ends:
            rels.append((0, rel_index.setdefault(r["label"], len(rel_index)),
                         ends[r["from"]], ends[r["to"]]))
    return spans, rels


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_against_gold(section: dict) -> str:
    """The `against_gold` section as a plain table: one row per annotator and layer."""
    lines = [f"agreement with the gold ({section['gold_units']} adjudicated unit(s))",
             f"{'annotator':<16} {'layer':<16} {'units':>6}  figures"]
    for name, per in section["annotators"].items():
        for layer, o in per["layers"].items():
            if o["kind"] == "single":
                figs = f"accuracy {_fmt(o['accuracy'])}  kappa {_fmt(o['cohen_kappa'])}"
            elif o["kind"] == "multi":
                figs = (f"exact match {_fmt(o['exact_match'])}  mean kappa "
                        f"{_fmt(o['macro_kappa'])}")
            else:
                figs = (f"F1 exact {_fmt(o['f1_exact'])}  overlap {_fmt(o['f1_overlap'])}  "
                        f"relations {_fmt(o['relation_scores']['f1'])}")
            # names from an export file are untrusted: no controls reach the terminal
            lines.append(f"{clean_text(name)[:16]:<16} {clean_text(layer)[:16]:<16} "
                         f"{o['units']:>6}  {figs}")
    lines.append("(per label, and 95% bootstrap intervals: --json, under \"against_gold\")")
    return "\n".join(lines)
