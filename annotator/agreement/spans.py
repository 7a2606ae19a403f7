"""Span-layer agreement: pairwise precision/recall/F1, unitized alpha, relations.

Unitized alpha is Krippendorff's alpha_U as defined in Krippendorff (1995) "On the
reliability of unitizing continuous data", Sociological Methodology 25:47-76, and
Krippendorff (2004) Content Analysis, 2nd ed., pp. 251-256 (worked example p. 254):
per category c each observer's continuum is cut into c-units and gaps,

  Do(c) = sum_{i != j} sum_g sum_h delta^2(g, h) / (m (m-1) L^2)
  delta^2 = (b_g-b_h)^2 + (e_g-e_h)^2   for two overlapping c-units,
          = l^2                        for a c-unit lying inside the other's gap,
          = 0                          otherwise;
  De(c) = (2/L) sum_{c-units u} [(N_c-1)(2l^3-3l^2+l)/3 + l^2 sum_{gaps h, l_h >= l}(l_h-l+1)]
          / (mL(mL-1) - sum_{c-units} l(l-1));
  alpha_U = 1 - sum_c Do(c) / sum_c De(c),  and per category 1 - Do(c)/De(c).

Krippendorff's later unitizing coefficients (2016, 2019: u-alpha, |u-alpha, cu-alpha)
are different, coincidence-based quantities; values are not interchangeable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations

import numpy as np

from .coefficients import Estimate

UNITIZED_ALPHA_DEFINITION = (
    "Krippendorff's alpha_U for unitizing (Krippendorff 1995, Sociological Methodology "
    "25:47-76; Krippendorff 2004, Content Analysis 2nd ed., pp. 251-256): distance-based, "
    "per label over the concatenated texts of the units every annotator marked done, each "
    "unit a separate stretch of len(text) code points (gaps never cross units); an "
    "annotator's overlapping spans of one label are merged first. Not the 2016/2019 "
    "coincidence-based u-alpha family."
)


# ---------------------------------------------------------------- unitized alpha core


def _merge(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort intervals and merge overlapping ones (touching ones stay separate units)."""
    keep = end > start
    start, end = start[keep], end[keep]
    if len(start) == 0:
        return start, end
    order = np.lexsort((end, start))
    start, end = start[order], end[order]
    reach = np.maximum.accumulate(end)
    new = np.ones(len(start), bool)
    new[1:] = start[1:] >= reach[:-1]
    first = np.flatnonzero(new)
    return start[first], np.maximum.reduceat(end, first)


def _gaps(
    start: np.ndarray, end: np.ndarray, sec_start: np.ndarray, sec_end: np.ndarray
) -> np.ndarray:
    """Lengths of one observer's gaps: the complement of its units within each section."""
    sec = np.searchsorted(sec_start, start, side="right") - 1
    prev_end = sec_start[sec].copy()
    same = np.zeros(len(start), bool)
    same[1:] = sec[1:] == sec[:-1]
    prev_end[same] = end[np.flatnonzero(same) - 1]
    before = start - prev_end
    last_end = sec_start.copy()
    if len(start):
        is_last = np.ones(len(start), bool)
        is_last[:-1] = sec[1:] != sec[:-1]
        last_end[sec[is_last]] = end[is_last]
    after = sec_end - last_end
    g = np.concatenate([before, after])
    return g[g > 0]


def _pair_disagreement(si: np.ndarray, ei: np.ndarray, sj: np.ndarray, ej: np.ndarray) -> float:
    """sum_g sum_h delta^2 for observer i against j, plus j against i (both orders)."""
    lo = np.searchsorted(ej, si, side="right")  # first j-unit ending after g starts
    hi = np.searchsorted(sj, ei, side="left")  # j-units starting before g ends
    n = np.maximum(hi - lo, 0)
    g = np.repeat(np.arange(len(si)), n)
    h = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    both = float(((si[g] - sj[h]) ** 2 + (ei[g] - ej[h]) ** 2).sum())
    lone_i = n == 0
    hit_j = np.zeros(len(sj), bool)
    hit_j[h] = True
    lone = float(((ei - si)[lone_i] ** 2).sum() + ((ej - sj)[~hit_j] ** 2).sum())
    return 2.0 * (both + lone)


