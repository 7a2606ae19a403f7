"""Mathet, Widlöcher & Métivier's gamma for one span layer (Computational Linguistics
41(3):437-479, 2015), with the definitions of pygamma-agreement (Titeux & Riad 2021,
JOSS 6(62):2989), which the tests compare with.

Dissimilarity of two spans u, v of different annotators (pygamma's
CombinedCategoricalDissimilarity with its defaults alpha = beta = delta_empty = 1):

  d(u, v)  = alpha * d_pos * delta + beta * d_cat * delta,
  d_pos    = ((|s_u - s_v| + |e_u - e_v|) / ((e_u - s_u) + (e_v - s_v)))^2,
  d_cat    = 0 for the same label, 1 otherwise,

and delta (delta_empty) for any pair in which one side is the empty unit. A unitary
alignment holds at most one span per annotator (the others are empty); its disorder is
the mean of d over its C(n, 2) annotator pairs. An alignment partitions every span into
unitary alignments; its disorder is the sum of theirs divided by the mean number of spans
per annotator. The observed disorder is that of the best (least disorder) alignment;
gamma = 1 - observed / expected, the expected disorder being the mean best-alignment
disorder of random continua (Monte-Carlo, below).

Best alignment, exactly. Removing a span u from a unitary alignment of k spans and
leaving it alone changes the summed pairwise disorder by (k - 1 + C(n, 2)) * delta -
sum_w d(u, w): so in every best alignment each span's dissimilarities to its partners
sum to at most (k - 1 + C(n, 2)) * delta, and any two spans aligned together have
d <= (n - 1 + C(n, 2)) * delta =: B. Since d >= alpha * delta * d_pos, two spans can only
be aligned when d_pos <= B / (alpha * delta); for disjoint spans that means their gap is
at most c * (l_u + l_v) with c = (sqrt(B / (alpha * delta)) - 1) / 2, i.e. the spans
widened by c times their length on each side overlap. A sweep over the widened spans
finds every candidate pair. Every admissible unitary alignment (a clique of the pairs
with d <= B, one span per annotator, strictly better than leaving any member alone and
than all singletons; ties are matched by smaller groups) is listed, and one dynamic
programme along the text (spans in section, then start order) finds the exact set
partition of least disorder: it always covers the first uncovered span, so a state is
that span and the set of spans after it already covered. The states grow exponentially
with how far ahead a span's possible partners lie (dozens of spans piled on one stretch
are slow); nothing is approximated.

Expected disorder: pygamma's default StatisticalContinuumSampler, re-implemented with a
seeded numpy Generator: for each of the n annotators, a number of spans drawn from the
normal distribution of the per-annotator counts (abs, truncated to an integer, at least
one span in the sample), gaps between consecutive spans from the normal distribution of
the observed gaps (an annotator's consecutive spans, and the first span's start), lengths
from |normal| of the observed lengths, labels from the observed label shares. The
estimate is the mean over `samples` random continua; its standard error is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

DEFAULT_SAMPLES = 30
GAMMA_DEFINITION = (
    "Mathet, Widlöcher & Métivier's gamma (Computational Linguistics 41(3), 2015) as in "
    "pygamma-agreement (Titeux & Riad 2021): combined dissimilarity alpha*d_pos + "
    "beta*d_cat with alpha = beta = delta_empty = 1; exact best alignment, each unit its "
    "own continuum; expected disorder the mean over gamma_samples random continua of "
    "pygamma's statistical sampler (seeded by gamma_seed), the units laid end to end; "
    "over the units every annotator marked done, spans of length zero left out."
)


@dataclass(frozen=True)
class Dissimilarity:
    """pygamma-agreement's CombinedCategoricalDissimilarity (absolute categorical part)."""

    alpha: float = 1.0
    beta: float = 1.0
    delta_empty: float = 1.0

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta >= 0 and self.delta_empty > 0):
            raise ValueError("gamma needs alpha > 0, beta >= 0 and delta_empty > 0")

    def pairs(self, s1: np.ndarray, e1: np.ndarray, c1: np.ndarray,
              s2: np.ndarray, e2: np.ndarray, c2: np.ndarray) -> np.ndarray:
        """d for aligned arrays of span pairs (float64)."""
        pos = (np.abs(s1 - s2) + np.abs(e1 - e2)) / ((e1 - s1) + (e2 - s2))
        return self.delta_empty * (self.alpha * pos * pos + self.beta * (c1 != c2))