def _category_do_de(
    observers: Sequence[tuple[np.ndarray, np.ndarray]],
    sec_start: np.ndarray,
    sec_end: np.ndarray,
) -> tuple[float, float]:
    """Do(c), De(c) for one category; observers give merged, sorted (start, end) arrays."""
    m = len(observers)
    L = float((sec_end - sec_start).sum())
    obs = [(s.astype(np.float64), e.astype(np.float64)) for s, e in observers]
    total = 0.0
    for i, j in combinations(range(m), 2):
        total += _pair_disagreement(obs[i][0], obs[i][1], obs[j][0], obs[j][1])
    do = total / (m * (m - 1) * L * L)
    lengths = np.concatenate([e - s for s, e in obs]) if obs else np.zeros(0)
    if len(lengths) == 0:
        return do, 0.0
    gaps = np.sort(
        np.concatenate([_gaps(s, e, sec_start, sec_end) for s, e in observers]).astype(np.float64)
    )
    # sum over gaps with l_h >= l of (l_h - l + 1), via suffix sums over sorted gaps
    suffix = np.concatenate([np.cumsum((gaps + 1)[::-1])[::-1], [0.0]])
    k = np.searchsorted(gaps, lengths, side="left")
    gap_term = suffix[k] - lengths * (len(gaps) - k)
    n_c = len(lengths)
    ln = lengths
    num = ((n_c - 1) * (2 * ln**3 - 3 * ln**2 + ln) / 3 + ln**2 * gap_term).sum()
    den = m * L * (m * L - 1) - (ln * (ln - 1)).sum()
    de = 2.0 / L * num / den if den > 0 else 0.0
    return do, de


def unitized_alpha_sections(
    observers: Sequence[Sequence[tuple[int, int, str]]],
    sections: Sequence[tuple[int, int]],
    categories: Sequence[str] | None = None,
) -> dict:
    """alpha_U over a continuum made of sections [(start, end), ...] (gaps stop at section ends).

    observers: per observer, its units as (start, end, category) with end exclusive, in
    the same coordinates as the sections. Returns {"alpha": Estimate, "categories":
    {c: {"Do", "De", "alpha": Estimate}}}.
    """
    m = len(observers)
    sec = sorted((int(s), int(e)) for s, e in sections if e > s)
    sec_start = np.array([s for s, _ in sec], np.int64)
    sec_end = np.array([e for _, e in sec], np.int64)
    if categories is None:
        categories = sorted({c for units in observers for _, _, c in units})
    out: dict = {"categories": {}}
    if m < 2:
        out["alpha"] = Estimate(None, "fewer than two annotators")
        for c in categories:
            out["categories"][c] = {"Do": None, "De": None, "alpha": out["alpha"]}
        return out
    if len(sec) == 0:
        out["alpha"] = Estimate(None, "no text to unitize")
        for c in categories:
            out["categories"][c] = {"Do": None, "De": None, "alpha": out["alpha"]}
        return out
    sum_do = sum_de = 0.0
    for c in categories:
        per_obs = []
        for units in observers:
            s = np.array([u[0] for u in units if u[2] == c], np.int64)
            e = np.array([u[1] for u in units if u[2] == c], np.int64)
            per_obs.append(_merge(s, e))
        do, de = _category_do_de(per_obs, sec_start, sec_end)
        sum_do += do
        sum_de += de
        est = Estimate(None, "no spans of this label") if de <= 0 else Estimate(1.0 - do / de)
        out["categories"][c] = {"Do": float(do), "De": float(de), "alpha": est}
    if sum_de <= 0:
        out["alpha"] = Estimate(None, "no spans in this layer")
    else:
        out["alpha"] = Estimate(float(1.0 - sum_do / sum_de))
    return out


def unitized_alpha(
    observers: Sequence[Sequence[tuple[int, int, str]]],
    length: int,
    begin: int = 0,
    categories: Sequence[str] | None = None,
) -> dict:
    """alpha_U on one continuum [begin, begin + length) (Krippendorff 1995/2004)."""
    return unitized_alpha_sections(observers, [(begin, begin + length)], categories)


# ---------------------------------------------------------------- pairwise matching


def _overlap(s1: int, e1: int, s2: int, e2: int) -> int:
    return min(e1, e2) - max(s1, s2)


def greedy_overlap_matches(
    a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """One-to-one matching of overlapping intervals, largest overlap first (ties: by index)."""
    cand = []
    for i, (sa, ea) in enumerate(a):
        for j, (sb, eb) in enumerate(b):
            ov = _overlap(sa, ea, sb, eb)
            if ov > 0:
                cand.append((-ov, i, j))
    return _greedy(cand)


def _greedy(cand: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Candidate pairs (-score, i, j) taken best first (ties: by index), each i and j once."""
    cand.sort()
    used_a, used_b, out = set(), set(), []
    for _, i, j in cand:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((i, j))
    return out


def prf(matched: int, n_a: int, n_b: int) -> dict[str, float | None]:
    """Precision of a against b, recall, F1 (symmetric); None where 0/0."""
    return {
        "precision": matched / n_a if n_a else None,
        "recall": matched / n_b if n_b else None,
        "f1": 2 * matched / (n_a + n_b) if n_a + n_b else None,
    }


def pair_span_counts(
    spans_a: Sequence[tuple[int, int, int, int]],
    spans_b: Sequence[tuple[int, int, int, int]],
) -> dict[int, dict[str, int]]:
    """Per label: counts for exact and overlap matching between two annotators.

    Spans are (unit, label, start, end). Returns {label: {"a", "b", "exact", "overlap"}}.
    """
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"a": 0, "b": 0, "exact": 0, "overlap": 0})
    ca, cb = Counter(spans_a), Counter(spans_b)
    for key, n in ca.items():
        out[key[1]]["a"] += n
        out[key[1]]["exact"] += min(n, cb.get(key, 0))
    for key, n in cb.items():
        out[key[1]]["b"] += n
    ga: dict[tuple[int, int], list] = defaultdict(list)
    gb: dict[tuple[int, int], list] = defaultdict(list)
    for u, lab, s, e in spans_a:
        ga[(u, lab)].append((s, e))
    for u, lab, s, e in spans_b:
        gb[(u, lab)].append((s, e))
    for key, items in ga.items():
        if key in gb:
            out[key[1]]["overlap"] += len(greedy_overlap_matches(sorted(items), sorted(gb[key])))
    return dict(out)


def pair_relation_counts(
    rels_a: Sequence[tuple[int, int, tuple, tuple]],
    rels_b: Sequence[tuple[int, int, tuple, tuple]],
) -> dict[int, dict[str, int]]:
    """Per relation label: {"a", "b", "matched"}; relations are (unit, label, src, dst).

    src/dst are (layer, span label, start, end). A relation of a matches one of b when
    the label is equal and both endpoints are spans of the same layer and label that
    overlap; matching is one-to-one, largest total overlap first.
    """
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"a": 0, "b": 0, "matched": 0})
    ga: dict[tuple[int, int], list] = defaultdict(list)
    gb: dict[tuple[int, int], list] = defaultdict(list)
    for u, lab, src, dst in rels_a:
        out[lab]["a"] += 1
        ga[(u, lab)].append((src, dst))
    for u, lab, src, dst in rels_b:
        out[lab]["b"] += 1
        gb[(u, lab)].append((src, dst))

    def ov(x: tuple, y: tuple) -> int:
        if x[:2] != y[:2]:
            return 0
        return max(0, _overlap(x[2], x[3], y[2], y[3]))

    for key, items in ga.items():
        cand = []
        for i, (s1, d1) in enumerate(items):
            for j, (s2, d2) in enumerate(gb.get(key, ())):
                o1, o2 = ov(s1, s2), ov(d1, d2)
                if o1 > 0 and o2 > 0:
                    cand.append((-(o1 + o2), i, j))
        out[key[1]]["matched"] += len(_greedy(cand))
    return dict(out)