@dataclass
class Alignment:
    """The best alignment of a continuum.

    `groups`: the unitary alignments as tuples of span indices (singletons included);
    `disorder`: its disorder."""

    disorder: float
    groups: list[tuple[int, ...]]


@dataclass
class GammaResult:
    gamma: float | None
    reason: str | None
    observed_disorder: float | None = None
    expected_disorder: float | None = None
    expected_disorder_se: float | None = None
    samples: int = 0
    seed: int = 0
    spans: int = 0
    annotators: int = 0
    alignment: Alignment | None = field(default=None, repr=False)


# ---------------------------------------------------------------- candidate pairs


def _candidate_pairs(annot: np.ndarray, start: np.ndarray, end: np.ndarray,
                     section: np.ndarray, widen: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i < j) of spans of different annotators in the same section whose spans,
    widened by `widen` times their length on each side, overlap."""
    n = len(start)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    length = end - start
    xs = start - widen * length
    xe = end + widen * length
    lo = float(min(xs.min(), 0.0))
    span = float(xe.max() - lo) + 1.0
    key_s = section * span + (xs - lo)
    key_e = section * span + (xe - lo)
    order = np.argsort(key_s, kind="stable")
    ks = key_s[order]
    # j after i in start order overlaps i iff it starts before i ends
    hi = np.searchsorted(ks, key_e[order], side="left")
    cnt = np.maximum(hi - np.arange(n) - 1, 0)
    total = int(cnt.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ii = np.repeat(np.arange(n), cnt)
    jj = ii + 1 + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    a, b = order[ii], order[jj]
    keep = annot[a] != annot[b]
    a, b = a[keep], b[keep]
    return np.minimum(a, b), np.maximum(a, b)


# ---------------------------------------------------------------- exact set partition


def _candidate_groups(annot: np.ndarray, a: np.ndarray, b: np.ndarray, d: np.ndarray,
                      n_spans: int, n_annot: int, delta: float
                      ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every admissible unitary alignment of two or more spans, by size: cliques of the
    candidate graph with one span per annotator whose every member passes the bound of
    the module doc. Returns per size k >= 2 (members (rows, k) ascending, cost (rows,))."""
    c2n = n_annot * (n_annot - 1) // 2
    # the edge set as sorted keys i * n + j (i < j) for adjacency look-ups
    key = a * n_spans + b
    order = np.argsort(key)
    key, dk = key[order], d[order]

    def look(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.minimum(x, y) * n_spans + np.maximum(x, y)
        pos = np.minimum(np.searchsorted(key, q), max(len(key) - 1, 0))
        ok = key[pos] == q if len(key) else np.zeros(len(q), bool)
        return ok, np.where(ok, dk[pos] if len(key) else 0.0, 0.0)

    # neighbours with a larger index, CSR by the smaller end
    ea, eb = a[order], b[order]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(ea, minlength=n_spans))])
    groups, costs = [], []
    # size 2
    members = np.stack([ea, eb], axis=1)
    partial = dk.copy()  # sum of pairwise d inside the group
    per_member = np.stack([dk, dk], axis=1)  # each member's sum of d to the others
    k = 2
    reach = (n_annot - 1 + c2n) * delta * (1 + 1e-12)  # B: no superset past it
    while len(members):
        grow = (per_member <= reach).all(axis=1)
        members, partial, per_member = members[grow], partial[grow], per_member[grow]
        if not len(members):
            break
        cost = (partial + (c2n - k * (k - 1) // 2) * delta) / c2n
        # worth listing only when strictly better than leaving any member alone and than
        # all singletons (a tie is matched by smaller groups, so dropping it is exact)
        keep = ((per_member < (k - 1 + c2n) * delta * (1 - 1e-12)).all(axis=1)
                & (cost < k * delta * (1 - 1e-12)))
        groups.append(members[keep])
        costs.append(cost[keep])
        if k == n_annot:
            break
        # extend by a neighbour of the last member with a larger index, adjacent to all
        last = members[:, -1]
        cnt = ptr[last + 1] - ptr[last]
        rows = np.repeat(np.arange(len(members)), cnt)
        offs = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        e_idx = np.repeat(ptr[last], cnt) + offs
        v = eb[e_idx]
        keep = np.ones(len(v), bool)
        add_sum = dk[e_idx].copy()
        dv = [None] * k
        dv[k - 1] = dk[e_idx]
        for col in range(k - 1):
            ok2, dd = look(members[rows, col], v)
            keep &= ok2
            dv[col] = dd
            add_sum += dd
        for col in range(k):
            keep &= annot[members[rows, col]] != annot[v]
        rows, v, add_sum = rows[keep], v[keep], add_sum[keep]
        dv = [x[keep] for x in dv]
        members = np.concatenate([members[rows], v[:, None]], axis=1)
        partial = partial[rows] + add_sum
        per_member = np.concatenate(
            [per_member[rows] + np.stack(dv, axis=1), add_sum[:, None]], axis=1)
        k += 1
    return groups, costs


def _solve_line(ptr: list[int], rel: list[int], cost: list[float], n: int
                ) -> tuple[float, list[int]]:
    """Least-disorder exact cover of spans 0..n-1 (sorted by section, then start) by the
    candidate unitary alignments; candidate g, whose lowest span is f (ptr[f] <= g <
    ptr[f + 1]), covers the spans f + j for the bits j of rel[g].

    Dynamic programming that always covers the first uncovered span f: a state is (f,
    bits of the spans after f already covered), few per span for spans along a text."""
    # every move goes from f to a larger f: one forward pass in order of f relaxes
    # each state's moves once (layers[f]: {covered-after-f bits: (cost, from, move)})
    layers: list[dict[int, tuple[float, int, int, int]]] = [{} for _ in range(n + 1)]
    layers[0][0] = (0.0, -1, 0, -1)
    for f in range(n):
        here = layers[f]
        if not here:
            continue
        lo, hi = ptr[f], ptr[f + 1]
        for r, (c0, _, _, _) in here.items():
            for g in range(lo, hi):
                rm = rel[g]
                if rm & r:
                    continue
                new = r | rm
                t = (~new & (new + 1)).bit_length() - 1  # spans covered from f on
                there = layers[f + t]
                key = new >> t
                v = c0 + cost[g]
                old = there.get(key)
                if old is None or v < old[0]:
                    there[key] = (v, f, r, g)
    chosen, f, r = [], n, 0
    total = layers[n][0][0]
    while f > 0:
        _, f, r, g = layers[f][r]
        chosen.append(g)
    return total, chosen[::-1]


# ---------------------------------------------------------------- best alignment


def best_alignment(annotator: np.ndarray, start: np.ndarray, end: np.ndarray,
                   label: np.ndarray, n_annotators: int, section: np.ndarray | None = None,
                   dissim: Dissimilarity | None = None) -> Alignment:
    """The least-disorder alignment of spans (annotator index, [start, end), label code).

    `section`: the independent continuum of each span (a span is never aligned with one
    of another section); `n_annotators` counts annotators without spans too."""
    dissim = dissim or Dissimilarity()
    annotator = np.asarray(annotator, np.int64)
    start = np.asarray(start, np.float64)
    end = np.asarray(end, np.float64)
    label = np.asarray(label, np.int64)
    n = len(start)
    if np.any(end <= start):
        raise ValueError("gamma needs spans of positive length")
    section = np.zeros(n, np.int64) if section is None else np.asarray(section, np.int64)
    delta = dissim.delta_empty
    if n == 0:
        return Alignment(0.0, [])
    if n_annotators < 2:
        raise ValueError("gamma needs two or more annotators")
    c2n = n_annotators * (n_annotators - 1) // 2
    bound = (n_annotators - 1 + c2n) * delta
    widen = max(0.0, (math.sqrt(bound / (dissim.alpha * delta)) - 1.0) / 2.0) * (1 + 1e-9)
    a, b = _candidate_pairs(annotator, start, end, section, widen)
    if len(a):
        d = dissim.pairs(start[a], end[a], label[a], start[b], end[b], label[b])
        keep = d <= bound * (1 + 1e-12)
        a, b, d = a[keep], b[keep], d[keep]
    else:
        d = np.zeros(0)
    # spans in (section, start) order: rank[i] is span i's place on the line
    order = np.lexsort((end, start, section))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    ga, gc = _candidate_groups(annotator, a, b, d, n, n_annotators, delta)
    lows = [np.arange(n)]
    rels: list = [np.ones(n, np.int64)]
    costs = [np.full(n, delta)]
    members = [order[:, None]]  # the singleton at place j is the span order[j]
    for mem, cost in zip(ga, gc, strict=True):
        if not len(mem):
            continue
        r = rank[mem]
        low = r.min(axis=1)
        off = r - low[:, None]
        if off.max() < 62:
            rel = np.left_shift(np.int64(1), off).sum(axis=1)
        else:  # a group spread over more than 62 places: Python integers
            rel = np.left_shift(np.ones(off.shape, object), off.astype(object)).sum(axis=1)
        lows.append(low)
        rels.append(rel)
        costs.append(cost)
        members.append(mem)
    low = np.concatenate(lows)
    by = np.argsort(low, kind="stable")
    ptr = np.searchsorted(low[by], np.arange(n + 1)).tolist()
    rel_all = np.concatenate([x.astype(object) for x in rels])[by].tolist()
    cost_all = np.concatenate(costs)[by]
    total, chosen = _solve_line(ptr, [int(x) for x in rel_all], cost_all.tolist(), n)
    # back from candidate numbers to span indices
    sizes = np.concatenate([[0], np.cumsum([len(x) for x in members])])
    groups = []
    for g in by[chosen].tolist():
        k = int(np.searchsorted(sizes, g, side="right")) - 1
        groups.append(tuple(int(x) for x in members[k][g - sizes[k]]))
    return Alignment(total / (n / n_annotators), groups)


# ---------------------------------------------------------------- chance model


@dataclass(frozen=True)
class _Stats:
    """pygamma's StatisticalContinuumSampler parameters, from the observed continuum."""

    n_mean: float
    n_std: float
    gap_mean: float
    gap_std: float
    len_mean: float
    len_std: float
    label_p: np.ndarray


def _stats(annotator: np.ndarray, start: np.ndarray, end: np.ndarray, label: np.ndarray,
           n_annotators: int, n_labels: int) -> _Stats:
    counts = np.bincount(annotator, minlength=n_annotators)
    gaps = [0.0]  # pygamma seeds the list with 0 ("to prevent glitching continua")
    for k in range(n_annotators):
        sel = np.flatnonzero(annotator == k)
        if not len(sel):
            continue
        o = sel[np.lexsort((end[sel], start[sel]))]
        gaps.extend((start[o[1:]] - end[o[:-1]]).tolist())
        if start[o[0]] > 0:
            gaps.append(float(start[o[0]]))
    lengths = end - start
    p = np.bincount(label, minlength=n_labels).astype(np.float64)
    return _Stats(float(counts.mean()), float(counts.std()), float(np.mean(gaps)),
                  float(np.std(gaps)), float(lengths.mean()), float(lengths.std()), p / p.sum())


def _sample(st: _Stats, n_annotators: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One random continuum (pygamma's StatisticalContinuumSampler.sample_from_continuum)."""
    ann, ss, ee, lab = [], [], [], []
    have = False
    for k in range(n_annotators):
        m = abs(int(rng.normal(st.n_mean, st.n_std)))
        if not have:
            m = max(1, m)
        if m == 0:
            continue
        have = True
        gap = rng.normal(st.gap_mean, st.gap_std, m)
        length = np.abs(rng.normal(st.len_mean, st.len_std, m))
        short = length < 1e-6  # pygamma redraws lengths below pyannote's precision
        while short.any():
            length[short] = np.abs(rng.normal(st.len_mean, st.len_std, int(short.sum())))
            short = length < 1e-6
        ends = np.cumsum(gap + length)
        ann.append(np.full(m, k))
        ss.append(ends - length)
        ee.append(ends)
        lab.append(rng.choice(len(st.label_p), m, p=st.label_p))
    return (np.concatenate(ann), np.concatenate(ss), np.concatenate(ee), np.concatenate(lab))


# ---------------------------------------------------------------- gamma


def gamma(annotator: np.ndarray, start: np.ndarray, end: np.ndarray, label: np.ndarray,
          n_annotators: int, section: np.ndarray | None = None,
          section_length: np.ndarray | None = None, samples: int = DEFAULT_SAMPLES,
          seed: int = 0, dissim: Dissimilarity | None = None) -> GammaResult:
    """gamma over spans in sections (independent continua of the given lengths).

    The observed best alignment never crosses sections. The chance model sees the sections
    laid end to end as one continuum (its gap statistics then include the distance from
    one section's last span to the next section's first), so a corpus of many short units
    has one expected disorder, as the paper's corpus-level sampling has.
    """
    dissim = dissim or Dissimilarity()
    annotator = np.asarray(annotator, np.int64)
    start = np.asarray(start, np.float64)
    end = np.asarray(end, np.float64)
    label = np.asarray(label, np.int64)
    n = len(start)
    base = dict(samples=0, seed=seed, spans=n, annotators=n_annotators)
    if n_annotators < 2:
        return GammaResult(None, "fewer than two annotators", **base)
    if n == 0:
        return GammaResult(None, "no spans in this layer", **base)
    section = np.zeros(n, np.int64) if section is None else np.asarray(section, np.int64)
    obs = best_alignment(annotator, start, end, label, n_annotators, section, dissim)
    if section_length is not None:
        lens = np.asarray(section_length, np.float64)
        offset = np.concatenate([[0.0], np.cumsum(lens)[:-1]])
        flat_s, flat_e = start + offset[section], end + offset[section]
    else:
        flat_s, flat_e = start, end
    st = _stats(annotator, flat_s, flat_e, label, n_annotators, int(label.max()) + 1)
    rng = np.random.default_rng(seed)
    chance = []
    for _ in range(max(1, samples)):
        sa, ss, se, sl = _sample(st, n_annotators, rng)
        al = best_alignment(sa, ss, se, sl, n_annotators, None, dissim)
        chance.append(al.disorder)
    chance_arr = np.array(chance)
    expected = float(chance_arr.mean())
    se_ = float(chance_arr.std(ddof=1) / math.sqrt(len(chance_arr))) if len(chance_arr) > 1 else None
    base.update(samples=len(chance_arr), alignment=obs)
    if obs.disorder == 0:  # pygamma: gamma is 1 when nothing is out of place
        return GammaResult(1.0, None, 0.0, expected, se_, **base)
    if expected <= 0:
        return GammaResult(None, "expected disorder is zero", obs.disorder, expected, se_, **base)
    return GammaResult(1.0 - obs.disorder / expected, None, obs.disorder, expected, se_, **base)
